"""Preferences: saving, reading, listing and deleting them, alone, side by side and all at once."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import httpx
import pytest
from pytest_bdd import given, parsers, then, when

from fixtures.drivers.app import AppClient
from fixtures.drivers.concurrency import in_parallel
from fixtures.drivers.lakebase import Lakebase
from fixtures.drivers.preferences import (
    Saved,
    all_preferences,
    increment_at_once,
    is_whole,
    save_and_read_at_once,
    save_from_one_version_at_once,
    summarise,
)
from fixtures.stack.mock import Person, Stack
from fixtures.stack.plugin import Cast
from server.models.preferences import MAX_VALUE_BYTES
from steps.common import PERSON, POSSESSIVE, PRONOUN

KEY = r'"(?P<key>[^"]*)"'
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
AT_LIMIT = "é" * ((MAX_VALUE_BYTES - 2) // 2)  # 2 bytes each, plus the quotes: exactly the limit as JSON


def value_of(phrase: str) -> Any:
    """The JSON value a phrase stands for: "text", the number 42, the list "a", "b", nothing, ..."""
    phrase = phrase.strip()
    if phrase.startswith('"') and phrase.endswith('"') and len(phrase) >= 2:
        return phrase[1:-1]
    if phrase.startswith("the number "):
        return json.loads(phrase.removeprefix("the number "))
    if phrase.startswith("the list "):
        return [item.strip().strip('"') for item in phrase.removeprefix("the list ").split('", "')]
    named = {
        "nothing": None,
        "text with a tab and a line break": "first\tline\nsecond line",
        "a value of exactly the size limit": AT_LIMIT,
        "a value one byte over the size limit": AT_LIMIT + "x",
    }
    if phrase in named:
        return named[phrase]
    raise ValueError(
        f'no value called {phrase!r}: use "text", the number N, the list "a", "b", or {list(named)}'
    )


def body(response: httpx.Response) -> dict:
    assert response.headers.get("content-type", "").startswith("application/json"), response.text
    return response.json()


# Given ------------------------------------------------------------------------------------------------------
@given(parsers.re(rf"{PERSON} has saved {KEY} as (?P<phrase>.+)"))
def has_saved(people: Cast, saved: Saved, who: str, key: str, phrase: str) -> None:
    """Saves a preference through the app (value: "text", the number N, the list "a", "b" or nothing)."""
    response = saved.save(people.subject(who), key, value_of(phrase))
    assert response.status_code in (200, 201), response.text


@given(parsers.re(rf"{PERSON} has (?P<count>\d+) saved preferences"))
def has_many(people: Cast, saved: Saved, who: str, count: str) -> None:
    """Saves that many preferences (setting.0000, setting.0001, ...) through the app."""
    person = people.subject(who)
    client = person.app.quiet()
    keys = [f"setting.{n:04d}" for n in range(int(count))]
    answers = in_parallel([lambda k=k: saved.save(person, k, {"n": k}, client) for k in keys], workers=16)
    assert [a.status_code for a in answers] == [201] * len(keys), [
        a.text for a in answers if a.status_code != 201
    ]
    summarise(
        f"{count} preferences saved", [f"{k}: {a.status_code}" for k, a in zip(keys, answers, strict=True)]
    )


@given(
    parsers.re(
        rf"the database holds a preference of {PERSON} under (?P<old>the old-style key )?{KEY}"
        r"(?: with (?P<damage>.+))?, not written by the app"
    )
)
def row_behind_the_app(
    people: Cast, lakebase: Lakebase, who: str, key: str, old: str | None, damage: str | None
):
    """Writes a row straight into the database, bypassing the app: a value the API cannot show, or a value
    under a key the current key rules would refuse (an old-style key)."""
    value = (
        json.dumps("from an older version")
        if damage is None
        else DAMAGED_VALUES.get(damage, json.dumps(damage))
    )
    lakebase.insert_raw(people[who].user_name, key, value)


# When -------------------------------------------------------------------------------------------------------
@when(
    parsers.re(
        rf"{PERSON} lists {POSSESSIVE} preferences(?:, (?P<size>\d+) per page| (?P<each>\d+) at a time)?$"
    ),
    target_fixture="response",
)
def lists(people: Cast, saved: Saved, who: str, size: str | None, each: str | None) -> httpx.Response:
    """Lists the person's preferences: the first page (of that size, if said); 'N at a time' follows the
    page tokens from the first page to the last, keeping every page."""
    client = people.subject(who).app
    if each:
        saved.outcome["pages"] = all_preferences(client, int(each))
    return client.preferences(limit=size or each)


@when(
    parsers.re(rf"{PERSON} opens {POSSESSIVE} preferences in (?P<tabs>\d+) tabs at once"),
    target_fixture="tabs",
)
def opens_in_tabs(people: Cast, who: str, tabs: str) -> list[httpx.Response]:
    """Sends that many identical list requests at the same moment."""
    client = people.subject(who).app.quiet()
    answers = in_parallel([lambda: client.preferences() for _ in range(int(tabs))])
    summarise(f"{tabs} tabs", [f"{a.status_code} {a.text[:120]}" for a in answers])
    return answers


@when(
    parsers.re(rf"{PERSON} saves {KEY} as (?P<phrase>.+?)(?P<plain> sent as plain text)?$"),
    target_fixture="response",
)
def saves(people: Cast, saved: Saved, who: str, key: str, phrase: str, plain: str | None) -> httpx.Response:
    """Saves a value (or one of the named invalid bodies) under a key; "sent as plain text": the same JSON
    with Content-Type text/plain, as a form on another site can send it without asking."""
    person = people.subject(who)
    if phrase in INVALID_BODIES or plain:
        # Sent quietly and summarised by hand: the usual attachment would try to pretty-print the bad body.
        content = INVALID_BODIES.get(phrase) or json.dumps({"value": value_of(phrase)}).encode()
        media = "text/plain" if plain else "application/json"
        response = person.app.quiet().save_preference_body(key, content, media)
        path = response.request.url.path
        summarise(
            f"PUT {path} → {response.status_code}",
            [
                f"PUT {path}",
                content[:300].decode(errors="replace"),
                "",
                f"HTTP {response.status_code}",
                response.text,
            ],
        )
        return response
    return saved.save(person, key, value_of(phrase))


@when(parsers.re(rf"{PERSON} reads {KEY}"), target_fixture="response")
def reads(people: Cast, who: str, key: str) -> httpx.Response:
    """Reads one preference by key."""
    return people.subject(who).app.preference(key)


@when(
    parsers.re(rf"{PERSON} deletes {KEY}(?P<first> from the version (?:{PRONOUN}) first saved)?$"),
    target_fixture="response",
)
def deletes(people: Cast, saved: Saved, who: str, key: str, first: str | None) -> httpx.Response:
    """Deletes one preference by key; 'from the version she first saved' sends If-Match with that version."""
    person = people.subject(who)
    return person.app.delete_preference(key, if_match=saved.first_etag(person, key) if first else None)


@when(
    parsers.re(rf"{PERSON} changes {KEY} to (?P<phrase>.+) from the version (?:{PRONOUN}) first saved"),
    target_fixture="response",
)
def changes_from_first_version(people: Cast, saved: Saved, who: str, key: str, phrase: str) -> httpx.Response:
    """Saves with If-Match set to the ETag of the person's first save of that key."""
    person = people.subject(who)
    return saved.save(person, key, value_of(phrase), if_match=saved.first_etag(person, key))


@when(
    parsers.re(
        rf"{PERSON} sends a (?P<mb>\d+) MB value as {KEY} (?P<how>announcing|without announcing) its size"
    ),
    target_fixture="response",
)
def sends_huge(people: Cast, who: str, how: str, mb: str, key: str):
    """Offers a huge body over a raw connection, with or without Content-Length, stopping at the answer."""
    path, exchange = people.subject(who).app.offer_preference_body(
        key, int(mb) * 1024 * 1024, how == "announcing"
    )
    summarise(f"PUT {path} → {exchange.status}", [exchange.summary("PUT", path)])
    return exchange


@when(parsers.re(r"the database (?P<event>goes down|restarts|comes back)"))
def database_event(stack: Stack, lakebase: Lakebase, request: pytest.FixtureRequest, event: str) -> None:
    """Stops the embedded PostgreSQL under the running app, starts it again, or both between two requests.
    Whatever happens next, it is back after the scenario, and the app has noticed."""
    if event == "comes back":
        lakebase.start()
        return
    request.addfinalizer(lambda: lakebase.heal(stack.anonymous().quiet()))
    lakebase.stop()
    if event == "restarts":
        lakebase.start()


@when(
    parsers.re(r"(?P<count>\d+) users each save (?P<each>\d+) preferences at the same time"),
    target_fixture="crowd",
)
def crowd_saves(people: Cast, saved: Saved, count: str, each: str) -> list[Person]:
    """Creates that many users and has each save its own preferences, all at the same moment."""
    # Setting up the crowd (a user, a token and an HTTP client each) is itself done in parallel.
    crowd = in_parallel(
        [lambda n=n: people.add(f"User{n:03d}", subject=False) for n in range(int(count))], workers=8
    )
    clients = in_parallel([person.app.quiet for person in crowd], workers=8)

    def save_all(person: Person, client: AppClient) -> list[int]:
        values = [(f"pref.{n}", {"owner": person.user_name, "n": n}) for n in range(int(each))]
        return [saved.save(person, key, value, client).status_code for key, value in values]

    statuses = in_parallel([lambda p=p, c=c: save_all(p, c) for p, c in zip(crowd, clients, strict=True)])
    summarise(
        f"{count} users saving at once", [f"{p.name}: {s}" for p, s in zip(crowd, statuses, strict=True)]
    )
    assert all(s == [201] * int(each) for s in statuses), statuses
    saved.outcome["clients"] = clients
    return crowd


@when(
    parsers.re(
        rf"(?P<writers>\d+) writers save {KEY} for {PERSON} at the same time as (?P<readers>\d+)"
        r" readers read it"
    )
)
def writers_and_readers(people: Cast, saved: Saved, who: str, key: str, writers: str, readers: str) -> None:
    """Many saves of distinct whole values and many reads of one key, all at the same moment."""
    answers = save_and_read_at_once(people.subject(who).app.quiet(), key, int(writers), int(readers))
    saved.outcome["writes"] = [a for a in answers if a.request.method == "PUT"]
    saved.outcome["reads"] = [a for a in answers if a.request.method == "GET"]


@when(
    parsers.re(
        rf"(?P<writers>\d+) writers who all read the same version of {KEY} from {PERSON} save it at the"
        r" same time"
    )
)
def conditional_writers(people: Cast, saved: Saved, who: str, key: str, writers: str) -> None:
    """Many writers read one ETag, then all save with If-Match at the same moment."""
    saved.outcome["writes"] = save_from_one_version_at_once(
        people.subject(who).app.quiet(), key, int(writers)
    )


@when(
    parsers.re(
        rf"(?P<writers>\d+) writers each add one to {KEY} of {PERSON} at the same time, "
        "retrying whenever their version is outdated"
    )
)
def counter_writers(people: Cast, saved: Saved, who: str, key: str, writers: str) -> None:
    """Writers increment a number with read, then save with If-Match, retrying on 412."""
    person = people.subject(who)
    saved.outcome["attempts"] = increment_at_once([person.app.quiet() for _ in range(int(writers))], key)


# Then -------------------------------------------------------------------------------------------------------
@then(parsers.re(r"the preference is (?P<what>created|updated|deleted)"))
def created_updated_or_deleted(response: httpx.Response, what: str) -> None:
    """The save answered 201 (with Location) or 200, with an ETag matching the version; the delete answered
    204 with no body."""
    if what == "deleted":
        assert response.status_code == 204 and response.content == b"", response.text
        return
    assert response.status_code == (201 if what == "created" else 200), response.text
    assert response.headers["ETag"] == f'"{body(response)["version"]}"', response.headers
    if what == "created":
        assert response.headers["Location"].endswith(response.request.url.path), response.headers


@then(
    parsers.re(
        rf"{PERSON} sees (?P<count>\d+) preferences?(?:, among them {KEY},)?"
        r"(?: and is told (?P<bad>\d+) could not be read)?$"
    )
)
def sees_count(
    people: Cast, response: httpx.Response, who: str, count: str, key: str | None, bad: str | None
):
    """The list answer holds exactly that many (readable) preferences, that key among them if one is named,
    and counts the unreadable ones if said."""
    people.subject(who)
    assert response.status_code == 200, response.text
    page = body(response)
    assert len(page["items"]) == int(count), page
    assert key is None or key in [i["key"] for i in page["items"]], page
    assert bad is None or page["unreadable"] == int(bad), page


@then(parsers.re(rf"{PERSON} (?:still )?has no (?:saved preferences|preference {KEY})$"))
def has_none(people: Cast, who: str, key: str | None) -> None:
    """Listing the person's preferences returns none; or reading the key answers 404 PREFERENCE_NOT_FOUND."""
    app = people.subject(who).app
    if key is None:
        response = app.preferences()
        assert response.status_code == 200 and body(response)["items"] == [], response.text
        return
    response = app.preference(key)
    assert response.status_code == 404 and body(response)["error"]["code"] == "PREFERENCE_NOT_FOUND", (
        response.text
    )


@then(parsers.re(rf"{PERSON} (?:still )?sees {KEY} as (?P<phrase>.+)"))
def sees_value(people: Cast, who: str, key: str, phrase: str) -> None:
    """Reading the key returns that value, with an ETag matching its version."""
    response = people.subject(who).app.preference(key)
    assert response.status_code == 200, response.text
    assert body(response)["value"] == value_of(phrase), response.text
    assert response.headers["ETag"] == f'"{body(response)["version"]}"', response.headers


@then(parsers.re(rf"{KEY} reads back exactly as saved"))
def reads_back_exactly(people: Cast, saved: Saved, key: str) -> None:
    """Reading the key returns the saved value, the same UTF-8 on the wire."""
    person = people["she"]
    response = person.app.preference(key)
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


@then("the refusal looks exactly like the one for a key nobody ever saved")
def refusal_like_missing(people: Cast, response: httpx.Response) -> None:
    """The 404 is identical (code, message, fields) to one for a key nobody saved; no user name."""
    key = response.request.url.path.rsplit("/", 1)[1]
    other = people["they"].app.preference("never.saved.anywhere")
    mine, theirs = body(response)["error"], body(other)["error"]
    assert response.status_code == other.status_code == 404
    assert mine["code"] == theirs["code"]
    assert mine["message"].replace(key, "<key>") == theirs["message"].replace("never.saved.anywhere", "<key>")
    assert set(mine) == set(theirs)
    assert "@" not in response.text, f"a user name leaked: {response.text}"


@then(parsers.re(rf'every tab (?:is refused as "(?P<code>[A-Z_]+)"|lists {KEY} as (?P<phrase>.+))'))
def every_tab(tabs: list[httpx.Response], code: str | None, key: str | None, phrase: str | None) -> None:
    """Every parallel request was refused (503, that code, Retry-After); or every one succeeded and listed
    the key with that value (none refused while recovering)."""
    for answer in tabs:
        if code:
            assert answer.status_code == 503 and body(answer)["error"]["code"] == code, answer.text
            assert int(answer.headers["Retry-After"]) > 0, answer.headers
        else:
            assert answer.status_code == 200, answer.text
            assert {i["key"]: i["value"] for i in body(answer)["items"]}.get(key) == value_of(phrase), (
                answer.text
            )


@then(parsers.re(r"the app stopped reading after at most (?P<kib>\d+) KiB of it"))
def stopped_reading(response, kib: str) -> None:
    """The answer came before that much of the body had been sent."""
    assert response.sent_bytes <= int(kib) * 1024, f"{response.sent_bytes} bytes were sent before the answer"
    assert response.sent_bytes < response.offered_bytes


@then(
    parsers.re(
        rf"{PERSON} gets all (?P<count>\d+) preferences exactly once, in key order, in pages of at most"
        r" (?P<size>\d+)"
    )
)
def gets_all_once(people: Cast, saved: Saved, who: str, count: str, size: str) -> None:
    """The pages together hold every saved key once, in key order, none larger than the page size."""
    person, pages = people.subject(who), saved.outcome["pages"]
    keys = [item["key"] for page in pages for item in page["items"]]
    expected = sorted(k for (user, k) in saved.values if user == person.user_name)
    assert len(expected) == int(count)
    assert keys == expected, f"{len(keys)} keys, duplicates: {len(keys) - len(set(keys))}"
    assert all(len(page["items"]) <= int(size) for page in pages)
    assert len(pages) == -(-int(count) // int(size)), [len(p["items"]) for p in pages]
    summarise(
        "pages", [f"page {n + 1}: {len(p['items'])} ({p['items'][0]['key']}…)" for n, p in enumerate(pages)]
    )


@then(parsers.re(rf"every one of them gets exactly {POSSESSIVE} own (?P<each>\d+) preferences back"))
def everyone_gets_own(crowd: list[Person], saved: Saved, each: str) -> None:
    """Each user's list holds exactly their own preferences with their own values."""
    clients = saved.outcome["clients"]
    pages = in_parallel([lambda c=c: c.preferences() for c in clients])
    for person, page in zip(crowd, pages, strict=True):
        assert page.status_code == 200, page.text
        items = {i["key"]: i["value"] for i in page.json()["items"]}
        expected = {f"pref.{n}": {"owner": person.user_name, "n": n} for n in range(int(each))}
        assert items == expected, f"{person.name}: {items}"
    for client in clients:
        client.close()


@then("every write succeeded and every read saw one whole value")
def all_whole(saved: Saved) -> None:
    """All saves succeeded; every read saw the initial value or one writer's whole value."""
    writes, reads = saved.outcome["writes"], saved.outcome["reads"]
    assert [w.status_code for w in writes] == [200] * len(writes), [
        w.text for w in writes if w.status_code != 200
    ]
    for read in reads:
        assert read.status_code == 200, read.text
        value = read.json()["value"]
        assert value == "dark" or is_whole(value), f"a read saw a mixed value: {str(value)[:200]}"


@then(
    parsers.re(
        rf"{PERSON} finds {KEY} (?:holding exactly one of the values written|at (?P<total>\d+): no"
        r" update was lost)"
    )
)
def finds_value(people: Cast, saved: Saved, who: str, key: str, total: str | None) -> None:
    """The key holds one writer's whole value; or the number equals the number of writers, and the writers
    did collide."""
    value = people.subject(who).app.preference(key).json()["value"]
    if total is None:
        assert is_whole(value), f"not one whole written value: {str(value)[:200]}"
        return
    assert value == int(total), (
        f"{value} != {total}: updates were lost (attempts {saved.outcome['attempts']})"
    )
    assert max(saved.outcome["attempts"]) > 1, "the writers never collided: the scenario proved nothing"


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
    current = people["she"].app.preference(winners[0].json()["key"])
    assert current.json()["value"] == winners[0].json()["value"]
    assert current.headers["ETag"] == winners[0].headers["ETag"]


@then(
    parsers.re(
        rf"a query that forgets its user filter, run by the app's database role for {PERSON}, "
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
        [f"bound to {reader.name}: {seen_by_reader}", f"bound to {victim.name}: {seen_by_owner}",
         f"unbound: {seen_unbound}"],
    )  # fmt: skip
    assert seen_by_owner and all(user == victim.user_name for user, _ in seen_by_owner), (
        "control: the owner must see her own rows"
    )
    assert not [row for row in seen_by_reader if row[0] == victim.user_name], seen_by_reader
    assert {row[0] for row in seen_by_reader} <= {reader.user_name}, seen_by_reader
    assert seen_unbound == [], seen_unbound
