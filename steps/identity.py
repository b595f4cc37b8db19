"""Who the user is: workspace users, their sign-in, their profile."""

from __future__ import annotations

import allure
import httpx
from pytest_bdd import given, parsers, then, when

from fixtures.drivers.app import AppClient
from fixtures.drivers.control import FakeControl
from fixtures.stack.mock import Stack
from fixtures.stack.plugin import Cast

PRONOUN = r"(?:her|his|their)"


@given(parsers.re(r'(?P<name>[A-Z]\w+) is a workspace user in the group "(?P<group>[^"]+)"'))
def user_in_group(people: Cast, name: str, group: str) -> None:
    """A workspace user with this first name exists, member of the group; later steps may say she/he/they."""
    people.add(name, [group])


@given(parsers.re(r"(?P<name>[A-Z]\w+) is a workspace user$"))
def workspace_user(people: Cast, name: str) -> None:
    """A workspace user with this first name exists (no groups)."""
    people.add(name)


@when(parsers.re(rf"(?P<who>\w+) opens {PRONOUN} profile$"), target_fixture="response")
def opens_profile(people: Cast, who: str) -> httpx.Response:
    """The person opens her own profile in the app, signed in with her Databricks token."""
    return people[who].app.profile()


@when(
    parsers.re(
        rf"(?P<who>\w+) opens {PRONOUN} profile claiming to be (?P<other>\w+) in forwarded identity headers"
    ),
    target_fixture="response",
)
def opens_profile_forging_headers(people: Cast, who: str, other: str) -> httpx.Response:
    """The person opens her profile with her token, plus identity headers naming someone else."""
    impostor, victim = people[who], people[other]
    people.last = impostor
    forged = {
        "X-Forwarded-Email": victim.user_name,
        "X-Forwarded-User": victim.user_name,
        "X-Forwarded-Preferred-Username": victim.user_name,
    }
    return impostor.app.as_user(impostor.token, **forged).profile()


@when(
    parsers.re(r"someone claiming to be (?P<other>\w+) opens the profile without a token"),
    target_fixture="response",
)
def forged_headers_only(stack: Stack, people: Cast, other: str) -> httpx.Response:
    """Someone with no token sends identity headers naming this person."""
    victim = people[other]
    return stack.anonymous().as_user(None, **{"X-Forwarded-Email": victim.user_name}).profile()


@when("someone opens the profile without signing in", target_fixture="response")
def profile_without_token(stack: Stack) -> httpx.Response:
    """Someone opens the profile without any sign-in token."""
    return stack.anonymous().profile()


@when("someone opens the profile with a token the workspace never issued", target_fixture="response")
def profile_with_unknown_token(stack: Stack) -> httpx.Response:
    """Someone opens the profile with a well-formed token the workspace never issued."""
    return stack.anonymous().as_user("dapi" + "0" * 32).profile()


@when(
    parsers.re(r"(?P<who>\w+) opens (?:her|his|their) profile with an expired token"),
    target_fixture="response",
)
def profile_with_expired_token(people: Cast, control: FakeControl, who: str) -> httpx.Response:
    """The person opens her profile with a token that expired a minute ago (fault injection)."""
    person = people[who]
    expired = control.create_token(person.user_name, lifetime_seconds=-60)
    return person.app.as_user(expired).profile()


@when("someone checks the app's health without signing in", target_fixture="response")
def health_without_token(stack: Stack) -> httpx.Response:
    """Someone checks the app's health endpoint without signing in."""
    return stack.anonymous().health()


@then(parsers.re(rf"(?P<who>\w+) sees {PRONOUN} own email and display name"))
def sees_own_profile(people: Cast, response: httpx.Response, who: str) -> None:
    """The profile shown is the person's own: email, user name and display name from the workspace."""
    person = people[who]
    assert response.status_code == 200, response.text
    profile = response.json()
    assert profile["email"] == person.user_name
    assert profile["user_name"] == person.user_name
    assert profile["display_name"] == person.display_name


@then(parsers.re(r'(?P<who>\w+) is shown as a member of "(?P<group>[^"]+)"'))
def shown_in_group(people: Cast, response: httpx.Response, who: str, group: str) -> None:
    """The profile lists the group among the person's workspace groups."""
    people[who]
    assert group in response.json()["groups"], response.json()


@then("the app reports it is healthy")
def reports_healthy(response: httpx.Response) -> None:
    """The health check answered OK."""
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "ok"


@when("someone checks whether the app is ready without signing in", target_fixture="response")
def readiness_without_token(stack: Stack) -> httpx.Response:
    """Someone checks whether the app is ready (workspace reachable, database schema current), unsigned."""
    return stack.anonymous().readiness()


@then("the app reports it is ready, with the workspace and the database schema up to date")
def reports_ready(response: httpx.Response) -> None:
    """The readiness check says ready: the workspace answers and the database schema is at the latest."""
    from server.db.migrations import head

    assert response.status_code == 200, response.text
    report = response.json()
    checks = {check["name"]: check for check in report["checks"]}
    assert report["status"] == "ready"
    assert checks["workspace"]["status"] == "ok"
    assert checks["database"]["schema_revision"] == head()


@when(parsers.re(r"someone calls every route of the app (?P<credentials>.+)"), target_fixture="route_answers")
def calls_every_route(stack: Stack, people: Cast, credentials: str) -> dict[str, httpx.Response]:
    """Enumerates the routes from the app's own OpenAPI description (read as a signed-in user)."""
    # Any signed-in user may read it: the scenario's last person, else one more (live accounts are fixed).
    reader = people.last or people.add("Auditor")
    token = {"without signing in": None, "with a token the workspace never issued": "dapi" + "e" * 32}[
        credentials
    ]
    caller = stack.anonymous().as_user(token).quiet()
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
