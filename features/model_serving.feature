@US3
Feature: Model serving
  As an analyst
  I want to see the models served in my workspace and ask them for predictions
  So that I can score customers from the app and find my calls again later

  Background:
    Given Ana is a workspace user in the group "analysts"
    And the endpoint "churn" serves version 1 of the churn model
    And Ana may query the endpoint "churn"

  Rule: Endpoints and their models

    @US3_1 @critical
    Scenario: Endpoints are listed with their state and served models
      Given the endpoint "churn-next" serves version 2 of the churn model
      And Ana may see the endpoint "churn-next"
      When Ana lists the serving endpoints
      Then she sees the endpoint "churn" ready, serving version 1 of the churn model
      And she sees the endpoint "churn-next" ready, serving version 2 of the churn model

    @US3_2 @normal
    Scenario: One endpoint's details
      When Ana opens the endpoint "churn"
      Then she sees it is ready and sends all traffic to version 1 of the churn model

    @US3_2 @normal @fault_injection
    Scenario: An endpoint still being created is not ready and serves no model yet
      Given the endpoint "churn-new" is still being created
      And Ana may see the endpoint "churn-new"
      When Ana opens the endpoint "churn-new"
      Then she sees it is not ready yet, being updated, with no model served

    @US3_3 @normal
    Scenario: An endpoint that does not exist
      When Ana opens the endpoint "no-such-model"
      Then the request is refused with status 404 as "ENDPOINT_NOT_FOUND"
      When Ana scores 1 customer with the endpoint "no-such-model"
      Then the request is refused with status 404 as "ENDPOINT_NOT_FOUND"

    @US3_4 @normal
    Scenario: The input schema and an example request come from the model's signature
      When Ana asks for the input schema of the endpoint "churn"
      Then she sees the columns tenure_months, monthly_charges and support_tickets as numbers
      And the example request is accepted by the endpoint "churn"

    @US3_4 @minor
    Scenario: A model without named input columns has an unknown schema and a helpful message
      Given the endpoint "legacy" serves a model without named input columns
      And Ana may query the endpoint "legacy"
      When Ana asks for the input schema of the endpoint "legacy"
      Then the schema type is "unknown" with a message saying how to get one

    @US3_4 @US3_5 @normal
    Scenario: A model without named input columns still scores customers, unchecked
      Given the endpoint "legacy" serves a model without named input columns
      And Ana may query the endpoint "legacy"
      When Ana scores 4 customers with the endpoint "legacy"
      Then she gets the model without named input columns' own predictions for those customers

  Rule: Real-time predictions, logged

    @US3_5 @US3_6 @blocker
    Scenario: Predictions come from the served model and every call is logged
      When Ana scores 5 customers with the endpoint "churn"
      Then she gets version 1 of the churn model's own predictions for those customers
      And her inference history shows that call with her inputs, the predictions, version 1, its latency and status "success"

    @US3_7 @critical
    Scenario: The history pages and shows only one's own calls
      Given Ben is a workspace user
      And Ben may query the endpoint "churn"
      And Ana has scored customers 3 times with the endpoint "churn"
      And Ben has scored customers 2 times with the endpoint "churn"
      When Ana reads her inference history 2 at a time
      Then she sees her 3 calls, newest first, and none of Ben's

    @US3_8 @critical @fault_injection
    Scenario: A model that takes too long
      Given Ana uses an app that gives up on the workspace after one second
      And the endpoint "churn" answers every call 2 seconds late
      When Ana scores 1 customer with the endpoint "churn"
      Then the request is refused with status 503 as "MODEL_TIMEOUT"
      And she is told to retry after a few seconds

    @US3_9 @critical
    Scenario: Input that does not match the model's signature
      When Ana scores customers missing "support_tickets" and with an extra "favourite_colour" with the endpoint "churn"
      Then the request is refused with status 400 as "INVALID_INPUT"
      And the refusal names "support_tickets" as missing and "favourite_colour" as unexpected

    @US3_9 @normal
    Scenario: A column the model does not know is refused, though none is missing
      When Ana scores customers with an extra "favourite_colour" with the endpoint "churn"
      Then the request is refused with status 400 as "INVALID_INPUT"
      And the refusal names "favourite_colour" as unexpected and no column as missing

    @US3_9 @normal
    Scenario: A value of the wrong type is refused by the model, naming the column
      When Ana scores a customer whose "tenure_months" is "two years" with the endpoint "churn"
      Then the request is refused with status 400 as "INVALID_INPUT"
      And the refusal names the column "tenure_months"

    @US3_6 @US3_9 @normal
    Scenario: A value holding a NUL character is refused before it reaches the model, and nothing is logged
      When Ana scores a customer whose "tenure_months" holds a NUL character with the endpoint "churn"
      Then the request is refused with status 400 as "INVALID_REQUEST"
      And the refusal names the field "records.0.tenure_months"
      And her inference history holds no call

    @US3_9 @normal
    Scenario Outline: A real-time call takes between 1 and 1000 customers
      When Ana scores <count> customers with the endpoint "churn"
      Then the request is refused with status <status> as "<code>"
      And her inference history holds no call

      Examples:
        | count | status | code              |
        | 0     | 400    | INVALID_REQUEST   |
        | 1001  | 413    | PAYLOAD_TOO_LARGE |

    @US3_7 @normal
    Scenario: The history can be narrowed to one endpoint
      Given the endpoint "churn-next" serves version 2 of the churn model
      And Ana may query the endpoint "churn-next"
      And Ana has scored customers 3 times with the endpoint "churn"
      And Ana has scored customers 2 times with the endpoint "churn-next"
      When Ana reads her inference history of the endpoint "churn-next"
      Then she sees only her 2 calls of the endpoint "churn-next", newest first

    @US3_10 @normal @fault_injection
    Scenario: No history without Lakebase
      Given Ana uses an app that has no Lakebase configured
      When Ana reads her inference history
      Then the request is refused with status 503 as "LAKEBASE_NOT_CONFIGURED"

    @US3_5 @US3_10 @normal @fault_injection
    Scenario: Without Lakebase predictions still come, unlogged
      Given Ana uses an app that has no Lakebase configured
      When Ana scores 5 customers with the endpoint "churn"
      Then she gets version 1 of the churn model's own predictions for those customers
      And the answer names no entry of her inference history

  Rule: Batches

    @US3_11 @critical
    Scenario: Thousands of customers scored in one batch, in order
      When Ana scores 5000 customers in one batch with the endpoint "churn"
      Then she gets one prediction per customer, in order, equal to version 1's own predictions
      And the batch was sent in 5 chunks, all logged

    @US3_11 @normal @fault_injection
    Scenario: A chunk that fails does not fail the whole batch
      Given the endpoint "churn" fails 1 of its next calls
      When Ana scores 3000 customers in one batch with the endpoint "churn"
      Then 1 chunk of 1000 customers is reported as failed and its predictions are empty
      And the other customers get version 1's own predictions

    @US3_11 @US5_5 @normal @fault_injection
    Scenario: A batch whose every chunk fails is refused with the model's failure
      Given the endpoint "churn" fails 2 of its next calls
      When Ana scores 2000 customers in one batch with the endpoint "churn"
      Then the request is refused with status 502 as "UPSTREAM_ERROR"

    @US3_11 @normal
    Scenario: Too many customers for one batch
      When Ana scores 100001 customers in one batch with the endpoint "churn"
      Then the request is refused with status 413 as "PAYLOAD_TOO_LARGE"

  Rule: A/B testing

    @US3_12 @critical
    Scenario: An 80/20 split serves each version in that proportion
      Given the endpoint "churn-ab" sends 80% of its traffic to version 1 and 20% to version 2 of the churn model
      And Ana may query the endpoint "churn-ab"
      When Ana opens the endpoint "churn-ab"
      Then the endpoint's traffic is split 80/20 between versions 1 and 2
      When Ana scores one customer 200 times with the endpoint "churn-ab"
      Then version 1 answers 80% of the calls, within 3 standard deviations
      And each answer is the own prediction of the version it names, and the history names the same versions

  Rule: Who may use an endpoint is the workspace's decision, and the app tells others nothing

    @US3_13 @blocker
    Scenario: A user without permission learns nothing, even right after a permitted user filled the caches
      Given Ben is a workspace user
      When Ana asks for the input schema of the endpoint "churn"
      And Ana scores 2 customers with the endpoint "churn"
      And Ben asks for the input schema of the endpoint "churn"
      Then the refusal is the one for an endpoint that does not exist, naming the endpoint "churn"
      When Ben scores customers missing "support_tickets" and with an extra "favourite_colour" with the endpoint "churn"
      Then the refusal is the one for an endpoint that does not exist, naming the endpoint "churn"
      When Ben opens the endpoint "churn"
      Then the refusal is the one for an endpoint that does not exist, naming the endpoint "churn"
      When Ben reads his inference history of the endpoint "churn"
      Then the refusal is the one for an endpoint that does not exist, naming the endpoint "churn"
      When Ben lists the serving endpoints
      Then he does not see the endpoint "churn" among the serving endpoints

    @US3_13 @critical
    Scenario: Seeing an endpoint is not querying it
      Given Ben is a workspace user
      And Ben may see the endpoint "churn"
      When Ben opens the endpoint "churn"
      Then he sees it is ready and sends all traffic to version 1 of the churn model
      When Ben scores 1 customer with the endpoint "churn"
      Then the request is refused with status 403 as "PERMISSION_DENIED"

    @US3_13 @US5_3 @critical
    Scenario: A permission taken away is refused on the very next request, cached schema or not
      When Ana asks for the input schema of the endpoint "churn"
      And Ana scores 1 customer with the endpoint "churn"
      And the workspace admin takes away Ana's permission on the endpoint "churn"
      And Ana asks for the input schema of the endpoint "churn"
      Then the refusal is the one for an endpoint that does not exist, naming the endpoint "churn"
      When Ana scores customers missing "support_tickets" and with an extra "favourite_colour" with the endpoint "churn"
      Then the refusal is the one for an endpoint that does not exist, naming the endpoint "churn"
      When Ana scores 1 customer with the endpoint "churn"
      Then the refusal is the one for an endpoint that does not exist, naming the endpoint "churn"
