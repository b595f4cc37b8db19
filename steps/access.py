"""Access: who may use which endpoint and the SQL warehouse, the app's user API scopes, tokens, credentials.

Grants are arranged as a workspace admin arranges them, with the SDK's permission calls
(``fixtures/drivers/permissions.py``), and undone after the scenario. Scopes, token expiry and Lakebase
credential expiry need the fake's control API (mock only, ``@fault_injection``).
"""

from __future__ import annotations

import httpx
import pytest
from pytest_bdd import given, parsers, then, when

from fixtures.drivers.clients import AppClient, FakeControl
from fixtures.drivers.permissions import Permissions
from fixtures.stack.mock import LAKEBASE_INSTANCE, Stack, forwarded_token_scopes
from fixtures.stack.plugin import Cast

WHO = r"(?P<who>[A-Z]\w+|she|he|they)"
ENDPOINT = r'the endpoint "(?P<endpoint>[^"]+)"'
LEVELS = {"query": "CAN_QUERY", "see": "CAN_VIEW", "manage": "CAN_MANAGE"}


# endpoint and warehouse permissions ---------------------------------------------------------------
@given(parsers.re(rf"(?P<who>[A-Z]\w+) may (?P<ability>query|see|manage) {ENDPOINT}$"))
def may_use_endpoint(people: Cast, serving, permissions: Permissions, who: str, ability: str, endpoint: str):
    """Grants the person CAN_QUERY (query), CAN_VIEW (see) or CAN_MANAGE (manage) on the endpoint."""
    permissions.on_endpoint(serving.name(endpoint), LEVELS[ability], user_name=people[who].user_name)


@when(parsers.re(rf"the workspace admin lets (?P<who>[A-Z]\w+) (?P<ability>query|see|manage) {ENDPOINT}$"))
def admin_lets(people: Cast, serving, permissions: Permissions, who: str, ability: str, endpoint: str):
    """Grants the level on an endpoint that exists by now (made by a When, such as a deployment)."""
    may_use_endpoint(people, serving, permissions, who, ability, endpoint)


@given(parsers.re(r"(?P<who>[A-Z]\w+) may use the SQL warehouse"))
def may_use_warehouse(people: Cast, permissions: Permissions, who: str) -> None:
    """Grants the person CAN_USE on the SQL warehouse the app reads table rows with."""
    permissions.on_warehouse("CAN_USE", user_name=people[who].user_name)


@given(parsers.re(r"(?:those|these) analysts may use the SQL warehouse"))
def analysts_may_use_warehouse(analysts: list, permissions: Permissions) -> None:
    """Grants CAN_USE on the SQL warehouse to the group the analysts of the scenario were made in."""
    permissions.on_warehouse("CAN_USE", group_name=analysts[0].groups[0])


@given(parsers.re(rf"(?:those|these) analysts may query {ENDPOINT}"))
def analysts_may_query(analysts: list, serving, permissions: Permissions, endpoint: str) -> None:
    """Grants CAN_QUERY on the endpoint to the group the analysts of the scenario were made in."""
    permissions.on_endpoint(serving.name(endpoint), "CAN_QUERY", group_name=analysts[0].groups[0])


TAKE_AWAY = rf"the workspace admin takes away (?P<who>[A-Z]\w+)'s permission on {ENDPOINT}"


@given(parsers.re(TAKE_AWAY))
@when(parsers.re(TAKE_AWAY))
def takes_endpoint_away(people: Cast, serving, permissions: Permissions, who: str, endpoint: str) -> None:
    """Removes the person's grant on the endpoint with the SDK, as an admin does mid-session."""
    permissions.revoke_endpoint(serving.name(endpoint), user_name=people[who].user_name)


@then(parsers.re(rf"the refusal is the one for an endpoint that does not exist, naming {ENDPOINT}"))
def refused_as_missing(serving, response: httpx.Response, endpoint: str) -> None:
    """Exactly the answer for a missing endpoint: 404 ENDPOINT_NOT_FOUND, the same sentence, nothing more."""
    assert response.status_code == 404, response.text
    error = response.json()["error"]
    assert error["code"] == "ENDPOINT_NOT_FOUND"
    assert (
        error["message"] == f"There is no serving endpoint named '{serving.name(endpoint)}' that you may use."
    )
    assert set(error) == {"code", "message", "request_id"}, error


@then(parsers.re(rf"(?:she|he|they) does not see {ENDPOINT} among the serving endpoints"))
def endpoint_not_listed(serving, response: httpx.Response, endpoint: str) -> None:
    """The list the person got does not name the endpoint."""
    assert response.status_code == 200, response.text
    assert serving.name(endpoint) not in [e["name"] for e in response.json()["endpoints"]]


# user API scopes ----------------------------------------------------------------------------------
@given(parsers.re(r'(?P<who>[A-Z]\w+) uses the app with a token that lacks the scope "(?P<scope>[^"]+)"'))
def token_lacks_scope(people: Cast, control: FakeControl, who: str, scope: str) -> None:
    """The Apps proxy forwards a token with every scope the app declares but that one (control API)."""
    person = people[who]
    scopes = forwarded_token_scopes()
    assert scope in scopes, f"the app does not declare {scope!r} (app.json): {scopes}"
    person.token = control.create_token(
        person.user_name, oauth=True, scopes=[s for s in scopes if s != scope]
    )
    person.app = AppClient(person.app.base_url, person.token, token_header=person.app.token_header)


@then(parsers.re(r'the request is refused for lack of the scope "(?P<scope>[^"]+)"'))
def refused_for_scope(response: httpx.Response, scope: str) -> None:
    """403 MISSING_SCOPE whose message and details name the scope the app's token lacked."""
    assert response.status_code == 403, response.text
    error = response.json()["error"]
    assert error["code"] == "MISSING_SCOPE", error
    assert scope in error["message"] and {"field": "scope", "issue": scope} in error["details"], error


# tokens -------------------------------------------------------------------------------------------
@given(parsers.re(r"(?P<who>[A-Z]\w+) signed in with a token that expires in one minute"))
def short_token(people: Cast, control: FakeControl, who: str) -> None:
    """The Apps proxy forwards a token (the app's scopes) that the workspace accepts for one more minute."""
    person = people[who]
    person.token = control.create_token(person.user_name, 60, oauth=True, scopes=forwarded_token_scopes())
    person.app = AppClient(person.app.base_url, person.token, token_header=person.app.token_header)


@when("a minute passes in the workspace")
def minute_passes(control: FakeControl, request: pytest.FixtureRequest) -> None:
    """The workspace's clock moves on 61 seconds (control API; moved back after the scenario). The app's own
    clock does not: only the workspace can tell that the token has expired."""
    control.advance_clock(61)
    request.addfinalizer(lambda: control.advance_clock(-61))


# Lakebase credentials -----------------------------------------------------------------------------
@when(
    "the app's database credential expires and Lakebase closes its connections", target_fixture="credentials"
)
def credential_expires(control: FakeControl) -> int:
    """Every credential of the app's Lakebase instance stops working, its open sessions end (control API)."""
    issued = control.database_credentials_issued(LAKEBASE_INSTANCE)
    control.expire_database_credentials(LAKEBASE_INSTANCE, close_connections=True)
    return issued


@then("the app got a new database credential")
def got_new_credential(control: FakeControl, credentials: int) -> None:
    """The app asked the workspace for a Lakebase credential after the old ones expired."""
    assert control.database_credentials_issued(LAKEBASE_INSTANCE) > credentials


@when(
    parsers.re(r'the app starts with the Lakebase instance "(?P<instance>[^"]+)"'), target_fixture="startup"
)
def app_starts_with_instance(stack: Stack, instance: str) -> str:
    """Starts a second app instance (in-process, mock only) configured with that Lakebase instance; returns
    what stopped it ('' if it started)."""
    import asyncio

    from server.app import create_app

    assert stack.app_settings is not None, "a second app instance starts in mock mode only (@fault_injection)"
    app = create_app(stack.app_settings.model_copy(update={"lakebase_instance_name": instance}))

    async def start() -> str:
        try:
            async with app.router.lifespan_context(app):
                return ""
        except Exception as stopped:
            return str(stopped)

    return asyncio.run(start())


@then(parsers.re(r'the app stops, saying the Lakebase instance "(?P<instance>[^"]+)" does not exist'))
def app_stopped(startup: str, instance: str) -> None:
    """The start-up failed with one sentence naming the instance and its setting, nothing internal."""
    assert startup, "the app started"
    assert f"Lakebase instance '{instance}' (LAKEBASE_INSTANCE_NAME) does not exist" in startup, startup
    assert "Traceback" not in startup and "client_id" not in startup and "http" not in startup, startup
