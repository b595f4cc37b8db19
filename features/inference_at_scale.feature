@US3
Feature: Inference history and concurrency at scale
  As an analyst who scores customers all day
  I want every call kept and my history to page exactly, even when many calls run at once
  So that I can trust what the history tells me

  Background:
    Given Ana is a workspace user in the group "analysts"
    And the endpoint "churn" serves version 1 of the churn model
    And Ana may query the endpoint "churn"

  @US6_2 @critical
  Scenario: 500 logged calls page consistently for every limit and offset
    Given Ana has made 500 inference calls with the endpoint "churn"
    Then every page of her history, for every limit and offset, is the matching slice of the whole, newest first

  @US7_2 @critical
  Scenario: 60 inferences at once all succeed, correct and logged
    Given Ben is a workspace user
    And Ben may query the endpoint "churn"
    When 60 inferences run at once for Ana and Ben on the endpoint "churn"
    Then every call succeeds with the model's own predictions and is in its caller's history
