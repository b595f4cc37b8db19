"""Who the user is: workspace users, their sign-in, their profile; the app's health as anyone sees it."""

from __future__ import annotations

import allure
import httpx
from pytest_bdd import given, parsers, then, when

from fixtures.drivers.app import AppClient
from fixtures.drivers.control import FakeControl
from fixtures.stack.mock import Stack
from fixtures.stack.plugin import Cast
from steps.common import OTHER, PERSON, POSSESSIVE, person

NAME = person("name", pronouns=False)
UNKNOWN_TOKEN = "dapi" + "0" * 32
# How someone without a valid sign-in calls, by the words features use -> the token sent (None: none).
CREDENTIALS = {"without signing in": None, "with a token the workspace never issued": UNKNOWN_TOKEN}
FORGED = rf"(?:,? claiming to be {OTHER} in forwarded identity headers)?"


def forged_headers(user_name: str) -> dict[str, str]:
    """The identity headers a caller could add to pass for someone else."""
    return {
        "X-Forwarded-Email": user_name,
        "X-Forwarded-User": user_name,
        "X-Forwarded-Preferred-Username": user_name,
    }


@given(parsers.re(rf'{NAME} is a workspace user(?: in the group "(?P<group>[^"]+)")?$'))
def workspace_user(people: Cast, name: str, group: str | None) -> None:
    """A workspace user with this first name exists (in the group, if one is named); later steps may say
    she/he/they."""
    people.add(name, [group] if group else [])


@when(
    parsers.re(
        rf"{PERSON} (?P<action>opens {POSSESSIVE} profile|checks whether the app is ready"
        r"|reads the app's operational metrics)"
        rf"(?P<expired> with an expired token)?{FORGED}$"
    ),
    target_fixture="response",
)
def person_calls(people: Cast, request, who: str, action: str, expired: str | None, other: str | None):
    """The person opens her own profile (or checks the readiness of the app she uses, or reads its Prometheus
    metrics), signed in with her token: an expired one if said (fault injection), with identity headers
    naming someone else if said."""
    caller = people.subject(who)
    app = caller.app
    if expired:
        control: FakeControl = request.getfixturevalue("control")
        app = app.as_user(control.create_token(caller.user_name, lifetime_seconds=-60))
    if other:
        app = app.as_user(caller.token, **forged_headers(people[other].user_name))
    if action.startswith("opens"):
        return app.profile()
    return app.readiness() if action.startswith("checks") else app.metrics()


@when(
    parsers.re(
        r"someone (?P<action>opens the profile|checks the app's health|checks whether the app is ready) "
        rf"(?P<credentials>without signing in|with a token the workspace never issued){FORGED}$"
    ),
    target_fixture="response",
)
def someone_calls(
    stack: Stack, people: Cast, action: str, credentials: str, other: str | None
) -> httpx.Response:
    """Someone without a valid sign-in calls the app: no token, or a well-formed token the workspace never
    issued; with identity headers naming a user, if said."""
    app = stack.anonymous().as_user(
        CREDENTIALS[credentials], **(forged_headers(people[other].user_name) if other else {})
    )
    if action == "opens the profile":
        return app.profile()
    return app.health() if action == "checks the app's health" else app.readiness()


@then(
    parsers.re(
        rf'{PERSON} sees {POSSESSIVE} own email and display name(?:, as a member of "(?P<group>[^"]+)")?'
    )
)
def sees_own_profile(people: Cast, response: httpx.Response, who: str, group: str | None) -> None:
    """The profile shown is the person's own: email, user name and display name from the workspace (and the
    group among her workspace groups, if one is named)."""
    person_ = people.subject(who)
    assert response.status_code == 200, response.text
    profile = response.json()
    assert profile["email"] == person_.user_name
    assert profile["user_name"] == person_.user_name
    assert profile["display_name"] == person_.display_name
    assert group is None or group in profile["groups"], profile


READINESS = (
    "healthy",
    "ready, with the workspace and the database schema up to date",
    "ready, with no database configured",
    "not ready because of its database",
)


@then(parsers.re(r"the app reports it is (?P<state>" + "|".join(READINESS) + ")"))
def reports_state(response: httpx.Response, state: str) -> None:
    """Health: the process answers. Readiness: 'ready' (200) when the workspace answers and the database is
    at the latest schema, or not configured at all; 'not_ready' (503) naming the database, the workspace
    still fine."""
    from server.db.migrations import head

    if state == "healthy":
        assert response.status_code == 200 and response.json()["status"] == "ok", response.text
        return
    report = response.json()
    checks = {check["name"]: check for check in report["checks"]}
    assert checks["workspace"]["status"] == "ok", report
    if state.startswith("not ready"):
        assert response.status_code == 503 and report["status"] == "not_ready", report
        assert checks["database"]["status"] == "failing" and checks["database"]["reason"], report
        return
    assert response.status_code == 200 and report["status"] == "ready", report
    if "no database" in state:
        assert checks["database"]["status"] == "not_configured", report
    else:
        assert checks["database"]["schema_revision"] == head(), report


@when(parsers.re(r"someone calls every route of the app (?P<credentials>.+)"), target_fixture="route_answers")
def calls_every_route(stack: Stack, people: Cast, credentials: str) -> dict[str, httpx.Response]:
    """Enumerates the routes from the app's own OpenAPI description (read as a signed-in user)."""
    # Any signed-in user may read it: the scenario's current person, else one more (live accounts are fixed).
    reader = people.current or people.add("Auditor", subject=False)
    caller = stack.anonymous().as_user(CREDENTIALS[credentials]).quiet()
    answers = {}
    for method, path in reader.app.quiet().routes():
        kwargs = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
        answers[f"{method} {path}"] = caller.call(method, path, **kwargs)
    allure.attach(
        "\n".join(f"{route} -> {r.status_code}" for route, r in answers.items()),
        name="routes called",
        attachment_type=allure.attachment_type.TEXT,
    )
    return answers


@then(parsers.parse('every route but health refuses the call with status 401 as "{code}"'))
def every_route_refuses(route_answers: dict[str, httpx.Response], code: str) -> None:
    """Every route of the app except the health checks refused the call with 401 and this error code."""
    health = {r: a for r, a in route_answers.items() if AppClient.is_health_route(r.split(" ", 1)[1])}
    others = {r: a for r, a in route_answers.items() if r not in health}
    assert len(others) >= 2, f"expected the app's user routes, found {list(route_answers)}"
    wrong = {
        r: a.status_code
        for r, a in others.items()
        if a.status_code != 401 or a.json()["error"]["code"] != code
    }
    assert not wrong, f"routes that did not refuse with 401 {code}: {wrong}"
    assert all(a.status_code == 200 for a in health.values()), {r: a.status_code for r, a in health.items()}
