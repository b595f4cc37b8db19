"""Phrases every feature shares: who does what, which app they use, and how a request was refused.

The patterns here are the only way a phrase names a person: ``PERSON`` is the subject of a step (a first
name, or she/he/they for the person last named as a subject: see ``Cast``), ``person("other")`` a second
person named in the same phrase, ``POSSESSIVE`` her/his/their.
"""

from __future__ import annotations

import re

import httpx
from pytest_bdd import given, parsers, then

from fixtures.drivers.app_variants import AppVariants
from fixtures.stack.plugin import Cast

FIRST_NAME = r"[A-Z]\w*"
PRONOUN = r"she|he|they"
POSSESSIVE = r"(?:her|his|their)"


def person(group: str = "who", pronouns: bool = True) -> str:
    """A person in a phrase, captured as ``group``: a first name (Ana), or she/he/they."""
    return rf"(?P<{group}>{FIRST_NAME}{'|' + PRONOUN if pronouns else ''})"


PERSON = person()
OTHER = person("other", pronouns=False)
ENDPOINT = r'the endpoint "(?P<endpoint>[^"]+)"'
# Retry-After of a refusal that says "try again in a few seconds".
FEW_SECONDS = range(1, 31)
# Variants of the app by the words features use for them -> the settings that differ from the main app.
APP_VARIANTS = {
    "that has no Lakebase configured": {
        "pghost": None,
        "pgdatabase": None,
        "pguser": None,
        "lakebase_instance_name": None,
    },
    "that has no SQL warehouse configured": {"databricks_warehouse_id": None},
    # Gives up after one second, of retries or of waiting for a model (the main one is patient).
    "that gives up on the workspace after one second": {
        "databricks_retry_timeout_seconds": 1,
        "serving_timeout_seconds": 1,
    },
    # An answer at all then proves the app did not wait for a connection during an outage.
    "that would wait 10 minutes for a database connection": {"db_connect_timeout_seconds": 600},
    # Patience with a stopped, starting or busy SQL warehouse (the main app waits 30 seconds).
    "that waits at most 2 seconds for the SQL warehouse": {"warehouse_patience_seconds": 2},
    "that waits at most 0.3 seconds for the SQL warehouse": {"warehouse_patience_seconds": 0.3},
}
VARIANT = "(?P<variant>" + "|".join(re.escape(words) for words in APP_VARIANTS) + ")"


def quoted(text: str) -> list[str]:
    """The values written between double quotes: '"a", "b" and "c"' -> ['a', 'b', 'c']."""
    return re.findall(r'"([^"]*)"', text)


def error_of(response: httpx.Response) -> dict:
    body = response.json()
    assert "error" in body, f"expected the error envelope, got {body}"
    return body["error"]


@given(parsers.re(rf"{PERSON} uses an app {VARIANT}"))
def uses_app_variant(people: Cast, app_variants: AppVariants, who: str, variant: str) -> None:
    """From now on the person uses a second instance of the app, configured as said (mock mode only)."""
    person_ = people.subject(who)
    person_.app = person_.app.at(app_variants.url(**APP_VARIANTS[variant]))


@then(parsers.parse('the request is refused with status {status:d} as "{code}"'))
def refused_as(response: httpx.Response, status: int, code: str) -> None:
    """The last request was refused with this HTTP status and error code, in the app's error envelope."""
    assert response.status_code == status, f"expected {status}, got {response.status_code}: {response.text}"
    error = error_of(response)
    assert error["code"] == code, error
    assert error["message"], error
    assert error["request_id"] == response.headers["X-Request-ID"], error


@then(parsers.parse('the request is refused as "{code}"'))
def refused_with_code(response: httpx.Response, code: str) -> None:
    """The last request was refused (any 4xx/5xx) with this error code."""
    assert response.status_code >= 400, f"expected a refusal, got {response.status_code}: {response.text}"
    error = error_of(response)
    assert error["code"] == code, error


@then(parsers.re(rf"{PERSON} (?:is|are) told to retry after a few seconds"))
def told_to_retry(people: Cast, response: httpx.Response, who: str) -> None:
    """The refusal says when to retry, 1 to 30 seconds, the same in its Retry-After header and its body."""
    people.subject(who)
    retry_after = int(response.headers["Retry-After"])
    assert retry_after in FEW_SECONDS, retry_after
    assert error_of(response)["retry_after"] == retry_after, response.text


@then(parsers.re(r'the refusal names the (?P<kind>field|column) "(?P<name>[^"]+)"'))
def refusal_names(response: httpx.Response, kind: str, name: str) -> None:
    """A field: one of the refusal's details is about it (its field is the name, or ends with it). A column:
    the refusal's message or one of its details names it."""
    error = error_of(response)
    details = error.get("details") or []
    fields = [str(d.get("field", "")) for d in details]
    if kind == "field":
        assert any(f == name or f.endswith(f".{name}") for f in fields), f"no detail is about {name}: {error}"
    else:
        mentioned = [d for d in details if name in str(d.get("field", "")) or name in str(d.get("issue", ""))]
        assert mentioned or name in error["message"], f"the refusal does not name {name}: {error}"
