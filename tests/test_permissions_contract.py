"""Contract tests of the fake's access control, judged by the real databricks-sdk: the Permissions API for
serving endpoints and SQL warehouses through the SDK's own calls, each refusal raising the exception class
Databricks' answer raises, OAuth scopes, and the token refusals."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from databricks.sdk import WorkspaceClient
from databricks.sdk.core import Config
from databricks.sdk.errors import InvalidParameterValue, NotFound, PermissionDenied, ResourceDoesNotExist
from databricks.sdk.service.iam import ComplexValue
from databricks.sdk.service.serving import (
    EndpointCoreConfigInput,
    ServedEntityInput,
    ServingEndpointAccessControlRequest,
    ServingEndpointPermissionLevel,
)
from databricks.sdk.service.sql import (
    StatementState,
    WarehouseAccessControlRequest,
    WarehousePermissionLevel,
)

from fixtures.drivers.factories import Factory, Makers
from fixtures.drivers.serving_models import ServedModels, register_served_models, sample_records
from fixtures.stack.mlflow_store import fresh_store
from fixtures.stack.mock import CACHE, Stack
from fixtures.workspace.sql import WAREHOUSE_ID


def _client(fake, token: str) -> WorkspaceClient:
    return WorkspaceClient(
        config=Config(host=fake.host, token=token, auth_type="pat", retry_timeout_seconds=5)
    )


def _user(fake, name: str, groups: list[str] | None = None, **token) -> tuple[str, WorkspaceClient]:
    user_name = f"{name}.{uuid.uuid4().hex[:6]}@example.com"
    created = fake.control.create_user(user_name, name.title(), groups or [], **token)
    return user_name, _client(fake, created["token"])


@pytest.fixture(scope="module")
def models(fake) -> Iterator[ServedModels]:
    store = fresh_store(CACHE / "mlflow", "contract-permissions")
    stack = Stack(
        mode="mock",
        app_url="",
        workspace_host=fake.host,
        control=fake.control,
        mlflow_store=store,
        mlflow_tracking_uri=store.tracking_uri,
        mlflow_registry_uri=store.registry_uri,
        mlflow_artifact_location=store.artifact_location,
        model_schema="main.permissions",
    )
    fake.control._call(
        "POST",
        "/serving/mlflow",
        json={"tracking_uri": store.tracking_uri, "registry_uri": store.registry_uri},
    )
    factory = Factory("permissions")
    yield register_served_models(stack, Makers(factory, stack))
    factory.cleanup()


@pytest.fixture
def endpoint(fake, admin, models):  # -> (name, id) of an endpoint the admin created
    client, _ = admin
    name = f"perm-{uuid.uuid4().hex[:8]}"
    entity = ServedEntityInput(entity_name=models.churn, entity_version=models.churn_versions[1])
    created = client.serving_endpoints.create_and_wait(
        name, config=EndpointCoreConfigInput(name=name, served_entities=[entity])
    )
    yield name, created.id
    client.serving_endpoints.delete(name)


def _grant(client: WorkspaceClient, endpoint_id: str, level: ServingEndpointPermissionLevel, **who):
    return client.serving_endpoints.update_permissions(
        endpoint_id, access_control_list=[ServingEndpointAccessControlRequest(permission_level=level, **who)]
    )


# serving endpoints ----------------------------------------------------------------------------------------
def test_the_creator_and_admins_manage_an_endpoint_nobody_else_sees_it(fake, admin, endpoint) -> None:
    client, _ = admin
    name, endpoint_id = endpoint
    acl = client.serving_endpoints.get_permissions(endpoint_id)
    assert acl.object_id == f"/serving-endpoints/{endpoint_id}" and acl.object_type == "serving-endpoint"
    entries = {(e.user_name or e.group_name): e.all_permissions[0] for e in acl.access_control_list}
    creator = client.current_user.me().user_name
    assert entries[creator].permission_level == ServingEndpointPermissionLevel.CAN_MANAGE
    assert not entries[creator].inherited
    assert entries["admins"].inherited and entries["admins"].inherited_from_object == ["/serving-endpoints/"]
    assert client.serving_endpoints.get(name).permission_level.value == "CAN_MANAGE"

    _, ana = _user(fake, "ana")
    assert name not in [e.name for e in ana.serving_endpoints.list()]
    with pytest.raises(PermissionDenied):
        ana.serving_endpoints.get(name)
    with pytest.raises(PermissionDenied):
        ana.serving_endpoints.query(name, dataframe_records=sample_records(1, seed=1))
    with pytest.raises(ResourceDoesNotExist):  # a missing endpoint is still 404, whoever asks
        ana.serving_endpoints.get(f"{name}-missing")


def test_each_level_opens_exactly_its_abilities(fake, admin, endpoint) -> None:
    client, _ = admin
    name, endpoint_id = endpoint
    viewer_name, viewer = _user(fake, "vic")
    querier_name, querier = _user(fake, "quinn")
    _grant(client, endpoint_id, ServingEndpointPermissionLevel.CAN_VIEW, user_name=viewer_name)
    _grant(client, endpoint_id, ServingEndpointPermissionLevel.CAN_QUERY, user_name=querier_name)

    assert viewer.serving_endpoints.get(name).permission_level.value == "CAN_VIEW"
    assert name in [e.name for e in viewer.serving_endpoints.list()]
    assert viewer.serving_endpoints.get_open_api(name).contents is not None
    with pytest.raises(PermissionDenied):
        viewer.serving_endpoints.query(name, dataframe_records=sample_records(1, seed=1))

    answer = querier.serving_endpoints.query(name, dataframe_records=sample_records(2, seed=1))
    assert len(answer.predictions) == 2
    for refused in (
        lambda: querier.serving_endpoints.delete(name),
        lambda: querier.serving_endpoints.get_permissions(endpoint_id),
        lambda: _grant(
            querier, endpoint_id, ServingEndpointPermissionLevel.CAN_MANAGE, user_name=querier_name
        ),
    ):
        with pytest.raises(PermissionDenied):
            refused()


def test_a_group_grant_reaches_its_members_and_set_replaces_grants(fake, admin, endpoint) -> None:
    client, _ = admin
    name, endpoint_id = endpoint
    _, member = _user(fake, "gina", ["scorers"])
    _grant(client, endpoint_id, ServingEndpointPermissionLevel.CAN_QUERY, group_name="scorers")
    assert member.serving_endpoints.query(name, dataframe_records=sample_records(1, seed=2)).predictions

    creator = client.current_user.me().user_name
    replaced = client.serving_endpoints.set_permissions(
        endpoint_id,
        access_control_list=[
            ServingEndpointAccessControlRequest(
                user_name=creator, permission_level=ServingEndpointPermissionLevel.CAN_MANAGE
            )
        ],
    )
    assert {e.group_name or e.user_name for e in replaced.access_control_list} == {creator, "admins"}
    with pytest.raises(PermissionDenied):
        member.serving_endpoints.get(name)


def test_grants_to_principals_that_do_not_exist_and_to_unknown_objects_are_refused(admin, endpoint) -> None:
    client, _ = admin
    _, endpoint_id = endpoint
    with pytest.raises(InvalidParameterValue, match=r"UserName\(nobody@example.com\) does not exist"):
        _grant(client, endpoint_id, ServingEndpointPermissionLevel.CAN_QUERY, user_name="nobody@example.com")
    with pytest.raises(InvalidParameterValue, match=r"GroupName\(no-such-group\) does not exist"):
        _grant(client, endpoint_id, ServingEndpointPermissionLevel.CAN_QUERY, group_name="no-such-group")
    with pytest.raises(ResourceDoesNotExist):
        client.serving_endpoints.get_permissions("0" * 32)
    levels = client.serving_endpoints.get_permission_levels(endpoint_id).permission_levels
    assert [lvl.permission_level.value for lvl in levels] == ["CAN_VIEW", "CAN_QUERY", "CAN_MANAGE"]


# SQL warehouses ---------------------------------------------------------------------------------------------
def test_a_statement_needs_can_use_on_the_warehouse(fake, admin) -> None:
    client, _ = admin
    user_name, ana = _user(fake, "wanda")
    with pytest.raises(PermissionDenied):
        ana.statement_execution.execute_statement("SELECT 1", WAREHOUSE_ID, wait_timeout="5s")

    for level in (WarehousePermissionLevel.CAN_VIEW, WarehousePermissionLevel.CAN_MONITOR):
        client.warehouses.update_permissions(
            WAREHOUSE_ID,
            access_control_list=[WarehouseAccessControlRequest(user_name=user_name, permission_level=level)],
        )
        with pytest.raises(PermissionDenied):
            ana.statement_execution.execute_statement("SELECT 1", WAREHOUSE_ID, wait_timeout="5s")

    granted = client.warehouses.update_permissions(
        WAREHOUSE_ID,
        access_control_list=[
            WarehouseAccessControlRequest(
                user_name=user_name, permission_level=WarehousePermissionLevel.CAN_USE
            )
        ],
    )
    assert granted.object_id == f"/sql/warehouses/{WAREHOUSE_ID}" and granted.object_type == "warehouses"
    response = ana.statement_execution.execute_statement("SELECT 1", WAREHOUSE_ID, wait_timeout="5s")
    assert response.status.state == StatementState.SUCCEEDED
    with pytest.raises(PermissionDenied):
        ana.warehouses.get_permissions(WAREHOUSE_ID)
    levels = [
        lvl.permission_level.value
        for lvl in client.warehouses.get_permission_levels(WAREHOUSE_ID).permission_levels
    ]
    assert levels == ["CAN_VIEW", "CAN_MONITOR", "CAN_USE", "CAN_MANAGE", "IS_OWNER"]


# scopes, tokens, SCIM ---------------------------------------------------------------------------------------
def test_an_oauth_token_is_refused_outside_its_scopes(fake) -> None:
    user_name, scoped = _user(
        fake, "sam", oauth=True, scopes=["iam.current-user:read", "catalog.catalogs:read"]
    )
    assert scoped.current_user.me().user_name == user_name
    list(scoped.catalogs.list())  # within its scopes
    with pytest.raises(PermissionDenied, match="does not have required scopes: sql"):
        scoped.statement_execution.execute_statement("SELECT 1", WAREHOUSE_ID, wait_timeout="5s")
    with pytest.raises(PermissionDenied, match=r"does not have required scopes: serving\.serving-endpoints"):
        list(scoped.serving_endpoints.list())
    with pytest.raises(PermissionDenied, match=r"does not have required scopes: catalog\.schemas:read"):
        list(scoped.schemas.list(catalog_name="main"))


def test_invalid_and_expired_tokens_are_refused_as_databricks_refuses_them(fake) -> None:
    user_name, _ = _user(fake, "tom")
    expired_pat = fake.control.create_token(user_name, lifetime_seconds=-1)
    expired_oauth = fake.control.create_token(user_name, lifetime_seconds=-1, oauth=True)
    for token, message in (
        ("dapi" + "f" * 32, "Invalid access token"),
        (expired_pat, "Invalid access token"),
        (expired_oauth, "JWT has expired"),
    ):
        with pytest.raises(PermissionDenied, match=message) as refused:
            _client(fake, token).current_user.me()
        assert refused.value.error_code == 403  # a number, as Databricks sends it


def test_an_oauth_token_expires_on_the_workspace_clock(fake) -> None:
    user_name, _ = _user(fake, "olga")
    token = fake.control.create_token(user_name, lifetime_seconds=600, oauth=True)
    client = _client(fake, token)
    assert client.current_user.me().user_name == user_name
    fake.control.advance_clock(601)  # the clock only moves forward: later tests mint their tokens after it
    with pytest.raises(PermissionDenied, match="JWT has expired"):
        client.current_user.me()


def test_scim_groups_carry_the_group_id_in_value_and_the_name_in_display(fake) -> None:
    _, client = _user(fake, "greta", ["analysts", "model-monitors"])
    groups = client.current_user.me().groups
    assert sorted(g.display for g in groups) == ["analysts", "model-monitors"]
    assert all(isinstance(g, ComplexValue) and g.value and g.value.isdigit() for g in groups)
    assert len({g.value for g in groups}) == 2


def test_a_missing_endpoint_is_not_found_for_permissions_too(admin) -> None:
    client, _ = admin
    with pytest.raises(NotFound):
        client.serving_endpoints.get("no-such-endpoint")


def test_unity_catalog_refuses_grants_to_principals_it_cannot_resolve(fake, admin) -> None:
    from databricks.sdk.service.catalog import PermissionsChange, Privilege

    client, _ = admin
    catalog = f"perm_{uuid.uuid4().hex[:8]}"
    client.catalogs.create(catalog)
    try:
        user_name, _ = _user(fake, "uma", ["uc-readers"])
        for grantee in (user_name, "uc-readers", "account users"):
            change = PermissionsChange(add=[Privilege.USE_CATALOG], principal=grantee)
            client.grants.update("catalog", catalog, changes=[change])
        for grantee in ("nobody@example.com", "no-such-group", "users", "admins"):
            change = PermissionsChange(add=[Privilege.USE_CATALOG], principal=grantee)
            with pytest.raises(NotFound, match=f"Could not find principal with name {grantee}"):
                client.grants.update("catalog", catalog, changes=[change])
    finally:
        client.catalogs.delete(catalog, force=True)


def test_permissions_of_an_object_kind_the_fake_does_not_keep_are_a_call_it_does_not_serve(admin) -> None:
    from databricks.sdk.errors import NotImplemented as NotServed

    client, _ = admin
    with pytest.raises(NotServed, match=r"does not serve GET /api/2\.0/permissions/jobs/"):
        client.jobs.get_permissions("123")
