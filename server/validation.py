"""What any request may carry, wherever it is (path, query string, JSON body): one rule for text, one for
numbers, one for dates. The request-body reader, the URL check (``server.middleware``) and the date
parameters apply these, so no route checks them on its own and nothing that breaks them reaches the
database or the workspace.

- Text holds no control character (Unicode category Cc: U+0000-U+001F, U+007F-U+009F) and no lone UTF-16
  surrogate (U+D800-U+DFFF: what JSON's ``"\\ud800"`` decodes to, which no UTF-8 text can hold). Free text
  inside a JSON body may be multi-line: TAB, LF and CR are allowed there, and only there.
- Numbers are finite: ``NaN``, ``Infinity``, ``-Infinity`` and literals that overflow a double (``1e999``)
  are refused (JSON itself has none of them; Python's parser accepts them, the SDK and PostgreSQL do not).
- Dates lie between ``EARLIEST`` and ``LATEST`` (UTC), so window arithmetic and time-zone conversion never
  leave what Python and PostgreSQL can represent.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Annotated, Any

from pydantic import AfterValidator, Field
from typing_extensions import TypeAliasType

# Control characters and lone surrogates anywhere (names, identifiers, tokens, object keys)...
_CONTROL_OR_SURROGATE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
# ... and in free text, which may hold TAB, LF and CR.
_CONTROL_OR_SURROGATE_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
# The same rules as JSON Schema patterns, so the OpenAPI says them too (lone surrogates cannot be written
# in UTF-8 JSON text at all, so the patterns need not name them).
TEXT_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*$"
FREE_TEXT_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"

EARLIEST = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(9999, 1, 1, tzinfo=dt.UTC)
DATE_RANGE = f"from {EARLIEST:%Y-%m-%d} (inclusive) to {LATEST:%Y-%m-%d} (exclusive), UTC"

# A refusal names at most this many fields: a body of 100,000 bad records gets a short answer.
MAX_DETAILS = 20

# JSON text nested deeper than this is refused before it is parsed. Python's decoder recurses once per level
# and, on deep nesting, goes right up to the interpreter's recursion limit (1,000) before it raises
# RecursionError; a garbage collection that runs a finalizer at that depth has no stack left, and the
# finalizer's error becomes an unraisable exception (seen once in CI, with a value nested 5,000 levels deep).
NESTING_LIMIT = 256
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_A_BRACKET = re.compile(r"[^\[\]{}]+")


def nested_deeper_than(text: str, limit: int) -> bool:
    """Whether JSON text nests arrays and objects more than ``limit`` levels deep, found without parsing it
    (brackets inside strings do not count); about 8 ms for 10,000 scoring records."""
    if text.count("[") + text.count("{") <= limit:
        return False  # even every bracket inside the last could not go deeper
    depth = 0
    for mark in _NOT_A_BRACKET.sub("", _JSON_STRING.sub("", text)):
        depth += 1 if mark in "[{" else -1
        if depth > limit:
            return True
    return False


def text_issue(text: str, *, multiline: bool = False) -> str | None:
    """Why ``text`` is refused, or None."""
    found = (_CONTROL_OR_SURROGATE_IN_TEXT if multiline else _CONTROL_OR_SURROGATE).search(text)
    if found is None:
        return None
    code = ord(found.group())
    if 0xD800 <= code <= 0xDFFF:
        return "holds a lone UTF-16 surrogate, which is not valid Unicode"
    return f"holds the control character U+{code:04X}"


def number_issue(number: float) -> str | None:
    return None if math.isfinite(number) else "is not a finite number (NaN, Infinity or out of range)"


class DuplicateKeys(dict):
    """A JSON object that named a key more than once (the parser keeps the last; the reader refuses it)."""

    def __init__(self, pairs: list[tuple[str, Any]], duplicate: str) -> None:
        super().__init__(pairs)
        self.duplicate = duplicate


def object_from_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``json.loads`` object_pairs_hook: marks objects with a duplicate key instead of silently dropping
    one value (RFC 8259 leaves duplicates undefined; each parser picks a different winner)."""
    obj = dict(pairs)
    if len(obj) == len(pairs):
        return obj
    seen: set[str] = set()
    duplicate = next(key for key, _ in pairs if key in seen or seen.add(key))  # type: ignore[func-returns-value]
    return DuplicateKeys(pairs, duplicate)


def _field(path: tuple[str | int, ...]) -> str:
    return ".".join(str(part) for part in path) or "body"


def _conforms(document: Any) -> bool:
    """The fast pass (no paths kept): True when nothing in the document breaks the rules."""
    stack = [document]
    while stack:
        node = stack.pop()
        kind = type(node)
        if kind is DuplicateKeys:
            return False
        if kind is dict:
            if any(_CONTROL_OR_SURROGATE.search(key) for key in node):
                return False
            children = node.values()
        elif kind is list:
            children = node
        else:
            children = (node,)
        for child in children:
            kind = type(child)
            if kind is str:
                if _CONTROL_OR_SURROGATE_IN_TEXT.search(child):
                    return False
            elif kind is float:
                if not math.isfinite(child):
                    return False
            elif kind is dict or kind is list or kind is DuplicateKeys:
                stack.append(child)
    return True


def document_issues(document: Any) -> list[dict[str, str]]:
    """Every place in a parsed JSON document that breaks the rules (at most MAX_DETAILS), as field-level
    details: ``{"field": "records.0.monthly_charges", "issue": "..."}``. Iterative: any depth is fine."""
    if _conforms(document):
        return []
    issues: list[dict[str, str]] = []
    stack: list[tuple[tuple[str | int, ...], Any]] = [((), document)]
    while stack and len(issues) < MAX_DETAILS:
        path, node = stack.pop()
        if isinstance(node, dict):
            if isinstance(node, DuplicateKeys):
                named = text_issue(node.duplicate) is None  # a key that breaks the rules is not echoed
                field = _field((*path, node.duplicate) if named else path)
                issues.append({"field": field, "issue": "is named more than once in its object"})
            children: list[tuple[tuple[str | int, ...], Any]] = []
            for key, value in node.items():
                issue = text_issue(key)
                if issue is None:
                    children.append(((*path, key), value))
                else:
                    issues.append({"field": _field(path), "issue": f"has a key that {issue}"})
            stack.extend(reversed(children))  # reported in document order
        elif isinstance(node, list):
            stack.extend(((*path, index), node[index]) for index in reversed(range(len(node))))
        elif isinstance(node, str):
            issue = text_issue(node, multiline=True)
            if issue is not None:
                issues.append({"field": _field(path), "issue": issue})
        elif isinstance(node, float):
            issue = number_issue(node)
            if issue is not None:
                issues.append({"field": _field(path), "issue": issue})
    return issues[:MAX_DETAILS]


# Any JSON value as the body reader accepts it, so the OpenAPI documents free-form values with the rule:
# text holds no control character but TAB, LF and CR, keys none at all, at every depth.
Key = Annotated[str, Field(pattern=TEXT_PATTERN)]
JsonValue = TypeAliasType(
    "JsonValue",
    Annotated[str, Field(pattern=FREE_TEXT_PATTERN)]
    | int
    | float
    | bool
    | list["JsonValue"]  # type: ignore[misc]
    | dict[Key, "JsonValue"]  # type: ignore[misc]
    | None,
)
JsonObject = dict[Key, JsonValue]


def _within_supported_range(value: dt.datetime) -> dt.datetime:
    # A time without a zone is judged as UTC here; whether a route accepts one is that route's rule.
    aware = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
    if not EARLIEST <= aware < LATEST:
        raise ValueError(f"must be {DATE_RANGE}")
    return value


SupportedDatetime = Annotated[dt.datetime, AfterValidator(_within_supported_range)]
