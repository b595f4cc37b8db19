@US9
Feature: Monitoring served models
  As someone responsible for a model in production
  I want each endpoint's calls, errors, latencies and input drift measured against the training data
  So that I notice when the model is slow, failing, or seeing customers unlike those it learned from

  Background:
    Given Mia is a workspace user in the group "model-monitors"
    And Ana is a workspace user in the group "analysts"
    And the endpoint "churn-watch" serves the reference churn model
    And Ana may query the endpoint "churn-watch"
    And Mia may see the endpoint "churn-watch"

  Rule: Metrics per endpoint and per served version

    @US9_1 @critical
    Scenario: Calls, errors and latencies of a known mix of traffic
      Given Ana has sent 12 customers one at a time to the endpoint "churn-watch"
      And Ana has sent 3 requests missing the column "tenure_months" one at a time to the endpoint "churn-watch"
      When Mia looks at the metrics of the endpoint "churn-watch"
      Then she sees 15 requests with 3 errors, an error rate of 20%
      And the reference model's version accounts for 12 requests and no errors
      And the latency percentiles are those of the calls in Ana's inference history

    @US9_1 @normal @fault_injection
    Scenario: Slow calls show in the 95th percentile, not in the median
      Given Ana has sent 16 customers one at a time to the endpoint "churn-watch"
      And the endpoint "churn-watch" answers its next 4 calls 400 milliseconds late
      And Ana has sent 4 customers at once to the endpoint "churn-watch"
      And the endpoint "churn-watch" fails 2 of its next calls
      And Ana has tried to send 2 customers one at a time to the endpoint "churn-watch"
      When Mia looks at the metrics of the endpoint "churn-watch"
      Then she sees 22 requests with 2 errors, an error rate of 9.090909%
      And the latency percentiles are a median under 400 ms and a 95th percentile of at least 400 ms

    @US9_1 @normal
    Scenario: The app's own operational metrics count requests and calls to the workspace
      When Ana opens her profile
      And Ana opens her profile
      And Ana reads the app's operational metrics
      Then they count 2 answered requests for her profile
      And they count the app's calls to the workspace

  Rule: Drift of recent traffic against the training data (PSI; above 0.25 is drift, under 0.1 is none)

    @US9_2 @US9_3 @critical
    Scenario: Ordinary traffic shows no drift
      Given Ana has sent 400 customers in calls of 50 to the endpoint "churn-watch"
      When Mia checks the endpoint "churn-watch" for drift
      Then no feature has drifted
      And "age", "tenure_months", "monthly_charges", "contract" and "region" have not drifted
      And the predicted churn probability has not drifted

    @US9_2 @US9_3 @critical
    Scenario Outline: A shifted feature is flagged, the others are not
      Given Ana has sent 400 customers in calls of 50 to the endpoint "churn-watch" with <change>
      When Mia checks the endpoint "churn-watch" for drift
      Then only "<feature>" has drifted
      And <unchanged> have not drifted

      Examples:
        | change                                                  | feature         | unchanged                                                        |
        | "monthly_charges" shifted by 2 standard deviations       | monthly_charges | "age", "tenure_months", "support_tickets", "contract" and "region" |
        | "contract" mostly "two_year"                            | contract        | "age", "monthly_charges", "internet_service" and "payment_method" |
        | "tenure_months" stretched by 0.3                        | tenure_months   | "age", "monthly_charges", "support_tickets" and "contract"        |

    @US9_2 @normal
    Scenario: A handful of calls is too little to judge drift
      Given Ana has sent 5 customers one at a time to the endpoint "churn-watch"
      When Mia checks the endpoint "churn-watch" for drift
      Then drift cannot be judged yet: every feature has too little data and none is flagged

    @US9_2 @normal
    Scenario: A model trained without a profile cannot be checked for drift, and says why
      Given the endpoint "churn" serves version 1 of the churn model
      And Ana may query the endpoint "churn"
      And Mia may see the endpoint "churn"
      And Ana has scored customers 3 times with the endpoint "churn"
      When Mia checks the endpoint "churn" for drift
      Then drift cannot be measured: the served model has no training profile

  Rule: Synthetic traffic for monitoring tests

    @US9_3 @normal
    Scenario: Synthetic traffic is reproducible and drifts only where asked
      When synthetic traffic of 500 customers is generated twice with the seed 7 and "contract" mostly "month_to_month"
      Then both runs hold exactly the same customers
      And compared with ordinary traffic of the same seed, only "contract" differs

    @US9_3 @normal
    Scenario: The traffic tool feeds a running app
      When Ana feeds 60 customers to the endpoint "churn-watch" with the traffic tool in calls of 20
      Then the tool reports 3 calls, all answered
      And Ana's inference history holds 3 calls with 60 customers

  Rule: Monitoring data is per endpoint, for members of the monitoring group only

    @US9_4 @critical
    Scenario: Someone outside the monitoring group is refused
      Given Ana has sent 5 customers one at a time to the endpoint "churn-watch"
      When Ana looks at the metrics of the endpoint "churn-watch"
      Then the request is refused with status 403 as "MONITORING_NOT_ALLOWED"
      When Ana checks the endpoint "churn-watch" for drift
      Then the request is refused with status 403 as "MONITORING_NOT_ALLOWED"

    @US9_4 @normal
    Scenario: Each endpoint's metrics count only its own calls
      Given the endpoint "churn-other" serves the reference churn model
      And Ana may query the endpoint "churn-other"
      And Mia may see the endpoint "churn-other"
      And Ana has sent 4 customers one at a time to the endpoint "churn-watch"
      And Ana has sent 7 customers one at a time to the endpoint "churn-other"
      When Mia looks at the metrics of the endpoint "churn-watch"
      Then she sees 4 requests with 0 errors, an error rate of 0%
      When Mia looks at the metrics of the endpoint "churn-other"
      Then she sees 7 requests with 0 errors, an error rate of 0%

    @US9_4 @US3_13 @critical
    Scenario: A monitor who may not see an endpoint gets the answer for one that does not exist
      Given Ana has sent 5 customers one at a time to the endpoint "churn-watch"
      When the workspace admin takes away Mia's permission on the endpoint "churn-watch"
      And Mia looks at the metrics of the endpoint "churn-watch"
      Then the refusal is the one for an endpoint that does not exist, naming the endpoint "churn-watch"
      When Mia checks the endpoint "churn-watch" for drift
      Then the refusal is the one for an endpoint that does not exist, naming the endpoint "churn-watch"

    @US9_4 @normal
    Scenario: An endpoint that does not exist
      When Mia looks at the metrics of an endpoint called "churn-ghost" that does not exist
      Then the request is refused with status 404 as "ENDPOINT_NOT_FOUND"

    @US9_1 @minor
    Scenario Outline: A window the metrics cannot be read over is refused
      When Mia looks at the metrics of the endpoint "churn-watch" over <window>
      Then the request is refused with status 400 as "INVALID_WINDOW"

      Examples:
        | window                              |
        | a window that ends before it starts |
        | a window of 32 days                 |
        | a window given without a time zone  |

    @US9_1 @minor
    Scenario Outline: A time outside the dates the app supports is refused, naming it
      When Mia looks at the metrics of the endpoint "churn-watch" over <window>
      Then the request is refused with status 400 as "INVALID_REQUEST"
      And the refusal names the field "<bound>"

      Examples:
        | window                                        | bound       |
        | a window that ends on the first day of year 1 | query.end   |
        | a window that starts in the year 9999         | query.start |

    @US9_1 @normal @fault_injection
    Scenario: No monitoring without Lakebase
      Given Mia uses an app that has no Lakebase configured
      When Mia looks at the metrics of the endpoint "churn-watch"
      Then the request is refused with status 503 as "LAKEBASE_NOT_CONFIGURED"
