@US6
Feature: Paging through many preferences
  As a user with hundreds of saved preferences
  I want to page through them
  So that every one of them shows up, once, however many I have

  Background:
    Given Ana is a workspace user

  @US6_1 @critical
  Scenario: 200 preferences in pages of 50: every one of them, once, in order
    Given Ana has 200 saved preferences
    When Ana lists her preferences 50 at a time
    Then she gets all 200 preferences exactly once, in key order, in pages of at most 50

  @US6_1 @normal
  Scenario: A page larger than the maximum is refused
    When Ana lists her preferences, 500 per page
    Then the request is refused with status 400 as "INVALID_REQUEST"
    And the refusal names the field "limit"

