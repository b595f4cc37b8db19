@US1
Feature: Preferences
  As a user of the app
  I want to save my own settings, such as a default catalog, favourite tables or a page size
  So that the app remembers how I work, and nobody else can see or change them

  Background:
    Given Ana is a workspace user

  @US1_1 @critical
  Scenario: A new user has no preferences
    When Ana lists her preferences
    Then she sees 0 preferences

  @US1_3 @blocker
  Scenario: Saving a preference creates it and it can be read back
    When Ana saves "theme" as "dark"
    Then the preference is created
    And she sees "theme" as "dark"

  @US1_3 @normal
  Scenario Outline: Numbers, lists, empty values and multi-line text are saved as they are
    When Ana saves "<key>" as <value>
    Then the preference is created
    And "<key>" reads back exactly as saved

    Examples:
      | key              | value                                                    |
      | page_size        | the number 50                                            |
      | zoom             | the number 1.25                                          |
      | favourite.tables | the list "sales.retail.orders", "sales.retail.customers" |
      | default:catalog  | nothing                                                  |
      | notes            | text with a tab and a line break                         |

  @US1_4 @critical
  Scenario: Saving the same key again updates it
    Given Ana has saved "theme" as "dark"
    When Ana saves "theme" as "light"
    Then the preference is updated
    And its times are in UTC, and updating it moved its update time but not its creation time
    And she sees "theme" as "light"
    When Ana lists her preferences
    Then she sees 1 preference

  @US1_4 @US7_3 @normal
  Scenario: A change made from the latest version goes through
    Given Ana has saved "theme" as "dark"
    When Ana changes "theme" to "light" from the version she first saved
    Then the preference is updated
    And she sees "theme" as "light"

  @US1_4 @US7_3 @critical
  Scenario: A change made from an outdated version is refused and changes nothing
    Given Ana has saved "theme" as "dark"
    And Ana has saved "theme" as "light"
    When Ana changes "theme" to "blue" from the version she first saved
    Then the request is refused with status 412 as "PRECONDITION_FAILED"
    And she still sees "theme" as "light"

  @US1_5 @critical
  Scenario: Deleting a preference removes it; deleting it again finds nothing
    Given Ana has saved "theme" as "dark"
    When Ana deletes "theme"
    Then the preference is deleted
    And she has no preference "theme"
    When Ana deletes "theme"
    Then the request is refused with status 404 as "PREFERENCE_NOT_FOUND"

  @US1_5 @US7_3 @normal
  Scenario: A delete made from an outdated version is refused and deletes nothing
    Given Ana has saved "theme" as "dark"
    And Ana has saved "theme" as "light"
    When Ana deletes "theme" from the version she first saved
    Then the request is refused with status 412 as "PRECONDITION_FAILED"
    And she still sees "theme" as "light"

  @US1_2 @blocker
  Scenario: Another user's preference looks exactly like one that does not exist
    Given Ana has saved "theme" as "dark"
    And Ben is a workspace user
    When Ben lists his preferences
    Then he sees 0 preferences
    When Ben reads "theme"
    Then the request is refused with status 404 as "PREFERENCE_NOT_FOUND"
    And the refusal looks exactly like the one for a key nobody ever saved

  @US1_2 @blocker
  Scenario: Another user can neither delete nor overwrite my preference
    Given Ana has saved "theme" as "dark"
    And Ben is a workspace user
    When Ben deletes "theme"
    Then the request is refused with status 404 as "PREFERENCE_NOT_FOUND"
    When Ben saves "theme" as "light"
    Then the preference is created
    And Ana still sees "theme" as "dark"
    And Ben sees "theme" as "light"

  # Reads the database directly as the app's role, which live mode cannot do.
  @US1_2 @fault_injection @blocker
  Scenario: The database itself hides other users' rows, even from a query that forgets its user filter
    Given Ana has saved "theme" as "dark"
    And Ben is a workspace user
    And Ben has saved "language" as "en"
    Then a query that forgets its user filter, run by the app's database role for Ben, finds none of Ana's preferences

  # Needs a second instance of the app, started locally without any Lakebase settings.
  @US1_6 @fault_injection @critical
  Scenario: Without Lakebase configured, preferences say so
    Given Ana uses an app that has no Lakebase configured
    When Ana lists her preferences
    Then the request is refused with status 503 as "LAKEBASE_NOT_CONFIGURED"
    When Ana saves "theme" as "dark"
    Then the request is refused with status 503 as "LAKEBASE_NOT_CONFIGURED"

  @US1_7 @critical
  Scenario Outline: An invalid key or value is refused field by field, and nothing is stored
    When Ana saves "<key>" as <value>
    Then the request is refused with status 400 as "INVALID_REQUEST"
    And the refusal names the field "<field>"
    And she has no saved preferences

    Examples:
      | key      | value                                  | field           |
      | my theme | "dark"                                 | key             |
      | .hidden  | "dark"                                 | key             |
      | theme    | no value at all                        | value           |
      | theme    | a value and an unknown field           | colour          |
      | theme    | text that is not JSON                  | body            |
      | theme    | a value nested 40 levels deep          | value           |
      | theme    | a value nested 5000 levels deep        | value           |
      | theme    | a number too large for JSON            | value           |
      | theme    | text containing a NUL character        | value           |
      | theme    | text holding half of a surrogate pair  | value           |
      | theme    | a value whose object names a key twice | value.page_size |

  @US1_7 @critical
  Scenario: A value sent as plain text is refused, and nothing is stored
    When Ana saves "theme" as "dark" sent as plain text
    Then the request is refused with status 415 as "UNSUPPORTED_MEDIA_TYPE"
    And she has no saved preferences

  @US1_8 @critical
  Scenario: A value at the size limit is saved; one byte more is refused and changes nothing
    When Ana saves "notes" as a value of exactly the size limit
    Then the preference is created
    When Ana saves "notes" as a value one byte over the size limit
    Then the request is refused with status 413 as "VALUE_TOO_LARGE"
    And "notes" reads back exactly as saved

  @US1_8 @blocker
  Scenario Outline: A 10 MB value is refused before the app reads it
    When Ana sends a 10 MB value as "notes" <announced> its size
    Then the request is refused with status 413 as "VALUE_TOO_LARGE"
    And the app stopped reading after at most 1024 KiB of it
    And she has no saved preferences

    Examples:
      | announced          |
      | announcing         |
      | without announcing |

  @US1_9 @critical
  Scenario Outline: Unicode, quotes and SQL-looking text come back byte for byte
    When Ana saves "<key>" as "<text>"
    Then the preference is created
    And "<key>" reads back exactly as saved

    Examples:
      | key      | text                                     |
      | greeting | Grüße, 世界! 👋🏽 ☃ naïve café           |
      | sql      | Robert'); DROP TABLE preferences;--      |
      | quotes   | She said "hi", then 'bye' \\ and left    |
      | percent  | 100% of %s and {braces} and $1           |
      | scripts  | שלום עולם مرحبا بالعالم                  |

  Rule: The database password is a short-lived Lakebase credential

    @US1_10 @fault_injection @critical
    Scenario: When the credential expires the app gets a new one and nobody sees an error
      Given Ana has saved "theme" as "dark"
      When the app's database credential expires and Lakebase closes its connections
      Then she sees "theme" as "dark"
      And the app got a new database credential
      When Ana saves "theme" as "light"
      Then the preference is updated

    @US1_10 @fault_injection @normal
    Scenario: A Lakebase instance that does not exist stops the app at start-up, saying so
      When the app starts with the Lakebase instance "no-such-lakebase"
      Then the app stops, saying the Lakebase instance "no-such-lakebase" does not exist

