@US10
Feature: Running live safely
  As the team that runs this suite against a real workspace
  I want every object a run makes to carry the run's name and an expiry, and a sweeper that removes leftovers
  So that a run that dies half-way does not leave serving endpoints and catalogs billing until someone notices

  @US10_1 @critical @own_workspace
  Scenario: After a live run is killed in the middle of a scenario, the sweeper removes everything it made
    Given a live run in a workspace of its own has made one object of every kind
    When the run is killed without warning
    Then every object it made is still in the workspace, named with the run's prefix and marked to be removed
    When the sweeper deletes everything with the prefix, whatever its age
    Then nothing with the run's prefix is left in the workspace
