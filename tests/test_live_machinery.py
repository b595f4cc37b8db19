"""Live-mode machinery, judged by the real SDK: seeded profiles, fixed accounts, factories, sweeper."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import NotImplemented as NotServed

from fixtures.drivers import factories
from fixtures.stack import live
from fixtures.workspace.__main__ import seed, write_config
from fixtures.workspace.app import create_workspace_app
from fixtures.workspace.server import BackgroundServer, free_port
from tools import sweeper

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The standalone fake as the live-against-fake run starts it: seeded, public API only."""
    port = free_port()
    app = create_workspace_app(control_api=False)
    accounts = json.loads((ROOT / "fixtures/data/live_seed.json").read_text())
    config = tmp_path_factory.mktemp("live") / "databrickscfg"
    write_config(seed(app.state.workspace, accounts, f"http://127.0.0.1:{port}"), config)
    server = BackgroundServer(app, "fake-workspace-seeded", port=port).start()
    yield config
    server.stop()


@pytest.fixture
def live_env(seeded: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("DATABRICKS_HOST", "DATABRICKS_TOKEN", "DATABRICKS_CONFIG_PROFILE", "ACCEPTANCE_APP_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(seeded))
    monkeypatch.setenv("ACCEPTANCE_USER_PROFILES", "Ana=ana,Ben=ben,Admin=DEFAULT")
    return seeded


def test_seeded_profiles_authenticate_through_unified_auth(live_env: Path) -> None:
    assert oct(live_env.stat().st_mode & 0o777) == "0o600"
    ana = WorkspaceClient(profile="ana").current_user.me()
    assert (ana.user_name, [g.display for g in ana.groups]) == ("ana.lima@example.com", ["analysts"])
    assert WorkspaceClient().current_user.me().user_name == "acceptance-admin@example.com"  # [DEFAULT]
    app = WorkspaceClient(profile="app")
    assert app.config.auth_type == "oauth-m2m"
    assert app.current_user.me().display_name == "acceptance-app"


def test_the_standalone_fake_has_no_control_api(live_env: Path) -> None:
    with pytest.raises(NotServed, match="does not serve POST /_fake/reset"):  # 501, as for any unserved call
        WorkspaceClient().api_client.do("POST", "/_fake/reset")


def test_requirements_name_what_is_missing(live_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PGHOST", "PGDATABASE", "PGUSER", "LAKEBASE_INSTANCE_NAME", "PGPASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ACCEPTANCE_USER_PROFILES", "Ana=ana,Cara=cara")
    missing = live.live_settings_missing()
    assert missing == [
        f"profile [cara] for Cara in {live_env} (or ACCEPTANCE_TOKEN_CARA)",
        "PGHOST",
        "PGDATABASE",
        "PGUSER",
        "LAKEBASE_INSTANCE_NAME (or PGPASSWORD)",
    ]
    assert "Missing now:\n  - profile [cara]" in live.requirements_message(missing)


def test_a_fixed_account_is_verified_not_created(live_env: Path) -> None:
    stack = live.LiveStack(mode="live", app_url="http://127.0.0.1:9", workspace_host="")
    ana = stack.create_person("Ana", ["analysts"])
    assert (ana.user_name, ana.display_name, ana.groups) == ("ana.lima@example.com", "Ana Lima", ["analysts"])
    with pytest.raises(live.LiveAccountNotReady, match=r"not in the group\(s\) 'data-scientists'"):
        stack.create_person("Ben", ["data-scientists"])
    with pytest.raises(live.LiveAccountNotReady, match="add Cara=<profile> to ACCEPTANCE_USER_PROFILES"):
        stack.create_person("Cara", [])


def test_factory_names_tags_and_removes_newest_first_and_survives_failed_removals(caplog) -> None:
    removed: list[str] = []

    def fail(_: object) -> None:
        raise RuntimeError("workspace said no")

    factory = factories.Factory("abc123")
    first = factory("catalog", lambda new: new, lambda made: removed.append(made.name))
    factory("Serving endpoint", lambda new: new, fail)
    shared = factory.once("champion", "model", lambda new: new, lambda made: removed.append(made.name))
    assert factory.once("champion", "model", lambda new: 1 / 0, lambda made: None) is shared
    assert first.name == f"acc_{factories.run_id()}_abc123_catalog_1"
    assert factory.made[1][1].endswith("_serving_endpoint_2")
    expiry = factories.parse_remove_after(first.tags["RemoveAfter"])
    assert dt.timedelta(minutes=58) < expiry - dt.datetime.now(dt.UTC) <= dt.timedelta(hours=1)
    failures = factory.cleanup()
    assert removed == [shared.name, first.name]
    assert len(failures) == 1 and "workspace said no" in failures[0]
    assert "could not remove Serving endpoint" in caplog.text


class Listed(sweeper.Kind):
    name = "thing"

    def __init__(self, items: list[sweeper.Leftover]) -> None:
        self.items, self.deleted = items, []

    def find(self, w, prefix):
        return iter(self.items)

    def delete(self, w, leftover):
        self.deleted.append(leftover.name)


def test_sweeper_lists_only_expired_unless_any_age_and_deletes_on_request() -> None:
    now = dt.datetime.now(dt.UTC)
    kind = Listed(
        [
            sweeper.Leftover("thing", "acc_old", "acc_old", now - dt.timedelta(minutes=1)),
            sweeper.Leftover("thing", "acc_new", "acc_new", now + dt.timedelta(minutes=59)),
            sweeper.Leftover("thing", "acc_untagged", "acc_untagged", None),
        ]
    )
    found = sweeper.sweep(None, "acc_", delete=False, any_age=False, kinds=[kind]).found
    assert [f.name for f in found] == ["acc_old", "acc_untagged"] and kind.deleted == []
    sweeper.sweep(None, "acc_", delete=True, any_age=True, kinds=[kind])
    assert kind.deleted == ["acc_old", "acc_new", "acc_untagged"]


def test_sweeper_against_the_workspace_reports_kinds_it_does_not_serve(live_env: Path, capsys) -> None:
    status = sweeper.main(["--any-age", "--fail-if-found"])
    out = capsys.readouterr().out
    assert "sweeper: 0 found" in out
    not_served = re.findall(r"^  (.+)s: NOT SERVED", out, re.MULTILINE)
    assert status == (1 if not_served else 0), out  # what it cannot list, it cannot vouch for


def test_mock_admin_client_is_a_workspace_admin_made_through_the_control_api(fake) -> None:
    from fixtures.stack.mock import Stack

    stack = Stack(mode="mock", app_url="", workspace_host=fake.host, control=fake.control)
    me = stack.admin_client().current_user.me()
    assert me.user_name == "acceptance-admin@example.com"
    assert [g.display for g in me.groups] == ["admins"]
    assert stack.admin_client() is stack.admin_client()
