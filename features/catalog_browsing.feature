@US2
Feature: Browsing Unity Catalog
  As an analyst
  I want to browse the catalogs, schemas and tables I may use
  So that I find the data I need, and never see what I may not

  Background:
    Given the reference catalogs "sales", "hr" and "marketing"
    And Ana is a workspace user in the group "analysts"

  Rule: Lists show only what the user may use

    @US2_1 @critical
    Scenario: Only the catalogs she may use are listed
      Given Ana may read the catalog "sales"
      And the group "analysts" may read the catalog "marketing"
      When Ana lists the catalogs
      Then she sees only the catalogs "sales" and "marketing"
      And she does not see the catalog "hr"

    @US2_1 @normal
    Scenario: A user without any grant sees no catalog
      When Ana lists the catalogs
      Then she sees no catalogs of the reference data

    @US2_2 @critical
    Scenario: The schemas of a catalog are listed
      Given Ana may read the catalog "sales"
      When Ana lists the schemas of "sales"
      Then she sees the schemas "retail" and "finance"

    @US2_3 @critical
    Scenario: The table names of a schema are listed
      Given Ana may read the catalog "sales"
      When Ana lists the table names of "sales.retail"
      Then she sees only the tables "orders", "customers", "products" and "ventes_été"

    @US2_3 @normal
    Scenario: Only the tables she may read are listed
      Given Ana may read the table "sales.retail.orders"
      When Ana lists the table names of "sales.retail"
      Then she sees only the table "orders"

  Rule: Tables come with their metadata

    @US2_4 @critical
    Scenario: Tables are listed with columns, types, owner and description
      Given Ana may read the catalog "sales"
      When Ana lists the tables of "sales.retail" with their details
      Then every table shows its columns with their types, its owner and its description

    @US2_4 @normal
    Scenario: One table's columns and types
      Given Ana may read the catalog "sales"
      When Ana opens the table "sales.retail.orders"
      Then she sees its columns with their types, its owner and its description
      And the columns are:
        | column      | type          | nullable |
        | order_id    | bigint        | True     |
        | customer_id | bigint        | True     |
        | region      | string        | True     |
        | status      | string        | True     |
        | amount      | decimal(10,2) | True     |
        | quantity    | int           | True     |
        | ordered_at  | timestamp     | True     |
        | paid        | boolean       | True     |

    @US2_4 @minor
    Scenario: Unicode table names work
      Given Ana may read the catalog "sales"
      When Ana opens the table "sales.retail.ventes_été"
      Then she sees its columns with their types, its owner and its description

  Rule: No permission, no access

    @US2_7 @blocker
    Scenario Outline: Without permission on the <level>, the table is refused
      Given <grant>
      When Ana opens the table "sales.retail.orders"
      Then the request is refused with status 403 as "PERMISSION_DENIED"

      Examples:
        | level   | grant                                                        |
        | catalog | Ana may read the catalog "marketing"                         |
        | schema  | Ana may use the catalog "sales" but none of its schemas      |
        | table   | Ana may use the schema "sales.retail" but none of its tables |

    @US2_7 @critical
    Scenario: Without permission on a catalog, its schemas are refused
      When Ana lists the schemas of "hr"
      Then the request is refused with status 403 as "PERMISSION_DENIED"

  Rule: Missing objects are named in the refusal

    @US2_8 @critical
    Scenario Outline: A missing <object> is reported as such
      Given Ana may read the catalog "sales"
      When Ana opens the table "<table>"
      Then the request is refused with status 404 as "<code>"

      Examples:
        | object  | table                   | code              |
        | table   | sales.retail.refunds    | TABLE_NOT_FOUND   |
        | schema  | sales.wholesale.orders  | SCHEMA_NOT_FOUND  |
        | catalog | nowhere.retail.orders   | CATALOG_NOT_FOUND |

  Rule: Large catalogs page

    @US6_3 @critical @fault_injection
    Scenario: Ten thousand tables page through without gaps or repeats
      Given the schema "warehouse.staging" holds 10,000 tables
      And Ana may read the catalog "warehouse"
      When Ana pages through the table names of "warehouse.staging" 1000 at a time
      Then she receives 10,000 distinct table names in 10 pages
