@US8
Feature: Data preparation
  As the data scientist who owns the churn model
  I want the training data generated, cleaned and checked the same way every time
  So that every model is trained on data we can reproduce and trust

  @US8_1 @critical
  Scenario: The same seed prepares exactly the same customers
    When churn data is prepared twice from 1000 synthetic customers with seed 11
    Then both preparations hold exactly the same customers
    And churn data prepared with seed 12 holds different customers

  @US8_1 @critical
  Scenario: Cleaning turns the raw export into typed, tidy customers
    Given a raw customer export of 1000 synthetic customers with seed 11
    When the export is cleaned and split with 25% of the customers held out for testing
    Then 10 duplicated rows and 10 customers with impossible ages are dropped, leaving 990 customers
    And no customer appears twice and every age is between 18 and 100
    And every contract is one of "month_to_month, one_year, two_year"
    And customers in their first month have total charges of 0
    And 25% of the customers are held out for testing, with the churn rate of the others

  @US8_1 @blocker
  Scenario: Validation refuses bad data and names every problem
    Given churn data prepared from 1000 synthetic customers with seed 11
    When the data is validated after 3 customers lose their age and 2 get monthly charges of -5
    Then validation fails naming "column 'age': 3 null values"
    And validation names "column 'monthly_charges': 2 values outside 10..200"
