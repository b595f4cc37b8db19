@US7
Feature: Saving preferences at the same time
  As one of many users of the app
  I want my saves to land whatever everyone else is doing at that moment
  So that nothing I save is lost or mixed with someone else's

  # Needs 60 workspace users, which only the fake workspace can create on demand.
  @US7_1 @fault_injection @critical
  Scenario: 60 users saving at the same time lose nothing
    When 60 users each save 3 preferences at the same time
    Then every one of them gets exactly their own 3 preferences back

  @US7_3 @critical
  Scenario: Saves and reads of one key at the same time never see a mix of values
    Given Ana is a workspace user
    And Ana has saved "layout" as "dark"
    When 50 writers save "layout" for Ana at the same time as 50 readers read it
    Then every write succeeded and every read saw one whole value
    And Ana finds "layout" holding exactly one of the values written

  @US7_3 @blocker
  Scenario: Of 50 writers saving from the same version at the same time, exactly one wins
    Given Ana is a workspace user
    And Ana has saved "layout" as "dark"
    When 50 writers who all read the same version of "layout" from Ana save it at the same time
    Then exactly one writer succeeded, the other 49 were refused as "PRECONDITION_FAILED", and the value is the winner's

  @US7_3 @critical
  Scenario: Writers who retry when their version is outdated lose no update
    Given Ana is a workspace user
    And Ana has saved "visits" as the number 0
    When 12 writers each add one to "visits" of Ana at the same time, retrying whenever their version is outdated
    Then Ana finds "visits" at 12: no update was lost
