"""The app's one mapping of workspace errors, fed with what the real SDK raises against the fake: the
service's own sentence only (never the SDK's configuration), every token refusal 401 INVALID_TOKEN, a
missing scope 403 MISSING_SCOPE naming it."""

from __future__ import annotations

import uuid

import pytest
from databricks.sdk import WorkspaceClient
from databricks.sdk.core import Config
from databricks.sdk.errors import DatabricksError

from fixtures.workspace.sql import WAREHOUSE_ID
from server.errors import from_workspace_error, workspace_message


def _raised(call) -> DatabricksError:
    with pytest.raises(DatabricksError) as raised:
        call()
    return raised.value


def _client(fake, token: str) -> WorkspaceClient:
    return WorkspaceClient(
        config=Config(host=fake.host, token=token, auth_type="pat", retry_timeout_seconds=5)
    )


def test_a_refusal_keeps_the_services_sentence_and_nothing_of_the_sdk_configuration(fake) -> None:
    user = fake.control.create_user(f"err.{uuid.uuid4().hex[:6]}@example.com", "Err User", [])
    error = _raised(
        lambda: _client(fake, user["token"]).statement_execution.execute_statement("SELECT 1", WAREHOUSE_ID)
    )
    assert "Config:" in str(error) and "host=" in str(error)  # what the SDK appends to 401/403 messages
    mapped = from_workspace_error(error)
    assert (mapped.status, mapped.code) == (403, "PERMISSION_DENIED")
    assert mapped.message == "User does not have permission to use this SQL warehouse (CAN_USE is needed)."
    for internal in ("Config", "host", "127.0.0.1", "token", "auth_type", "Env", "workspace_id"):
        assert internal not in mapped.message


@pytest.mark.parametrize("variant", ["unknown", "expired PAT", "expired OAuth", "revoked"])
def test_every_token_refusal_is_invalid_token(fake, variant: str) -> None:
    user_name = f"tok.{uuid.uuid4().hex[:6]}@example.com"
    fake.control.create_user(user_name, "Tok User", [])
    token = {
        "unknown": lambda: "dapi" + "0" * 32,
        "expired PAT": lambda: fake.control.create_token(user_name, lifetime_seconds=-1),
        "expired OAuth": lambda: fake.control.create_token(user_name, lifetime_seconds=-1, oauth=True),
        "revoked": lambda: fake.control.create_token(user_name),
    }[variant]()
    if variant == "revoked":
        fake.control.revoke_token(token)
    mapped = from_workspace_error(_raised(lambda: _client(fake, token).current_user.me()))
    assert (mapped.status, mapped.code) == (401, "INVALID_TOKEN")
    assert mapped.message == "The access token is invalid or expired."


def test_a_missing_scope_is_named(fake) -> None:
    user_name = f"scp.{uuid.uuid4().hex[:6]}@example.com"
    fake.control.create_user(user_name, "Scope User", [])
    token = fake.control.create_token(user_name, oauth=True, scopes=["iam.current-user:read"])
    mapped = from_workspace_error(_raised(lambda: list(_client(fake, token).serving_endpoints.list())))
    assert (mapped.status, mapped.code) == (403, "MISSING_SCOPE")
    assert "serving.serving-endpoints" in mapped.message
    assert mapped.details == [{"field": "scope", "issue": "serving.serving-endpoints"}]


def test_a_not_found_keeps_its_code_and_sentence(fake, admin) -> None:
    client, _ = admin
    error = _raised(lambda: client.serving_endpoints.get("no-such-endpoint"))
    mapped = from_workspace_error(error)
    assert (mapped.status, mapped.code) == (404, "RESOURCE_DOES_NOT_EXIST")
    assert (
        mapped.message == workspace_message(error) == "Endpoint with name 'no-such-endpoint' does not exist."
    )


def test_lakebase_credentials_renew_before_expiry_and_when_refused() -> None:
    import datetime as dt
    from types import SimpleNamespace

    from server.db import LakebaseCredentials

    issued: list[str] = []

    def generate(**_: object) -> SimpleNamespace:
        # the first credential is already within its renewal margin, the next ones last an hour
        lifetime = dt.timedelta(seconds=-1 if not issued else 3600)
        issued.append(f"token-{len(issued)}")
        expires = (dt.datetime.now(dt.UTC) + lifetime).isoformat().replace("+00:00", "Z")
        return SimpleNamespace(token=issued[-1], expiration_time=expires)

    workspace = SimpleNamespace(database=SimpleNamespace(generate_database_credential=generate))
    credentials = LakebaseCredentials(lambda: workspace, "acceptance-lakebase")
    assert credentials.password() == "token-0"
    assert credentials.password() == "token-1"  # token-0 was due: renewed before use
    assert credentials.password() == "token-1"  # an hour left: kept
    assert credentials.renew("token-0") == "token-1"  # a stale refusal does not renew twice
    assert credentials.renew("token-1") == "token-2"  # Postgres refused the current one: renewed
