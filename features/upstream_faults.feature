@US5
Feature: Recovering from upstream faults
  As a user of the app
  I want brief hiccups of Databricks services to go unnoticed, and lasting failures to be explained
  So that I am never shown a crash, and nothing is left half-done

  Background:
    Given the reference catalogs "sales" and "hr"
    And Ana is a workspace user in the group "analysts"
    And Ana may read the catalog "sales"
    And Ana may use the SQL warehouse

  Rule: Brief refusals (429, 503) are retried and the request succeeds

    @US5_2 @critical @fault_injection
    Scenario Outline: Unity Catalog is briefly <state>
      Given Unity Catalog refuses the next 2 requests with status <status>
      When Ana reads the table "sales.retail.orders"
      Then she gets rows 1 to 100 of "sales.retail.orders" and a total of 240
      And Unity Catalog was asked again after each refusal

      Examples:
        | state       | status |
        | throttling  | 429    |
        | unavailable | 503    |

    @US5_2 @critical @fault_injection
    Scenario: The SQL warehouse is briefly unavailable
      Given the SQL warehouse refuses the next 2 requests with status 503
      When Ana reads the table "sales.retail.orders"
      Then she gets rows 1 to 100 of "sales.retail.orders" and a total of 240
      And the SQL warehouse was asked again after each refusal
      And the app's own metrics count the refused and the answered calls to the SQL warehouse

  Rule: Lasting failures become a structured 502 or 503, never a crash

    @US5_5 @critical @fault_injection
    Scenario Outline: <service> fails with status 500
      Given <service> fails with status 500 on every request
      When Ana reads the table "sales.retail.orders"
      Then the answer is a structured error with status 502, without internals

      Examples:
        | service           |
        | Unity Catalog     |
        | the SQL warehouse |

    @US5_5 @critical @fault_injection
    Scenario Outline: <service> cannot be reached
      Given <service> cannot be reached
      When Ana reads the table "sales.retail.orders"
      Then the answer is a structured error with status 502 or 503, without internals

      Examples:
        | service           |
        | Unity Catalog     |
        | the SQL warehouse |

    @US5_5 @critical @fault_injection
    Scenario: A statement the SQL warehouse fails is a structured 502 that quotes none of it
      Given the SQL warehouse fails every statement on "sales.retail.orders" with an error quoting it
      When Ana reads the table "sales.retail.orders"
      Then the request is refused with status 502 as "QUERY_FAILED"
      And the answer is a structured error with status 502, without internals

    @US5_5 @normal @fault_injection
    Scenario Outline: The SQL warehouse refuses with status <status> as "<code>": Ana is told "<answer>"
      Given the SQL warehouse refuses every request with status <status> as "<code>"
      When Ana reads the table "sales.retail.orders"
      Then the request is refused with status <status> as "<answer>"

      Examples:
        | status | code                    | answer                  |
        | 403    | PERMISSION_DENIED       | PERMISSION_DENIED       |
        | 404    | RESOURCE_DOES_NOT_EXIST | RESOURCE_DOES_NOT_EXIST |
        | 401    | UNAUTHENTICATED         | INVALID_TOKEN           |

    @US5_5 @normal @fault_injection
    Scenario: Unity Catalog refuses a listing as invalid: the refusal reaches Ana as such
      Given Unity Catalog refuses every request with status 400 as "INVALID_PARAMETER_VALUE"
      When Ana lists the catalogs
      Then the request is refused with status 400 as "INVALID_PARAMETER_VALUE"

    @US5_5 @normal @fault_injection
    Scenario: Unity Catalog keeps refusing beyond the app's patience
      Given Ana uses an app that gives up on the workspace after one second
      And Unity Catalog refuses every request with status 503 as "TEMPORARILY_UNAVAILABLE"
      When Ana reads the table "sales.retail.orders"
      Then the request is refused with status 503 as "UPSTREAM_UNAVAILABLE"
      And the answer is a structured error with status 503, without internals
      And the app's own metrics count the refused calls to Unity Catalog

    @US5_5 @critical @fault_injection
    Scenario: A preference is not saved when the workspace cannot confirm who is asking
      Given the workspace identity service fails with status 500 on every request
      When Ana saves "theme" as "dark"
      Then the answer is a structured error with status 502, without internals
      When the workspace identity service recovers
      Then Ana has no preference "theme"

  Rule: Model Serving hiccups and failures

    @US5_2 @critical @fault_injection
    Scenario Outline: Model Serving briefly refuses with <status>
      Given the endpoint "churn-retry" serves the reference churn model
      And Ana may query the endpoint "churn-retry"
      And Model Serving refuses the next 2 requests with status <status>
      And Ana has sent 3 customers one at a time to the endpoint "churn-retry"
      Then Model Serving was asked again after each refusal
      And Ana's whole inference history holds each of her 3 calls once

      Examples:
        | status |
        | 429    |
        | 503    |

    @US5_5 @critical @fault_injection
    Scenario: Model Serving fails for good: a structured error, and a complete record of the failed call
      Given the endpoint "churn-retry" serves the reference churn model
      And Ana may query the endpoint "churn-retry"
      And Model Serving fails with status 500 on every request
      When Ana scores 1 customer with the endpoint "churn-retry"
      Then the answer is a structured error with status 502, without internals
      And Ana's inference history shows that call as failed, with no predictions
