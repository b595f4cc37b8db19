"""Contract tests of the fake workspace: the real databricks-sdk is the judge of its fidelity."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from databricks.sdk import WorkspaceClient

from fixtures.drivers.control import FakeControl
from fixtures.drivers.factories import Factory, Makers, scope_key
from fixtures.drivers.permissions import Permissions
from fixtures.drivers.workspace_admin import WorkspaceAdmin
from fixtures.stack.mock import Stack
from fixtures.workspace.app import create_workspace_app
from fixtures.workspace.server import (
    BackgroundServer,
    ServicePrincipalCredentials,
    bootstrap_service_principal,
)


@dataclass
class Fake:
    host: str
    control: FakeControl
    service_principal: ServicePrincipalCredentials


@pytest.fixture(scope="session")
def fake() -> Iterator[Fake]:
    app = create_workspace_app()
    sp = bootstrap_service_principal(app.state.workspace, "contract-tests")
    server = BackgroundServer(app, "fake-workspace-contract").start()
    yield Fake(server.url, FakeControl(server.url), sp)
    server.stop()


@pytest.fixture(scope="module")
def admin(fake: Fake) -> tuple[WorkspaceClient, str]:
    """A metastore admin (group "admins") of the fake, one per test module: (SDK client, token)."""
    user = fake.control.create_user(f"admin.{uuid.uuid4().hex[:6]}@example.com", "Contract Admin", ["admins"])
    return WorkspaceClient(host=fake.host, token=user["token"], auth_type="pat"), user["token"]


@pytest.fixture(scope="module")
def mlflow_workspace(
    fake: Fake, admin: tuple[WorkspaceClient, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """MLflow on the fake as a job has it (``databricks`` / ``databricks-uc``, the admin's host and token)
    and a catalog and schema to register models in; yields that ``catalog.schema``."""
    from fixtures.stack.mock import workspace_environment

    w, token = admin
    catalog = f"mlflow_{uuid.uuid4().hex[:6]}"
    w.catalogs.create(catalog)
    w.schemas.create("models", catalog)
    restore = workspace_environment(fake.host, token, tmp_path_factory.mktemp("auth") / "databrickscfg")
    yield f"{catalog}.models"
    restore()


@pytest.fixture(scope="module")
def may_use_warehouse(admin: tuple[WorkspaceClient, str]) -> Callable[[str], None]:
    """Grants CAN_USE on the fake's SQL warehouse to a user (running a statement needs it in Databricks)."""
    from databricks.sdk.service.sql import WarehouseAccessControlRequest, WarehousePermissionLevel

    from fixtures.workspace.sql import WAREHOUSE_ID

    def grant(user_name: str) -> None:
        entry = WarehouseAccessControlRequest(
            user_name=user_name, permission_level=WarehousePermissionLevel.CAN_USE
        )
        admin[0].warehouses.update_permissions(WAREHOUSE_ID, access_control_list=[entry])

    return grant


@pytest.fixture(scope="module")
def module_makers(stack: Stack) -> Iterator[Makers]:
    """``make_*`` for the workspace objects one test module shares (prefixed, tagged RemoveAfter, removed when
    the module ends). Tables are made with the admin's SQL here: the suite's ``catalog_admin`` needs the
    session-wide ``admin`` that this conftest replaces with its own."""
    factory = Factory(scope_key(f"module {uuid.uuid4().hex[:6]}"))
    makers = Makers(factory, stack)
    admin = stack.admin_client()
    warehouse_id = next(w.id for w in admin.warehouses.list() if w.id)
    makers.sql = WorkspaceAdmin(admin, "", warehouse_id, makers, factory.prefix).sql
    yield makers
    factory.cleanup()


@pytest.fixture(scope="module")
def module_permissions(stack: Stack, module_makers: Makers) -> Permissions:
    """Serving endpoint and SQL warehouse grants of one test module, undone when it ends."""
    admin = stack.admin_client()
    warehouse_id = next(w.id for w in admin.warehouses.list() if w.id)
    return Permissions(admin, warehouse_id, module_makers.factory)
