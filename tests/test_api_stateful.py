"""Stateful fuzzing as two users (issue 19).

User A explores the app with schemathesis' state machine, built from the OpenAPI links between operations:
save a preference, then read it, change or delete it from the version it answered (If-Match: its ETag),
page the list; score with an endpoint, then find the call in the history. Every step goes through every
check the project config enables, the stateful ones too (a deleted preference stays gone, a created one
can be read). Then every resource A created is probed as user B, who must get exactly what a missing
resource gets: same status, code, message (its name aside), details and headers, and A's data unchanged.
"""

from __future__ import annotations

import os
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from fixtures.drivers.app import USER_TOKEN_HEADER
from fixtures.drivers.factories import Makers
from fixtures.drivers.permissions import Permissions
from fixtures.drivers.serving_models import ServedModels
from fixtures.stack.mock import Person, Stack

STEPS = int(os.environ.get("FUZZ_STATEFUL_STEPS", "300"))
MAX_RUNS = 8  # each run: up to SCENARIOS scenarios of up to 10 steps
SCENARIOS = 40
RANDOM = os.environ.get("FUZZ_RANDOM") == "1"
# Headers that differ between any two answers, whoever asks.
PER_ANSWER_HEADERS = {"date", "x-request-id", "content-length", "server"}


STATEFUL_PATHS = ("/api/preferences", "/api/serving")
SCORING = ("POST /api/serving/endpoints/{name}/invocations", "POST /api/serving/endpoints/{name}/batch")


@dataclass
class Exploration:
    steps: Counter = field(default_factory=Counter)  # (operation, status) -> steps
    links: Counter = field(default_factory=Counter)  # link followed -> steps
    saved_keys: set[str] = field(default_factory=set)
    probes: Counter = field(default_factory=Counter)  # what B probed -> times
    failures: list[str] = field(default_factory=list)
    runs: int = 0


@dataclass
class UserB:
    """Probes, right after A created it, each thing A created: B must get what a missing one gets."""

    app: Any
    endpoint: str
    exploration: Exploration
    empty_history: httpx.Response | None = None  # B's history of the endpoint before anyone called it

    def saw_like_missing(self, what: str, seen: httpx.Response, missing: httpx.Response, name: Any) -> None:
        self.exploration.probes[what] += 1
        own, other = comparable(seen, name[0]), comparable(missing, name[1])
        if own != other:
            self.exploration.failures.append(f"B on A's {what}: {own} != missing: {other}")

    def probe_preference(self, key: str) -> None:
        never = f"never.{uuid.uuid4().hex[:12]}"
        probes = {
            "read": self.app.preference,
            "delete": self.app.delete_preference,
            "change (If-Match: *)": lambda name: self.app.save_preference(name, "from B", if_match="*"),
        }
        for what, probe in probes.items():
            self.saw_like_missing(f"preference: {what}", probe(key), probe(never), (key, never))

    def probe_calls(self) -> None:
        """B may query the endpoint too: B's history of it stays what it was before anyone called it."""
        assert self.empty_history is not None
        seen = self.app.inference_history(endpoint=self.endpoint)
        self.saw_like_missing("calls in the history", seen, self.empty_history, (None, None))


@pytest.fixture(scope="module")
def endpoint(served_models: ServedModels, module_makers: Makers) -> str:
    from databricks.sdk.service.serving import ServedEntityInput

    entity = ServedEntityInput(
        entity_name=served_models.churn,
        entity_version=served_models.churn_versions[1],
        workload_size="Small",
        scale_to_zero_enabled=True,
    )
    return module_makers.serving_endpoint(served_entities=[entity]).name


def explore(stack: Stack, user: Person, other: Person, endpoint: str) -> Exploration:
    import schemathesis
    from hypothesis import HealthCheck, Phase, settings
    from hypothesis.errors import Flaky
    from schemathesis.core.failures import FailureGroup

    headers = {USER_TOKEN_HEADER: user.token}
    # What users create (preferences, calls) and what they create them with (endpoints): the rest of the
    # API only reads, and the negative and coverage phases cover it (tests/test_api_fuzz.py).
    document = user.app.quiet().openapi().json()
    document["paths"] = {
        path: item for path, item in document["paths"].items() if path.startswith(STATEFUL_PATHS)
    }
    schema = schemathesis.openapi.from_dict(document)
    schema.config.update(base_url=stack.app_url)
    exploration = Exploration()
    b = UserB(other.app.quiet(), endpoint, exploration)
    b.empty_history = b.app.inference_history(endpoint=endpoint)
    assert b.empty_history.json()["total"] == 0, b.empty_history.text

    class AsUserA(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"headers": headers}

        def before_call(self, case: Any) -> None:
            if "name" in (case.path_parameters or {}):  # every serving route names the endpoint A may use
                case.path_parameters["name"] = endpoint

        def step(self, input: Any) -> Any:
            if input.transition is not None and input.is_applied:
                exploration.links[input.transition.id] += 1
            return super().step(input)

        def after_call(self, response: Any, case: Any) -> None:
            super().after_call(response, case)
            label, status = case.operation.label, response.status_code
            exploration.steps[(label, status)] += 1
            if label == "PUT /api/preferences/{key}" and status in (200, 201):
                key = response.json()["key"]  # as stored (the path holds it percent-encoded)
                exploration.saved_keys.add(key)
                b.probe_preference(key)
            elif label in SCORING and (status == 200 or response.json()["error"]["code"] == "INVALID_INPUT"):
                b.probe_calls()  # answered or refused by the signature: logged either way (US3.6)

        def validate_response(self, response: Any, case: Any, *args: Any, **kwargs: Any) -> None:
            try:
                super().validate_response(response, case, *args, **kwargs)
            except FailureGroup as failures:
                exploration.failures.append(f"{case.method} {case.formatted_path}: {failures}"[:3000])
                raise

    for _ in range(MAX_RUNS):
        exploration.runs += 1
        try:
            AsUserA.run(
                settings=settings(
                    max_examples=SCENARIOS,
                    stateful_step_count=10,
                    deadline=None,
                    database=None,
                    derandomize=not RANDOM,
                    suppress_health_check=list(HealthCheck),
                    phases=[Phase.generate],
                )
            )
        except Flaky:
            # Hypothesis replayed a scenario and the app's state had moved on (a key saved in one scenario
            # exists in the next): schemathesis' own engine ends the run the same way, failures aside.
            pass
        except FailureGroup:
            break  # recorded in exploration.failures
        if exploration.failures or sum(exploration.steps.values()) >= STEPS:
            break
    return exploration


def comparable(response: httpx.Response, name: str | None = None) -> dict[str, Any]:
    """What B sees, without what differs between any two answers; a missing resource's own name in the
    message is replaced, so two missing names compare equal."""
    body = response.json() if response.content else None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = dict(body["error"])
        error.pop("request_id", None)
        if name is not None:
            error["message"] = error["message"].replace(repr(name), "<name>")
        body = {"error": error}
    headers = {k: v for k, v in response.headers.items() if k.lower() not in PER_ANSWER_HEADERS}
    return {"status": response.status_code, "body": body, "headers": headers}


def all_preferences(client: Any) -> dict[str, Any]:
    found: dict[str, Any] = {}
    token = None
    while True:
        page = client.preferences(limit=100, page_token=token).json()
        found |= {item["key"]: (item["value"], item["version"]) for item in page["items"]}
        token = page.get("next_page_token")
        if not token:
            return found


def test_what_one_user_creates_another_cannot_tell_from_missing(
    stack: Stack, endpoint: str, module_permissions: Permissions
) -> None:
    a = stack.create_person("Ana", ["model-monitors"])
    b = stack.create_person("Ben", ["model-monitors"])
    for person in (a, b):  # both may score with it: what tells them apart is only whose calls are whose
        module_permissions.on_endpoint(endpoint, "CAN_QUERY", user_name=person.user_name)
    a_app, b_app = a.app.quiet(), b.app.quiet()
    started, cpu = time.perf_counter(), time.process_time()
    exploration = explore(stack, a, b, endpoint)
    total, seconds, cpu = (
        sum(exploration.steps.values()),
        time.perf_counter() - started,
        time.process_time() - cpu,
    )
    print(f"\nstateful as A: {total} steps in {exploration.runs} runs, {seconds:.1f} s (CPU {cpu:.1f} s)")
    print(f"  links followed: {dict(exploration.links)}")
    print(f"  B's probes of what A had just created: {dict(exploration.probes)}")
    print(f"  answers: {dict(sorted(exploration.steps.items()))}")
    assert not exploration.failures, "\n\n".join(exploration.failures)
    followed = {link.rsplit(" -> ", 2)[1].split("] ", 1)[1] for link in exploration.links}
    # The app's own links (server/routers/preferences.py, serving.py) were followed, on both sides.
    assert followed & {"ReadIt", "ChangeItFromThisVersion", "DeleteItFromThisVersion", "DeleteIt"}, followed
    assert followed & {"ScoreTheExample", "ScoreTheExampleInABatch", "FindTheCallInMyHistory"}, followed
    assert exploration.probes["preference: read"] >= 3 and exploration.probes["calls in the history"] >= 3

    # After the run, from the outside: B lists none of A's keys, sees no call at all, changed nothing.
    a_holds = all_preferences(a_app)
    assert not set(all_preferences(b_app)) & set(a_holds)
    assert b_app.inference_history().json()["total"] == 0
    assert a_app.inference_history(endpoint=endpoint).json()["total"] > 0
    for key in a_holds:
        b_app.save_preference(key, "from B", if_match="*")
    assert all_preferences(a_app) == a_holds, "B changed A's preferences"
