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

  @US8_1 @critical
  Scenario Outline: Validation refuses data that breaks any one rule
    Given churn data prepared from 1000 synthetic customers with seed 11
    When the data is validated after <damage>
    Then validation fails naming "<problem>"

    Examples:
      | damage                          | problem                                                      |
      | the column "customer_id" is dropped | missing columns: customer_id                             |
      | a column "email" is added       | unexpected columns: email                                    |
      | only 60 customers are kept      | 60 rows, at least 100 expected                               |
      | 4 customers are duplicated      | column 'customer_id': 4 duplicated ids                       |
      | every customer has churned      | column 'churned': only one class present, a model needs both |
      | 2 contracts read "lifetime"     | column 'contract': unknown values lifetime                   |

  @US8_1 @critical
  Scenario: Prepared customers are written to a Unity Catalog table with change data feed on
    Given the catalog "ml" with the schema "churn" for model data
    And the volume "ml.churn.landing" where prepared files are staged
    When churn data from 400 synthetic customers with seed 7 is prepared into the table "ml.churn.customers"
    Then the table "ml.churn.customers" holds exactly the prepared customers
    And the table "ml.churn.customers" has change data feed enabled
    And the table "ml.churn.customers" passes validation of its schema, row count and nulls

  @US8_1 @critical
  Scenario: A table made by hand fails validation, naming every problem
    Given the catalog "ml" with the schema "churn" for model data
    And the table "ml.churn.export" was made by hand from 40 prepared customers, with ages as text, emails instead of the train/test split and 2 regions left empty
    When the table "ml.churn.export" is validated
    Then validation fails naming "missing column 'split'"
    And validation names "column 'age' is STRING, expected INT"
    And validation names "unexpected column 'email'"
    And validation names "table property delta.enableChangeDataFeed is not true"
    And validation names "40 rows, at least 100 expected"
    And validation names "column 'region': 2 null values"

  @US8_6 @critical @large_data
  Scenario: A million customers reach the table as files in a volume and come back through external links
    Given the catalog "ml" with the schema "churn" for model data
    And the volume "ml.churn.landing" where prepared files are staged
    When churn data from 1000000 synthetic customers with seed 7 is prepared into the table "ml.churn.customers"
    Then the volume "ml.churn.landing" holds the 990000 prepared customers as Parquet files
    And the table "ml.churn.customers" holds exactly the prepared customers
    And the table "ml.churn.customers" comes back through more than one external link
    And the table "ml.churn.customers" has change data feed enabled
