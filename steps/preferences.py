"""Preferences: saving, reading, listing and deleting them, alone, side by side and all at once."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import allure
import httpx
import pytest
from pytest_bdd import given, parsers, then, when

from fixtures.drivers.clients import AppClient
from fixtures.drivers.lakebase import Lakebase
from fixtures.drivers.wire import send_body
from fixtures.reporting.scenario_lookup import scenario_of
from fixtures.stack.mock import Person, Stack
from fixtures.stack.plugin import Cast
from server.models.preferences import MAX_VALUE_BYTES

PRONOUN = r"(?:her|his|their)"
WHO = r"(?P<who>[A-Z]\w*|she|he|they)"
BASE = "/api/preferences"

# Bodies no valid save would send, by the words a feature uses for them.
INVALID_BODIES: dict[str, bytes] = {
    "no value at all": b"{}",
    "text that is not JSON": b'{"value": dark}',
    "a value nested 40 levels deep": b'{"value": ' + b"[" * 40 + b"]" * 40 + b"}",
    "a value nested 5000 levels deep": b'{"value": ' + b"[" * 5000 + b"]" * 5000 + b"}",
    "a number too large for JSON": b'{"value": 1e400}',
    "a value and an unknown field": b'{"value": "dark", "colour": "blue"}',
    "text containing a NUL character": b'{"value": "before\\u0000after"}',
    "text holding half of a surrogate pair": b'{"value": "\\ud83d alone"}',
    "a value whose object names a key twice": b'{"value": {"page_size": 50, "page_size": 100}}',
}
# Rows written behind the app's back (US5.4): JSON that PostgreSQL accepts but this API cannot represent.
DAMAGED_VALUES: dict[str, str] = {
    "an integer 5000 digits long": "9" * 5000,
    "a value nested 200 levels deep": "[" * 200 + "]" * 200,
    "a value nested 5000 levels deep": "[" * 5000 + "]" * 5000,
    "a number too large for JSON": "1e400",
}


def url(key: str) -> str:
    return f"{BASE}/{quote(key, safe='')}"


def value_of(phrase: str) -> Any:
    """The JSON value a phrase stands for: "text", the number 42, the list "a", "b", nothing."""
    phrase = phrase.strip()
    if phrase.startswith('"') and phrase.endswith('"') and len(phrase) >= 2:
        return phrase[1:-1]
    if phrase.startswith("the number "):
        return json.loads(phrase.removeprefix("the number "))
    if phrase.startswith("the list "):
        return [item.strip().strip('"') for item in phrase.removeprefix("the list ").split('", "')]
    if phrase == "nothing":
        return None
    if phrase == "text with a tab and a line break":
        return "first\tline\nsecond line"
    raise ValueError(f'no value called {phrase!r}: use "text", the number N, the list "a", "b" or nothing')


@dataclass
class Saved:
    """What the scenario saved, by person and key, and the answers to its saves."""

    values: dict[tuple[str, str], Any] = field(default_factory=dict)
    answers: dict[tuple[str, str], list[httpx.Response]] = field(default_factory=dict)
    outcome: dict[str, Any] = field(default_factory=dict)  # results of bulk and concurrent steps

    def record(self, person: Person, key: str, value: Any, response: httpx.Response) -> None:
        self.answers.setdefault((person.user_name, key), []).append(response)
        if response.status_code in (200, 201):
            self.values[(person.user_name, key)] = value


@pytest.fixture
def saved() -> Saved:
    return Saved()


def save(
    person: Person, key: str, value: Any, saved: Saved, client: AppClient | None = None
) -> httpx.Response:
    response = (client or person.app).put(url(key), json={"value": value})
    saved.record(person, key, value, response)
    return response


def in_parallel(calls: list[Callable[[], Any]], workers: int | None = None) -> list[Any]:
    """Run the calls in parallel; results in call order. Without ``workers``, one thread per call, all
    released together by a barrier, so every request is really in flight at the same time."""
    barrier = None if workers else threading.Barrier(len(calls))

    def run(call: Callable[[], Any]) -> Any:
        if barrier is not None:
            barrier.wait(30)
        return call()

    with ThreadPoolExecutor(max_workers=workers or len(calls)) as pool:
        return list(pool.map(run, calls))


def summarise(name: str, lines: list[str]) -> None:
    allure.attach("\n".join(lines), name=name, attachment_type=allure.attachment_type.TEXT)


def body(response: httpx.Response) -> dict:
    assert response.headers.get("content-type", "").startswith("application/json"), response.text
    return response.json()


def wipe_preferences(client: AppClient) -> int:
    """Delete every preference of the client's user through the app; returns how many."""
    deleted = 0
    for _ in range(1000):  # bounded: a key that cannot be deleted must not hang the run
        items = client.get(BASE, params={"limit": 100}).json().get("items")
        if not items:
            break
        for item in items:
            deleted += client.delete(url(item["key"])).status_code == 204
    return deleted


@pytest.fixture(autouse=True)
def fresh_live_preferences(request: pytest.FixtureRequest, stack: Stack) -> Iterator[None]:
    """Live accounts are fixed and keep what they saved: every preference scenario starts and ends with none,
    and holds a lock so that no other worker's preference scenario runs meanwhile. (Mock users are new in
    every scenario, so there is nothing to do.)"""
    scenario = scenario_of(request.node)
    if stack.mode != "live" or scenario is None or "preference" not in Path(scenario.feature.filename).stem:
        yield
        return
    import fcntl

    from fixtures.stack.live import user_profiles
    from fixtures.stack.mock import CACHE

    # The accounts are shared by every worker of the run: one preference scenario at a time uses them.
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / "live-preferences.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        clients = [stack.create_person(name, []).app.quiet() for name in user_profiles()]
        for client in clients:
            wipe_preferences(client)
        yield
        for client in clients:
            wipe_preferences(client)


# Given ------------------------------------------------------------------------------------------------------
@given(parsers.re(rf'{WHO} has saved "(?P<key>[^"]+)" as (?P<phrase>.+)'))
def has_saved(people: Cast, saved: Saved, who: str, key: str, phrase: str) -> None:
    """Saves a preference through the app (value: "text", the number N, the list "a", "b" or nothing)."""
    response = save(people[who], key, value_of(phrase), saved)
    assert response.status_code in (200, 201), response.text


@given(parsers.re(rf"{WHO} has (?P<count>\d+) saved preferences"))
def has_many(people: Cast, saved: Saved, who: str, count: str) -> None:
    """Saves that many preferences (setting.0000, setting.0001, ...) through the app."""
    person = people[who]
    client = person.app.quiet()
    keys = [f"setting.{n:04d}" for n in range(int(count))]
    answers = in_parallel([lambda k=k: save(person, k, {"n": k}, saved, client) for k in keys], workers=16)
    assert [a.status_code for a in answers] == [201] * len(keys), [
        a.text for a in answers if a.status_code != 201
    ]
    summarise(
        f"{count} preferences saved", [f"{k}: {a.status_code}" for k, a in zip(keys, answers, strict=True)]
    )


@given(parsers.re(rf"{WHO} uses an app that has no Lakebase configured"))
def uses_app_without_lakebase(people: Cast, app_without_lakebase: str, who: str) -> None:
    """Points the person at a second instance of the app that has no Lakebase settings."""
    person = people[who]
    person.app = AppClient(app_without_lakebase, person.token)


@given(
    parsers.re(
        rf'the database holds a preference of {WHO} under "(?P<key>[^"]+)" with (?P<damage>.+), '
        "not written by the app"
    )
)
def damaged_row(people: Cast, lakebase: Lakebase, who: str, key: str, damage: str) -> None:
    """Writes a row straight into the database, bypassing the app, with a value the API cannot show."""
    lakebase.insert_raw(people[who].user_name, key, DAMAGED_VALUES.get(damage, json.dumps(damage)))


@given(
    parsers.re(r'the database holds a preference of (?P<who>\w+) under the old-style key "(?P<key>[^"]+)"')
)
def legacy_row(people: Cast, lakebase: Lakebase, who: str, key: str) -> None:
    """Writes a row straight into the database under a key the current key rules would refuse."""
    lakebase.insert_raw(people[who].user_name, key, json.dumps("from an older version"))


# When -------------------------------------------------------------------------------------------------------
@when(parsers.re(rf"{WHO} lists {PRONOUN} preferences"), target_fixture="response")
def lists(people: Cast, who: str) -> httpx.Response:
    """Lists the person's preferences (first page, default size)."""
    return people[who].app.get(BASE)


@when(parsers.re(rf"{WHO} asks for a page of (?P<size>\d+) preferences"), target_fixture="response")
def asks_for_page(people: Cast, who: str, size: str) -> httpx.Response:
    """Lists the person's preferences asking for a page of that size."""
    return people[who].app.get(BASE, params={"limit": size})


@when(parsers.re(rf"{WHO} opens {PRONOUN} preferences in (?P<tabs>\d+) tabs at once"), target_fixture="tabs")
def opens_in_tabs(people: Cast, who: str, tabs: str) -> list[httpx.Response]:
    """Sends that many identical list requests at the same moment."""
    client = people[who].app.quiet()
    answers = in_parallel([lambda: client.get(BASE) for _ in range(int(tabs))])
    summarise(
        f"{tabs} tabs",
        [f"{a.status_code} in {a.elapsed.total_seconds():.3f}s {a.text[:120]}" for a in answers],
    )
    return answers


@when(parsers.re(rf"{WHO} lists {PRONOUN} preferences (?P<size>\d+) at a time"), target_fixture="pages")
def lists_paged(people: Cast, who: str, size: str) -> list[dict]:
    """Follows the page tokens from the first page to the last, keeping every page."""
    client, pages, token = people[who].app, [], None
    while True:
        params = {"limit": size} | ({"page_token": token} if token else {})
        response = client.get(BASE, params=params)
        assert response.status_code == 200, response.text
        pages.append(response.json())
        token = pages[-1]["next_page_token"]
        if not token:
            return pages
        assert len(pages) < 1000, "paging does not end"


@when(parsers.re(rf'{WHO} saves "(?P<key>[^"]*)" as (?P<phrase>.+)'), target_fixture="response")
def saves(people: Cast, saved: Saved, who: str, key: str, phrase: str) -> httpx.Response:
    """Saves a value (or one of the named invalid bodies) under a key."""
    person = people[who]
    if phrase in INVALID_BODIES:
        # Sent quietly and summarised by hand: the usual attachment would try to pretty-print the bad body.
        content = INVALID_BODIES[phrase]
        response = person.app.quiet().put(
            url(key), content=content, headers={"Content-Type": "application/json"}
        )
        summarise(
            f"PUT {url(key)} → {response.status_code}",
            [
                f"PUT {url(key)}",
                content[:300].decode(errors="replace"),
                "",
                f"HTTP {response.status_code}",
                response.text,
            ],
        )
        return response
    return save(person, key, value_of(phrase), saved)


@when(parsers.re(rf'{WHO} reads "(?P<key>[^"]+)"'), target_fixture="response")
def reads(people: Cast, who: str, key: str) -> httpx.Response:
    """Reads one preference by key."""
    return people[who].app.get(url(key))


@when(parsers.re(rf'{WHO} deletes "(?P<key>[^"]+)"'), target_fixture="response")
def deletes(people: Cast, who: str, key: str) -> httpx.Response:
    """Deletes one preference by key."""
    return people[who].app.delete(url(key))


def _first_etag(saved: Saved, person: Person, key: str) -> str:
    answers = saved.answers.get((person.user_name, key))
    assert answers, f"{person.name} never saved {key!r} in this scenario"
    return answers[0].headers["ETag"]


@when(
    parsers.re(
        rf'{WHO} changes "(?P<key>[^"]+)" to (?P<phrase>.+) from the version (?:she|he|they) first saved'
    ),
    target_fixture="response",
)
def changes_from_first_version(people: Cast, saved: Saved, who: str, key: str, phrase: str) -> httpx.Response:
    """Saves with If-Match set to the ETag of the person's first save of that key."""
    person = people[who]
    etag = _first_etag(saved, person, key)
    value = value_of(phrase)
    response = person.app.put(url(key), json={"value": value}, headers={"If-Match": etag})
    saved.record(person, key, value, response)
    return response


@when(
    parsers.re(rf'{WHO} deletes "(?P<key>[^"]+)" from the version (?:she|he|they) first saved'),
    target_fixture="response",
)
def deletes_from_first_version(people: Cast, saved: Saved, who: str, key: str) -> httpx.Response:
    """Deletes with If-Match set to the ETag of the person's first save of that key."""
    person = people[who]
    return person.app.delete(url(key), headers={"If-Match": _first_etag(saved, person, key)})


@when(
    parsers.re(rf'{WHO} saves a value of exactly the size limit as "(?P<key>[^"]+)"'),
    target_fixture="response",
)
def saves_at_limit(people: Cast, saved: Saved, who: str, key: str) -> httpx.Response:
    """Saves a string value whose JSON is exactly the documented size limit."""
    return save(people[who], key, "é" * ((MAX_VALUE_BYTES - 2) // 2), saved)  # 2 bytes each, plus quotes


@when(
    parsers.re(rf'{WHO} saves a value one byte over the size limit as "(?P<key>[^"]+)"'),
    target_fixture="response",
)
def saves_over_limit(people: Cast, saved: Saved, who: str, key: str) -> httpx.Response:
    """Saves a string value whose JSON is one byte over the documented size limit."""
    return save(people[who], key, "é" * ((MAX_VALUE_BYTES - 2) // 2) + "x", saved)


@when(
    parsers.re(
        rf'{WHO} sends a (?P<mb>\d+) MB value as "(?P<key>[^"]+)" '
        r"(?P<how>announcing|without announcing) its size"
    ),
    target_fixture="response",
)
def sends_huge(stack: Stack, people: Cast, who: str, how: str, mb: str, key: str):
    """Offers a huge body over a raw connection, with or without Content-Length, stopping at the answer."""
    person = people[who]
    exchange = send_body(
        stack.app_url,
        "PUT",
        url(key),
        {"X-Forwarded-Access-Token": person.token},
        int(mb) * 1024 * 1024,
        announce=how == "announcing",
    )
    summarise(f"PUT {url(key)} → {exchange.status}", [exchange.summary("PUT", url(key))])
    return exchange


@when("the database goes down")
def database_down(stack: Stack, request: pytest.FixtureRequest) -> None:
    """Stops the embedded PostgreSQL under the running app (restarted after the scenario anyway)."""
    assert stack.postgres is not None
    # Whatever happens next, later scenarios get their database, and an app that has noticed it is back.
    request.addfinalizer(lambda: database_healed(stack))
    stack.postgres.stop()


def database_healed(stack: Stack, seconds: float = 15) -> None:
    """Starts the database if it is down and waits (polling readiness) until the app uses it again, so a
    scenario that ends in an outage leaves no 'database down' mark for the next one."""
    assert stack.postgres is not None
    stack.postgres.start()
    deadline = time.monotonic() + seconds
    while httpx.get(f"{stack.app_url}/api/health/ready", timeout=5).status_code != 200:
        assert time.monotonic() < deadline, "the app did not take the database back after the outage"


@when("the database restarts")
def database_restarts(stack: Stack, request: pytest.FixtureRequest) -> None:
    """Stops and restarts the embedded PostgreSQL between two requests."""
    database_down(stack, request)
    stack.postgres.start()


@when("the database comes back")
def database_back(stack: Stack) -> None:
    """Starts the embedded PostgreSQL again."""
    stack.postgres.start()


@when(
    parsers.re(r"(?P<count>\d+) users each save (?P<each>\d+) preferences at the same time"),
    target_fixture="crowd",
)
def crowd_saves(people: Cast, saved: Saved, count: str, each: str) -> list[Person]:
    # Setting up the crowd (a user, a token and an HTTP client each) is itself done in parallel.
    """Creates that many users and has each save its own preferences, all at the same moment."""
    crowd = in_parallel([lambda n=n: people.add(f"User{n:03d}") for n in range(int(count))], workers=8)
    clients = in_parallel([person.app.quiet for person in crowd], workers=8)

    def save_all(person: Person, client: AppClient) -> list[int]:
        return [
            save(person, f"pref.{n}", {"owner": person.user_name, "n": n}, saved, client).status_code
            for n in range(int(each))
        ]

    statuses = in_parallel([lambda p=p, c=c: save_all(p, c) for p, c in zip(crowd, clients, strict=True)])
    summarise(
        f"{count} users saving at once", [f"{p.name}: {s}" for p, s in zip(crowd, statuses, strict=True)]
    )
    assert all(s == [201] * int(each) for s in statuses), statuses
    saved.outcome["clients"] = clients
    return crowd


def _signed(writer: int) -> dict:
    """A value whose parts all name its writer: any mix of two writes is visible."""
    return {"writer": writer, "parts": [f"w{writer}-{n}" for n in range(50)], "check": f"w{writer}" * 200}


def _whole(value: Any) -> bool:
    if not isinstance(value, dict) or set(value) != {"writer", "parts", "check"}:
        return False
    return value == _signed(value["writer"])


@when(
    parsers.re(
        rf'(?P<writers>\d+) writers save "(?P<key>[^"]+)" for {WHO} at the same time as (?P<readers>\d+) '
        "readers read it"
    )
)
def writers_and_readers(people: Cast, saved: Saved, who: str, key: str, writers: str, readers: str) -> None:
    """Many saves of distinct whole values and many reads of one key, all at the same moment."""
    person = people[who]
    client = person.app.quiet()
    calls: list[Callable[[], httpx.Response]] = []
    for n in range(max(int(writers), int(readers))):
        if n < int(writers):
            calls.append(lambda n=n: client.put(url(key), json={"value": _signed(n)}))
        if n < int(readers):
            calls.append(lambda: client.get(url(key)))
    answers = in_parallel(calls)
    saved.outcome["writes"] = [a for a in answers if a.request.method == "PUT"]
    saved.outcome["reads"] = [a for a in answers if a.request.method == "GET"]
    summarise(
        f"{len(calls)} requests at once on {key!r}",
        [
            f"{a.request.method} → {a.status_code} {a.json().get('value', a.json()) if a.content else ''}"[
                :200
            ]
            for a in answers
        ],
    )


@when(
    parsers.re(
        rf'(?P<writers>\d+) writers who all read the same version of "(?P<key>[^"]+)" from {WHO} '
        "save it at the same time"
    )
)
def conditional_writers(people: Cast, saved: Saved, who: str, key: str, writers: str) -> None:
    """Many writers read one ETag, then all save with If-Match at the same moment."""
    person = people[who]
    client = person.app.quiet()
    etag = client.get(url(key)).headers["ETag"]
    answers = in_parallel(
        [
            lambda n=n: client.put(url(key), json={"value": _signed(n)}, headers={"If-Match": etag})
            for n in range(int(writers))
        ]
    )
    saved.outcome["writes"] = answers
    summarise(
        f"{writers} saves with If-Match {etag}",
        [f"writer {n}: {a.status_code}" for n, a in enumerate(answers)],
    )


@when(
    parsers.re(
        rf'(?P<writers>\d+) writers each add one to "(?P<key>[^"]+)" of {WHO} at the same time, '
        "retrying whenever their version is outdated"
    )
)
def counter_writers(people: Cast, saved: Saved, who: str, key: str, writers: str) -> None:
    """Writers increment a number with read, then save with If-Match, retrying on 412."""
    person = people[who]

    def increment(client: AppClient) -> int:
        for attempt in range(1, 200):
            current = client.get(url(key))
            answer = client.put(
                url(key),
                json={"value": current.json()["value"] + 1},
                headers={"If-Match": current.headers["ETag"]},
            )
            if answer.status_code == 200:
                return attempt
            assert answer.status_code == 412, answer.text
        raise AssertionError("no progress after 200 attempts")

    clients = [person.app.quiet() for _ in range(int(writers))]
    attempts = in_parallel([lambda c=c: increment(c) for c in clients])
    saved.outcome["attempts"] = attempts
    summarise("attempts per writer", [f"writer {n}: {a}" for n, a in enumerate(attempts)])


# Then -------------------------------------------------------------------------------------------------------
@then("the preference is deleted")
def deleted(response: httpx.Response) -> None:
    """The delete answered 204 with no body."""
    assert response.status_code == 204, response.text
    assert response.content == b""


@then(parsers.re(rf"{WHO} sees (?P<count>\d+) preferences?"))
def sees_count(people: Cast, response: httpx.Response, who: str, count: str) -> None:
    """The list answer holds exactly that many preferences."""
    people[who]
    assert response.status_code == 200, response.text
    assert len(body(response)["items"]) == int(count), response.text


@then(parsers.re(rf"{WHO} has no saved preferences"))
def has_none(people: Cast, who: str) -> None:
    """Listing the person's preferences returns none."""
    response = people[who].app.get(BASE)
    assert response.status_code == 200, response.text
    assert body(response)["items"] == [], response.text


@then(parsers.re(r"the preference is (?P<what>created|updated)"))
def created_or_updated(response: httpx.Response, what: str) -> None:
    """The save answered 201 (with Location) or 200, with an ETag matching the version."""
    assert response.status_code == (201 if what == "created" else 200), response.text
    assert response.headers["ETag"] == f'"{body(response)["version"]}"', response.headers
    if what == "created":
        assert response.headers["Location"].endswith(response.request.url.path), response.headers


@then(parsers.re(rf'{WHO} (?:still )?sees "(?P<key>[^"]+)" as (?P<phrase>.+)'))
def sees_value(people: Cast, who: str, key: str, phrase: str) -> None:
    """Reading the key returns that value, with an ETag matching its version."""
    response = people[who].app.get(url(key))
    assert response.status_code == 200, response.text
    assert body(response)["value"] == value_of(phrase), response.text
    assert response.headers["ETag"] == f'"{body(response)["version"]}"', response.headers


@then(parsers.re(rf'{WHO} (?:still )?has no preference "(?P<key>[^"]+)"'))
def has_no_key(people: Cast, who: str, key: str) -> None:
    """Reading the key answers 404 PREFERENCE_NOT_FOUND."""
    response = people[who].app.get(url(key))
    assert response.status_code == 404, response.text
    assert body(response)["error"]["code"] == "PREFERENCE_NOT_FOUND", response.text


@then(parsers.re(r'"(?P<key>[^"]+)" reads back exactly as saved'))
def reads_back_exactly(people: Cast, saved: Saved, key: str) -> None:
    """Reading the key returns the saved value, the same UTF-8 on the wire."""
    person = people["she"]
    response = person.app.get(url(key))
    assert response.status_code == 200, response.text
    expected = saved.values[(person.user_name, key)]
    assert body(response)["value"] == expected
    # Byte for byte: the same UTF-8 on the wire as the value encoded on its own.
    assert json.dumps(expected, ensure_ascii=False, separators=(",", ":")).encode() in response.content


@then("its times are in UTC, and updating it moved its update time but not its creation time")
def times_in_utc(response: httpx.Response, saved: Saved, people: Cast) -> None:
    """Timestamps are UTC; created_at kept, updated_at later, version changed since the first save."""
    person = people["she"]
    key = body(response)["key"]
    first, last = (body(a) for a in (saved.answers[(person.user_name, key)][0], response))
    for stamp in (first["created_at"], last["created_at"], last["updated_at"]):
        parsed = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        assert parsed.utcoffset() == dt.timedelta(0), stamp
    assert last["created_at"] == first["created_at"], (first, last)
    assert last["updated_at"] > first["updated_at"], (first, last)
    assert last["version"] != first["version"], (first, last)


@then(parsers.re(r'the refusal points at the "(?P<field>[^"]+)"'))
def refusal_points_at(response: httpx.Response, field: str) -> None:
    """The error's details name that field."""
    details = body(response)["error"].get("details") or []
    assert any(d["field"] == field or d["field"].endswith(f".{field}") for d in details), details


@then(parsers.re(r"the refusal looks exactly like the one for a key nobody ever saved"))
def refusal_like_missing(people: Cast, response: httpx.Response) -> None:
    """The 404 is identical (code, message, fields) to one for a key nobody saved; no user name."""
    person = people["they"]
    key = response.request.url.path.rsplit("/", 1)[1]
    other = person.app.get(url("never.saved.anywhere"))
    mine, theirs = body(response)["error"], body(other)["error"]
    assert response.status_code == other.status_code == 404
    assert mine["code"] == theirs["code"]
    assert mine["message"].replace(key, "<key>") == theirs["message"].replace("never.saved.anywhere", "<key>")
    assert set(mine) == set(theirs)
    assert "@" not in response.text, f"a user name leaked: {response.text}"


@then(parsers.re(rf"{WHO} is told when to retry"))
def told_when_to_retry(people: Cast, response: httpx.Response, who: str) -> None:
    """A Retry-After header, and the same retry_after in the error body."""
    people[who]
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= 30, retry_after
    assert body(response)["error"]["retry_after"] == retry_after, response.text


@then(parsers.re(r'every tab is refused as "(?P<code>[A-Z_]+)" within (?P<seconds>\d+) seconds?'))
def every_tab_refused(tabs: list[httpx.Response], code: str, seconds: str) -> None:
    """Every parallel request answered 503 with that code and Retry-After, each within the time."""
    for answer in tabs:
        assert answer.status_code == 503, answer.text
        assert body(answer)["error"]["code"] == code, answer.text
        assert answer.headers["Retry-After"], answer.headers
        assert answer.elapsed.total_seconds() < int(seconds), answer.elapsed


@then(parsers.re(r'every tab lists "(?P<key>[^"]+)" as (?P<phrase>.+)'))
def every_tab_lists(tabs: list[httpx.Response], key: str, phrase: str) -> None:
    """Every parallel request succeeded and listed the key with that value (none refused while recovering)."""
    for answer in tabs:
        assert answer.status_code == 200, answer.text
        assert {i["key"]: i["value"] for i in body(answer)["items"]}.get(key) == value_of(phrase), answer.text


@then(parsers.re(r"the answer came within (?P<seconds>\d+) seconds?"))
def answered_within(response: httpx.Response, seconds: str) -> None:
    """The last answer came within that many seconds."""
    assert response.elapsed.total_seconds() < int(seconds), response.elapsed


@then(parsers.re(r"the app stopped reading after at most (?P<kib>\d+) KiB of it"))
def stopped_reading(response, kib: str) -> None:
    """The answer came before that much of the body had been sent."""
    assert response.sent_bytes <= int(kib) * 1024, f"{response.sent_bytes} bytes were sent before the answer"
    assert response.sent_bytes < response.offered_bytes


@then(
    parsers.re(
        rf"{WHO} gets all (?P<count>\d+) preferences exactly once, in key order, "
        r"in pages of at most (?P<size>\d+)"
    )
)
def gets_all_once(people: Cast, saved: Saved, pages: list[dict], who: str, count: str, size: str) -> None:
    """The pages together hold every saved key once, in key order, none larger than the page size."""
    person = people[who]
    keys = [item["key"] for page in pages for item in page["items"]]
    expected = sorted(k for (user, k) in saved.values if user == person.user_name)
    assert len(expected) == int(count)
    assert keys == expected, f"{len(keys)} keys, duplicates: {len(keys) - len(set(keys))}"
    assert all(len(page["items"]) <= int(size) for page in pages)
    assert len(pages) == -(-int(count) // int(size)), [len(p["items"]) for p in pages]
    summarise(
        "pages", [f"page {n + 1}: {len(p['items'])} ({p['items'][0]['key']}…)" for n, p in enumerate(pages)]
    )


@then(parsers.re(r"every one of them gets exactly (?:her|his|their) own (?P<each>\d+) preferences back"))
def everyone_gets_own(crowd: list[Person], saved: Saved, each: str) -> None:
    """Each user's list holds exactly their own preferences with their own values."""
    clients = saved.outcome["clients"]
    pages = in_parallel([lambda c=c: c.get(BASE) for c in clients])
    for person, page in zip(crowd, pages, strict=True):
        assert page.status_code == 200, page.text
        items = {i["key"]: i["value"] for i in page.json()["items"]}
        expected = {f"pref.{n}": {"owner": person.user_name, "n": n} for n in range(int(each))}
        assert items == expected, f"{person.name}: {items}"
    for client in clients:
        client.close()


@then(parsers.re(r"every write succeeded and every read saw one whole value"))
def all_whole(saved: Saved) -> None:
    """All saves succeeded; every read saw the initial value or one writer's whole value."""
    writes, reads = saved.outcome["writes"], saved.outcome["reads"]
    assert [w.status_code for w in writes] == [200] * len(writes), [
        w.text for w in writes if w.status_code != 200
    ]
    for read in reads:
        assert read.status_code == 200, read.text
        value = read.json()["value"]
        assert value == "dark" or _whole(value), f"a read saw a mixed value: {str(value)[:200]}"


@then(parsers.re(rf'{WHO} finds "(?P<key>[^"]+)" holding exactly one of the values written'))
def holds_one_written(people: Cast, who: str, key: str) -> None:
    """The key now holds one writer's whole value."""
    value = people[who].app.get(url(key)).json()["value"]
    assert _whole(value), f"not one whole written value: {str(value)[:200]}"


@then(
    parsers.re(
        r"exactly one writer succeeded, the other (?P<others>\d+) were refused as \"PRECONDITION_FAILED\", "
        r"and the value is the winner's"
    )
)
def one_winner(people: Cast, saved: Saved, others: str) -> None:
    """One save answered 200, all the others 412, and the key holds the winner's value and ETag."""
    writes = saved.outcome["writes"]
    winners = [w for w in writes if w.status_code == 200]
    losers = [w for w in writes if w.status_code == 412]
    assert len(winners) == 1 and len(losers) == int(others), [w.status_code for w in writes]
    assert all(body(w)["error"]["code"] == "PRECONDITION_FAILED" for w in losers)
    key = winners[0].json()["key"]
    current = people["she"].app.get(url(key))
    assert current.json()["value"] == winners[0].json()["value"]
    assert current.headers["ETag"] == winners[0].headers["ETag"]


@then(parsers.re(rf'{WHO} finds "(?P<key>[^"]+)" at (?P<total>\d+): no update was lost'))
def counter_total(people: Cast, saved: Saved, who: str, key: str, total: str) -> None:
    """The number equals the number of writers, and the writers did collide."""
    value = people[who].app.get(url(key)).json()["value"]
    assert value == int(total), (
        f"{value} != {total}: updates were lost (attempts {saved.outcome['attempts']})"
    )
    assert max(saved.outcome["attempts"]) > 1, "the writers never collided: the scenario proved nothing"


@then(
    parsers.re(
        rf"a query that forgets its user filter, run by the app's database role for {WHO}, "
        r"finds none of (?P<owner>\w+)'s preferences"
    )
)
def rls_hides(people: Cast, lakebase: Lakebase, who: str, owner: str) -> None:
    """SELECT without WHERE as the app's role, bound to the reader, returns none of the owner's rows."""
    reader, victim = people[who], people[owner]
    seen_by_reader = lakebase.rows_seen_by_app_role(reader.user_name)
    seen_by_owner = lakebase.rows_seen_by_app_role(victim.user_name)
    seen_unbound = lakebase.rows_seen_by_app_role(None)
    summarise(
        "rows returned by SELECT * FROM preferences (no WHERE), as the app's role",
        [
            f"bound to {reader.name}: {seen_by_reader}",
            f"bound to {victim.name}: {seen_by_owner}",
            f"unbound: {seen_unbound}",
        ],
    )
    assert seen_owner_rows(seen_by_owner, victim), "control: the owner must see her own rows"
    assert not [row for row in seen_by_reader if row[0] == victim.user_name], seen_by_reader
    assert {row[0] for row in seen_by_reader} <= {reader.user_name}, seen_by_reader
    assert seen_unbound == [], seen_unbound


def seen_owner_rows(rows: list[tuple[str, str]], owner: Person) -> bool:
    return bool(rows) and all(user == owner.user_name for user, _ in rows)


@then(parsers.re(rf"{WHO} sees (?P<count>\d+) preferences? and is told (?P<bad>\d+) could not be read"))
def sees_good_rows(people: Cast, response: httpx.Response, who: str, count: str, bad: str) -> None:
    """The list holds that many readable preferences and counts the unreadable ones."""
    people[who]
    assert response.status_code == 200, response.text
    page = body(response)
    assert len(page["items"]) == int(count), page
    assert page["unreadable"] == int(bad), page


@then(parsers.re(r'the list includes "(?P<key>[^"]+)"'))
def list_includes(response: httpx.Response, key: str) -> None:
    """The list answer includes that key."""
    assert key in [i["key"] for i in body(response)["items"]], response.text


@then(parsers.re(r"the request is refused early with status (?P<status>\d+) as \"(?P<code>[A-Z_]+)\""))
def refused_early(response, status: str, code: str) -> None:
    """The raw exchange answered with that status and error code."""
    assert response.status == int(status), response.body
    assert response.body["error"]["code"] == code, response.body
