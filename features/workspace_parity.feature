@US10
Feature: Parity between the fake workspace and a real one
  As a developer about to run the suite against a real workspace
  I want every workspace call of a scenario recorded, two runs compared call by call, and calls the fake
  cannot answer named
  So that the first live run tells me exactly where the fake and my workspace differ

  @US10_2 @critical
  Scenario: Two recorded runs that differ in one call are compared, and the difference is named
    Given the reference catalogs "sales" and "hr"
    And Ana is a workspace user in the group "analysts"
    And Ana may read the catalog "sales"
    And Ana may use the SQL warehouse
    When the workspace calls from here on are recorded as run "A"
    And Ana reads the table "sales.retail.orders"
    And the workspace admin revokes Ana's access to the catalog "sales"
    And the workspace calls from here on are recorded as run "B"
    And Ana reads the table "sales.retail.orders"
    And the runs "A" and "B" are compared
    Then the comparison names the call of "w.tables.get" answered "403 PERMISSION_DENIED" only in run "B"

  @US10_3 @critical @fault_injection
  Scenario: A workspace call the fake does not serve is refused by name and kept in the record
    When the admin makes a workspace call the fake workspace does not serve
    Then the call is refused as not served and kept in the scenario's record, naming the SDK method "w.jobs.list"
