"""Contract tests of the fake workspace: the real databricks-sdk is the judge of its fidelity."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from fixtures.clients import FakeControl
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
