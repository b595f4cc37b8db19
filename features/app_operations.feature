@US0
Feature: Running the app
  As an operator of the app
  I want the app to say whether it is ready, and a command that brings its database schema up to date
  So that traffic only reaches an app whose workspace and database are in order

  Background:
    Given Ana is a workspace user in the group "analysts"

  Rule: Readiness names what is not in order

    @US0_2 @fault_injection @critical
    Scenario: A database schema behind the app makes it not ready, until an operator applies the migrations
      Given the database schema is one version behind the app
      When someone checks whether the app is ready without signing in
      Then the app reports it is not ready because of its database
      When an operator runs the database command "upgrade" with the app's database settings
      Then the command reports the latest schema revision
      When someone checks whether the app is ready without signing in
      Then the app reports it is ready, with the workspace and the database schema up to date

    @US0_2 @US5_1 @fault_injection @normal
    Scenario: While the database is down the app is not ready
      When the database goes down
      And someone checks whether the app is ready without signing in
      Then the app reports it is not ready because of its database

    # Needs a second instance of the app, started locally without any Lakebase settings.
    @US0_2 @US1_6 @fault_injection @normal
    Scenario: Without Lakebase configured the app is ready, and says it has no database
      Given Ana uses an app that has no Lakebase configured
      When Ana checks whether the app is ready
      Then the app reports it is ready, with no database configured

  Rule: The database command explains a mistake instead of doing something else

    @US1_6 @fault_injection @normal
    Scenario Outline: The database command refuses <mistake>
      When an operator runs the database command "<arguments>" <settings> the app's database settings
      Then the command stops with a message saying "<message>"

      Examples:
        | mistake                   | arguments | settings | message                            |
        | an unknown action         | downgrade | with     | usage: python -m server.db upgrade |
        | to run without a database | upgrade   | without  | set PGHOST, PGDATABASE, PGUSER     |
