"""Schemathesis against the app's own OpenAPI description, as a signed-in user.

Every operation gets ``FUZZ_EXAMPLES`` generated requests (1000+ in all once the stories have landed); each
response must not be a server error and must match what the schema documents (status codes, content
types, bodies). Findings are fixed in the app, never by loosening the schema.

Driven through ``APIOperation.as_strategy()`` with Hypothesis directly: schemathesis' lazy pytest loader
does not support pytest 9 yet, and the schema only exists once the session's stack is up.
"""

from __future__ import annotations

import os

import schemathesis
from hypothesis import HealthCheck, given, settings

from fixtures.drivers.app import USER_TOKEN_HEADER
from fixtures.stack.mock import Stack

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))
# CI explores the same cases every run (a red build is a real finding, not a lucky seed); set FUZZ_RANDOM=1
# to explore new ones locally, and turn each finding into a fix in the app.
FUZZ_RANDOM = os.environ.get("FUZZ_RANDOM") == "1"
MIN_TOTAL_CASES = 1000


def test_every_operation_conforms_to_its_schema(stack: Stack) -> None:
    user = stack.create_person("Fuzz", ["analysts"])
    headers = {USER_TOKEN_HEADER: user.token}
    schema = schemathesis.openapi.from_url(f"{stack.app_url}/api/openapi.json", headers=headers)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations, "the schema lists no operation"
    cases: dict[str, int] = {}
    failures: dict[str, str] = {}
    for operation in operations:
        cases[operation.label] = 0
        try:
            fuzzer(operation, headers, cases)()
        except Exception as error:  # collected per operation, reported together below
            failures[operation.label] = f"{error.__class__.__name__}: {str(error)[:2000]}"
    print(f"\nfuzzed {sum(cases.values())} cases over {len(cases)} operations: {cases}")
    assert not failures, "\n\n".join(f"{label}\n{failure}" for label, failure in failures.items())
    # Operations without any input yield a single case whatever FUZZ_EXAMPLES says: they do not count.
    with_inputs = [label for label, count in cases.items() if count > 1]
    if (
        os.environ.get("FUZZ_REQUIRE_TOTAL", "1") == "1"
        and len(with_inputs) * FUZZ_EXAMPLES >= MIN_TOTAL_CASES
    ):
        assert sum(cases.values()) >= MIN_TOTAL_CASES, cases


def fuzzer(operation, headers: dict[str, str], cases: dict[str, int]):
    @given(case=operation.as_strategy())
    @settings(
        max_examples=FUZZ_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=not FUZZ_RANDOM,
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case) -> None:
        cases[operation.label] += 1
        case.call_and_validate(headers=headers)

    return fuzz
