@US8
Feature: Deploying the champion model
  As an ML engineer
  I want the pipeline to point a serving endpoint at the champion version
  So that users get predictions from the best model without anyone editing endpoints by hand

  Background:
    Given Ana is a workspace user in the group "analysts"

  @US8_5 @critical
  Scenario: Deploying creates the endpoint with the champion
    Given version 2 of the churn model is the champion
    When the pipeline deploys the champion of the churn model to the endpoint "churn-prod"
    And the workspace admin lets Ana query the endpoint "churn-prod"
    Then the deployment serves version 2 of the churn model
    And Ana's predictions from the endpoint "churn-prod" come from version 2, in the answer and in the history

  @US8_5 @critical
  Scenario: Deploying re-points an existing endpoint at a new champion
    Given the endpoint "churn-prod" serves version 1 of the churn model
    And Ana may query the endpoint "churn-prod"
    And Ana has scored customers 2 times with the endpoint "churn-prod"
    And version 2 of the churn model is the champion
    When the pipeline deploys the champion of the churn model to the endpoint "churn-prod"
    And the workspace admin lets Ana query the endpoint "churn-prod"
    Then the deployment serves version 2 of the churn model
    And Ana's predictions from the endpoint "churn-prod" come from version 2, in the answer and in the history
