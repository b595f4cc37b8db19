@US0
Feature: Identity
  As a user of the app inside my Databricks workspace
  I want the app to know me from my Databricks sign-in
  So that what I see and save is mine, and nobody can pass for me

  Background:
    Given Ana is a workspace user in the group "analysts"

  @US0_1 @critical
  Scenario: A signed-in user sees her own profile
    When Ana opens her profile
    Then she sees her own email and display name, as a member of "analysts"

  @US0_2 @critical
  Scenario: A request without a token is refused
    When someone opens the profile without signing in
    Then the request is refused with status 401 as "MISSING_TOKEN"

  @US0_2
  Scenario: A token the workspace never issued is refused
    When someone opens the profile with a token the workspace never issued
    Then the request is refused with status 401 as "INVALID_TOKEN"

  @US0_2 @fault_injection
  Scenario: An expired token is refused
    When Ana opens her profile with an expired token
    Then the request is refused with status 401 as "INVALID_TOKEN"

  @US0_2 @normal
  Scenario: The health check answers without identity
    When someone checks the app's health without signing in
    Then the app reports it is healthy

  @US0_3 @blocker
  Scenario: Identity comes from the workspace, not from headers the caller could forge
    Given Ben is a workspace user
    When Ana opens her profile claiming to be Ben in forwarded identity headers
    Then she sees her own email and display name

  @US0_3 @critical
  Scenario: Forged identity headers without a token are refused
    Given Ben is a workspace user
    When someone opens the profile without signing in, claiming to be Ben in forwarded identity headers
    Then the request is refused with status 401 as "MISSING_TOKEN"

  @US0_2 @normal
  Scenario: Readiness answers without identity and names what the app depends on
    When someone checks whether the app is ready without signing in
    Then the app reports it is ready, with the workspace and the database schema up to date

  @US0_2 @blocker
  Scenario Outline: Every route but health refuses a caller without a valid token
    When someone calls every route of the app <credentials>
    Then every route but health refuses the call with status 401 as "<code>"

    Examples:
      | credentials                                   | code          |
      | without signing in                            | MISSING_TOKEN |
      | with a token the workspace never issued       | INVALID_TOKEN |

  @US0_2 @fault_injection @critical
  Scenario: A token that expires while the app still knows its user is refused from then on
    Given Ana signed in with a token that expires in one minute
    When Ana opens her profile
    Then she sees her own email and display name
    When a minute passes in the workspace
    And Ana lists the catalogs
    Then the request is refused with status 401 as "INVALID_TOKEN"
    When Ana opens her profile
    Then the request is refused with status 401 as "INVALID_TOKEN"

  Rule: The app acts for a user only within the user API scopes it declares

    @US0_4 @critical
    Scenario: With exactly the scopes it declares, the app does everything it offers
      Given the reference catalogs "sales" and "hr"
      And Ana may read the catalog "sales"
      And Ana may use the SQL warehouse
      And the endpoint "churn" serves version 1 of the churn model
      And Ana may query the endpoint "churn"
      When Ana lists the catalogs
      Then she sees the catalogs "sales"
      When Ana lists the tables of "sales.retail" with their details
      Then she sees the tables "orders", "customers" and "products"
      When Ana reads the table "sales.retail.orders"
      Then she gets rows 1 to 100 of "sales.retail.orders" and a total of 240
      When Ana scores 2 customers with the endpoint "churn"
      Then she gets version 1 of the churn model's own predictions for those customers

    @US0_4 @critical @fault_injection
    Scenario Outline: Without "<scope>" what needs it is refused, naming the scope; the rest still works
      Given the reference catalogs "sales" and "hr"
      And Ana may read the catalog "sales"
      And Ana may use the SQL warehouse
      And Ana uses the app with a token that lacks the scope "<scope>"
      When <refused>
      Then the request is refused for lack of the scope "<scope>"
      When <works>
      Then <outcome>

      Examples:
        | scope                     | refused                                   | works                                     | outcome                                                                |
        | sql                       | Ana reads the table "sales.retail.orders" | Ana lists the schemas of "sales"          | she sees the schemas "retail" and "finance"                            |
        | catalog.catalogs:read     | Ana lists the catalogs                    | Ana reads the table "sales.retail.orders" | she gets rows 1 to 100 of "sales.retail.orders" and a total of 240     |
        | catalog.schemas:read      | Ana lists the schemas of "sales"          | Ana lists the catalogs                    | she sees the catalogs "sales"                                          |
        | catalog.tables:read       | Ana lists the table names of "sales.retail" | Ana lists the schemas of "sales"        | she sees the schemas "retail" and "finance"                            |
        | serving.serving-endpoints | Ana lists the serving endpoints           | Ana reads the table "sales.retail.orders" | she gets rows 1 to 100 of "sales.retail.orders" and a total of 240     |

