"""The SDK authenticates against the fake exactly as against Databricks: PAT and OAuth M2M, no warnings."""

from __future__ import annotations

import logging
import warnings

import pytest
from databricks.sdk import WorkspaceClient
from databricks.sdk.core import Config
from databricks.sdk.errors import NotFound, PermissionDenied


def _no_sdk_warnings(caplog: pytest.LogCaptureFixture) -> None:
    noisy = [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("databricks") and r.levelno >= logging.WARNING
    ]
    assert noisy == []


def test_pat_client_reads_current_user(fake, caplog) -> None:
    user = fake.control.create_user("ana.contract@example.com", "Ana Contract", ["analysts"])
    with caplog.at_level(logging.WARNING), warnings.catch_warnings():
        warnings.simplefilter("error")
        me = WorkspaceClient(host=fake.host, token=user["token"], auth_type="pat").current_user.me()
    assert me.user_name == "ana.contract@example.com"
    assert me.display_name == "Ana Contract"
    assert [g.display for g in me.groups] == ["analysts"]
    assert me.emails[0].value == "ana.contract@example.com" and me.emails[0].primary
    _no_sdk_warnings(caplog)


def test_oauth_m2m_client_authenticates_as_service_principal(fake, caplog) -> None:
    with caplog.at_level(logging.WARNING):
        config = Config(
            host=fake.host,
            client_id=fake.service_principal.client_id,
            client_secret=fake.service_principal.client_secret,
            auth_type="oauth-m2m",
        )
        client = WorkspaceClient(config=config)
        me = client.current_user.me()
    assert me.user_name == fake.service_principal.client_id
    assert config.discovery_url == f"{fake.host}/oidc/.well-known/oauth-authorization-server"
    _no_sdk_warnings(caplog)
    # Lakebase credentials (real passwords) are proven in the features; an unknown instance is refused.
    with pytest.raises(NotFound, match="Database instance 'no-such-lakebase' does not exist"):
        client.database.generate_database_credential(instance_names=["no-such-lakebase"], request_id="r1")


def test_wrong_client_secret_is_refused(fake) -> None:
    config = Config(
        host=fake.host,
        client_id=fake.service_principal.client_id,
        client_secret="nope",
        auth_type="oauth-m2m",
    )
    with pytest.raises(Exception, match=r"invalid_client|Client authentication failed"):
        WorkspaceClient(config=config).current_user.me()


def test_unknown_and_expired_tokens_get_the_error_envelope(fake) -> None:
    """Databricks answers both with 403 and ``error_code`` 403 (see fixtures/workspace/auth.py)."""
    fake.control.create_user("ben.contract@example.com", "Ben Contract", [])
    expired = fake.control.create_token("ben.contract@example.com", lifetime_seconds=-1)
    for token in ("dapi" + "f" * 32, expired):
        with pytest.raises(PermissionDenied, match="Invalid access token"):
            WorkspaceClient(host=fake.host, token=token, auth_type="pat").current_user.me()
