@US4
Feature: Working across the app's services
  As an analyst
  I want to go from a table in Unity Catalog to scored customers and back to my history
  So that one app covers the whole path from data to predictions, for me alone

  Background:
    Given the catalog "crm" holds customers to score
    And the endpoint "churn-flow" serves the reference churn model

  @US4_1 @blocker
  Scenario: Browse, read rows, score them and find the call in the history
    Given Ana is a workspace user in the group "analysts"
    And Ana may read the catalog "crm"
    And Ana may use the SQL warehouse
    And Ana may query the endpoint "churn-flow"
    When Ana browses from her catalogs down to the table "crm.churn.customers"
    And Ana reads 8 rows of "crm.churn.customers" from offset 10
    And she scores those rows with the endpoint "churn-flow"
    Then she gets a churn prediction for each of those customers, in order
    And Ana's inference history shows that call with exactly those customers

  @US4_2 @critical
  Scenario: A saved page size changes how many rows a table shows
    Given the reference catalogs "sales" and "hr"
    And Ana is a workspace user in the group "analysts"
    And Ana may read the catalog "sales"
    And Ana may use the SQL warehouse
    And Ana has saved "catalog.page_size" as the number 25
    When Ana reads the table "sales.retail.orders"
    Then she gets rows 1 to 25 of "sales.retail.orders" and a total of 240

  @US4_2 @normal
  Scenario: Someone else's page size does not change mine, and an explicit page size wins
    Given the reference catalogs "sales" and "hr"
    And Ben is a workspace user in the group "analysts"
    And Ben has saved "catalog.page_size" as the number 5
    And Ana is a workspace user in the group "analysts"
    And Ana may read the catalog "sales"
    And Ana may use the SQL warehouse
    When Ana reads the table "sales.retail.orders"
    Then she gets rows 1 to 100 of "sales.retail.orders" and a total of 240
    Given Ana has saved "catalog.page_size" as the number 7
    When Ana reads 30 rows of "sales.retail.orders" from offset 0
    Then she gets rows 1 to 30 of "sales.retail.orders" and a total of 240

  @US4_2 @normal
  Scenario: A saved page size that is not a usable page size is ignored
    Given the reference catalogs "sales" and "hr"
    And Ana is a workspace user in the group "analysts"
    And Ana may read the catalog "sales"
    And Ana may use the SQL warehouse
    And Ana has saved "catalog.page_size" as the number 5000
    When Ana reads the table "sales.retail.orders"
    Then she gets rows 1 to 100 of "sales.retail.orders" and a total of 240

  @US4_2 @US5_1 @fault_injection @normal
  Scenario: While the database is down, tables still read with the standard page size
    Given the reference catalogs "sales" and "hr"
    And Ana is a workspace user in the group "analysts"
    And Ana may read the catalog "sales"
    And Ana may use the SQL warehouse
    And Ana has saved "catalog.page_size" as the number 25
    When the database goes down
    And Ana reads the table "sales.retail.orders"
    Then she gets rows 1 to 100 of "sales.retail.orders" and a total of 240

  @US4_2 @US1_6 @fault_injection @normal
  Scenario: Without Lakebase configured, tables read with the standard page size
    Given the reference catalogs "sales" and "hr"
    And Ana is a workspace user in the group "analysts"
    And Ana may read the catalog "sales"
    And Ana may use the SQL warehouse
    And Ana uses an app that has no Lakebase configured
    When Ana reads the table "sales.retail.orders"
    Then she gets rows 1 to 100 of "sales.retail.orders" and a total of 240

  @US4_3 @critical @fault_injection
  Scenario: Several analysts run the whole flow at once, each seeing only their own data
    Given 6 analysts who may read the catalog "crm"
    And those analysts may use the SQL warehouse
    And those analysts may query the endpoint "churn-flow"
    When they all run the whole flow at once on the endpoint "churn-flow", each with a page size of their own
    Then each of them read a page of their own size, scored it and finds only that call in their history
    And the same customers get the same predictions whoever scores them

  @US4_4 @critical
  Scenario: After many scoring calls the whole history is kept, and only mine
    Given Ana is a workspace user in the group "analysts"
    And Ben is a workspace user in the group "analysts"
    And Ana may query the endpoint "churn-flow"
    And Ben may query the endpoint "churn-flow"
    And Ben has sent 20 customers one at a time to the endpoint "churn-flow"
    And Ana has sent 250 customers several at a time to the endpoint "churn-flow"
    Then Ana's whole inference history holds each of her 250 calls once
    And Ben's whole inference history holds each of his 20 calls once
