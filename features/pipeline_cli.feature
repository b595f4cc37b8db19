@US8
Feature: The pipeline's command line
  As the ML engineer who runs the churn pipeline as a scheduled job
  I want to prepare data, train, register and promote with one command each
  So that the job does exactly what the team does by hand, and says clearly when it cannot

  Rule: Each command does its step and reports what it did

    @US8_1 @critical
    Scenario: Preparing churn data prints its cleaning report
      When the engineer prepares churn data from 1000 synthetic customers with seed 11 on the command line
      Then the command reports 1010 raw rows, 10 duplicates and 10 impossible rows dropped, leaving 990 customers

    @US8_1 @critical
    Scenario: Preparing churn data into a table writes it and validates it
      Given the catalog "ml" with the schema "churn" for model data
      And the volume "ml.churn.landing" where prepared files are staged
      When the engineer prepares churn data from 400 synthetic customers with seed 7 into the table "ml.churn.customers" on the command line
      Then the command reports 396 customers written to the table "ml.churn.customers" and validated there
      And the table "ml.churn.customers" holds exactly the prepared customers
      And the table "ml.churn.customers" has change data feed enabled

    @US8_1 @US8_2 @normal
    Scenario: Training from a table larger than one result chunk uses every customer
      Given the catalog "ml" with the schema "churn" for model data
      And the volume "ml.churn.landing" where prepared files are staged
      And churn data from 2100 synthetic customers with seed 7 is prepared into the table "ml.churn.customers"
      When the engineer trains the churn model from the table "ml.churn.customers" on the command line
      Then the training run learned from all 2079 customers of the table
      And the table "ml.churn.customers" takes more than one result chunk to read

  Rule: A command that cannot do its step says why and does nothing

    @US8_2 @normal
    Scenario Outline: Bad training options are refused before training
      When the engineer trains the churn model on the command line with <options>
      Then the command fails with "<problem>"
      And the command leaves no training run behind

      Examples:
        | options                                       | problem                                    |
        | the features "tenure_months, favourite_color" | unknown features ['favourite_color']       |
        | a regularization of 0                         | regularization must be positive, got 0.0   |

    @US8_1 @normal
    Scenario: Reading a table needs a SQL warehouse
      When the engineer trains the churn model from the table "ml.churn.customers" on the command line without naming a SQL warehouse
      Then the command fails with "--warehouse-id is required with --table"
      And the command leaves no training run behind

    @US8_1 @normal
    Scenario: Training from a table that does not exist names the missing table
      Given the catalog "ml" with the schema "churn" for model data
      When the engineer trains the churn model from the table "ml.churn.no_such_customers" on the command line
      Then the command fails with "TABLE_OR_VIEW_NOT_FOUND"
      And the command leaves no training run behind

    @US8_1 @normal
    Scenario: A table name that is not catalog.schema.table is refused
      When the engineer prepares churn data from 400 synthetic customers with seed 7 into the table "customers" on the command line
      Then the command fails with "is not a three-part Unity Catalog name (catalog.schema.table)"
