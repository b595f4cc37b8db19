@US5
Feature: Preferences through database trouble
  As a user of the app
  I want a clear, quick answer while the database is down, and my preferences back as soon as it returns
  So that a database hiccup never costs me data or leaves me with a broken page

  Background:
    Given Ana is a workspace user
    And Ana has saved "theme" as "dark"

  # "At once" without a stopwatch: this app would wait 10 minutes for a database connection, so any answer
  # at all (the client gives up after a minute) proves it did not wait for one.
  @US5_1 @fault_injection @blocker
  Scenario: While the database is down the app says so at once, and it recovers by itself
    Given Ana uses an app that would wait 10 minutes for a database connection
    When the database goes down
    And Ana saves "theme" as "light"
    Then the request is refused with status 503 as "DATABASE_UNAVAILABLE"
    And she is told to retry after a few seconds
    When Ana opens her preferences in 20 tabs at once
    Then every tab is refused as "DATABASE_UNAVAILABLE"
    When the database comes back
    Then she still sees "theme" as "dark"
    When Ana saves "theme" as "light"
    Then the preference is updated

  @US5_1 @fault_injection @critical
  Scenario: The moment the database is back, many requests at once all succeed
    When the database goes down
    And Ana saves "theme" as "light"
    Then the request is refused with status 503 as "DATABASE_UNAVAILABLE"
    When the database comes back
    And Ana opens her preferences in 20 tabs at once
    Then every tab lists "theme" as "dark"

  @US5_1 @fault_injection @critical
  Scenario: After the database restarts between two requests, the next request succeeds
    When the database restarts
    Then she still sees "theme" as "dark"

  @US5_4 @fault_injection @critical
  Scenario Outline: A damaged row never breaks the list, reading it says what is wrong, saving repairs it
    Given the database holds a preference of Ana under "layout" with <damage>, not written by the app
    When Ana lists her preferences
    Then she sees 1 preference and is told 1 could not be read
    When Ana reads "layout"
    Then the request is refused with status 409 as "PREFERENCE_UNREADABLE"
    When Ana saves "layout" as "compact"
    Then the preference is updated
    And she sees "layout" as "compact"

    Examples:
      | damage                         |
      | an integer 5000 digits long    |
      | a value nested 200 levels deep |
      | a value nested 5000 levels deep |
      | a number too large for JSON      |

  @US5_4 @fault_injection @normal
  Scenario: A key saved under older rules is still listed, readable and deletable
    Given the database holds a preference of Ana under the old-style key "My Theme (old)", not written by the app
    When Ana lists her preferences
    Then she sees 2 preferences, among them "My Theme (old)", and is told 0 could not be read
    And she sees "My Theme (old)" as "from an older version"
    When Ana deletes "My Theme (old)"
    Then the preference is deleted
