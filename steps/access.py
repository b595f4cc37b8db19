"""Access: who may use which endpoint and the SQL warehouse, the app's user API scopes, tokens, credentials.

Grants are arranged as a workspace admin arranges them, with the SDK's permission calls
(``fixtures/drivers/permissions.py``), and undone after the scenario. Scopes, token expiry and Lakebase
credential expiry need the fake's control API (mock only, ``@fault_injection``).
"""

from __future__ import annotations

import httpx
from pytest_bdd import given, parsers, then, when

from fixtures.drivers.app_variants import AppVariants
from fixtures.drivers.control import FakeControl
from fixtures.drivers.permissions import Permissions
from fixtures.stack.mock import LAKEBASE_INSTANCE, forwarded_token_scopes
from fixtures.stack.plugin import Cast
from steps.common import ENDPOINT, PERSON, error_of, person

LEVELS = {"query": "CAN_QUERY", "see": "CAN_VIEW", "manage": "CAN_MANAGE"}
ABILITY = "(?P<ability>query|see|manage)"
GRANTEE = person(pronouns=False)


# endpoint and warehouse permissions -----------------------------------------------------------------------
@given(parsers.re(rf"{GRANTEE} may {ABILITY} {ENDPOINT}$"))
@when(parsers.re(rf"the workspace admin lets {GRANTEE} {ABILITY} {ENDPOINT}$"))
def may_use_endpoint(people: Cast, serving, permissions: Permissions, who: str, ability: str, endpoint: str):
    """Grants the person CAN_QUERY (query), CAN_VIEW (see) or CAN_MANAGE (manage) on the endpoint."""
    permissions.on_endpoint(serving.name(endpoint), LEVELS[ability], user_name=people[who].user_name)


@given(parsers.re(rf"{GRANTEE} may use the SQL warehouse"))
def may_use_warehouse(people: Cast, permissions: Permissions, who: str) -> None:
    """Grants the person CAN_USE on the SQL warehouse the app reads table rows with."""
    permissions.on_warehouse("CAN_USE", user_name=people[who].user_name)


@given(parsers.re(rf"those analysts may (?P<what>use the SQL warehouse|query {ENDPOINT})"))
def analysts_may(analysts: list, serving, permissions: Permissions, what: str, endpoint: str | None) -> None:
    """Grants the group the scenario's analysts were made in CAN_USE on the warehouse or CAN_QUERY on the
    endpoint."""
    group = analysts[0].groups[0]
    if endpoint is None:
        permissions.on_warehouse("CAN_USE", group_name=group)
    else:
        permissions.on_endpoint(serving.name(endpoint), "CAN_QUERY", group_name=group)


TAKE_AWAY = rf"the workspace admin takes away {GRANTEE}'s permission on {ENDPOINT}"


@when(parsers.re(TAKE_AWAY))
def takes_endpoint_away(people: Cast, serving, permissions: Permissions, who: str, endpoint: str) -> None:
    """Removes the person's grant on the endpoint with the SDK, as an admin does mid-session."""
    permissions.revoke_endpoint(serving.name(endpoint), user_name=people[who].user_name)


@then(parsers.re(rf"the refusal is the one for an endpoint that does not exist, naming {ENDPOINT}"))
def refused_as_missing(serving, response: httpx.Response, endpoint: str) -> None:
    """Exactly the answer for a missing endpoint: 404 ENDPOINT_NOT_FOUND, the same sentence, nothing more."""
    assert response.status_code == 404, response.text
    error = error_of(response)
    assert error["code"] == "ENDPOINT_NOT_FOUND"
    assert (
        error["message"] == f"There is no serving endpoint named '{serving.name(endpoint)}' that you may use."
    )
    assert set(error) == {"code", "message", "request_id"}, error


@then(parsers.re(rf"{PERSON} does not see {ENDPOINT} among the serving endpoints"))
def endpoint_not_listed(people: Cast, serving, response: httpx.Response, who: str, endpoint: str) -> None:
    """The list the person got does not name the endpoint."""
    people.subject(who)
    assert response.status_code == 200, response.text
    assert serving.name(endpoint) not in [e["name"] for e in response.json()["endpoints"]]


# user API scopes --------------------------------------------------------------------------------------------
@given(parsers.re(rf'{PERSON} uses the app with a token that lacks the scope "(?P<scope>[^"]+)"'))
def token_lacks_scope(people: Cast, control: FakeControl, who: str, scope: str) -> None:
    """The Apps proxy forwards a token with every scope the app declares but that one (control API)."""
    subject = people.subject(who)
    scopes = forwarded_token_scopes()
    assert scope in scopes, f"the app does not declare {scope!r} (app.json): {scopes}"
    subject.token = control.create_token(
        subject.user_name, oauth=True, scopes=[s for s in scopes if s != scope]
    )
    subject.app = subject.app.as_user(subject.token)


@then(parsers.re(r'the request is refused for lack of the scope "(?P<scope>[^"]+)"'))
def refused_for_scope(response: httpx.Response, scope: str) -> None:
    """403 MISSING_SCOPE whose message and details name the scope the app's token lacked."""
    assert response.status_code == 403, response.text
    error = error_of(response)
    assert error["code"] == "MISSING_SCOPE", error
    assert scope in error["message"] and {"field": "scope", "issue": scope} in error["details"], error


# tokens -----------------------------------------------------------------------------------------------------
@given(parsers.re(rf"{PERSON} signed in with a token that expires in one minute"))
def short_token(people: Cast, control: FakeControl, who: str) -> None:
    """The Apps proxy forwards a token (the app's scopes) that the workspace accepts for one more minute."""
    subject = people.subject(who)
    subject.token = control.create_token(subject.user_name, 60, oauth=True, scopes=forwarded_token_scopes())
    subject.app = subject.app.as_user(subject.token)


@when("a minute passes in the workspace")
def minute_passes(control: FakeControl) -> None:
    """The workspace's clock moves on 61 seconds (control API; a clock only moves forward). The app's own
    clock does not: only the workspace can tell that the token has expired."""
    control.advance_clock(61)


# Lakebase credentials ---------------------------------------------------------------------------------------
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
def app_starts_with_instance(app_variants: AppVariants, instance: str) -> str:
    """Starts a second app instance with that Lakebase instance (mock only); keeps what stopped it."""
    return app_variants.start_failure(lakebase_instance_name=instance)


@then(parsers.re(r'the app stops, saying the Lakebase instance "(?P<instance>[^"]+)" does not exist'))
def app_stopped(startup: str, instance: str) -> None:
    """The start-up failed with one sentence naming the instance and its setting, nothing internal."""
    assert startup, "the app started"
    assert f"Lakebase instance '{instance}' (LAKEBASE_INSTANCE_NAME) does not exist" in startup, startup
    assert "Traceback" not in startup and "client_id" not in startup and "http" not in startup, startup
