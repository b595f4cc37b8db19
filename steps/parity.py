"""The parity record (US10): recorded runs compared call by call; calls the fake does not serve, named."""

from __future__ import annotations

from typing import Any

from pytest_bdd import parsers, then, when

from fixtures.drivers.recordings import Comparison, Recordings, call_the_fake_does_not_serve, names_the_call

SDK_METHOD = r'"(?P<sdk>w\.[\w.]+)"'


@when(parsers.re(r'the workspace calls from here on are recorded as run "(?P<run>\w+)"'))
def record_as(recordings: Recordings, run: str) -> None:
    """Every workspace call from this step on is copied into the named run, until another run starts."""
    recordings.start(run)


@when(parsers.re(r'the runs "(?P<a>\w+)" and "(?P<b>\w+)" are compared'), target_fixture="comparison")
def compare_runs(recordings: Recordings, a: str, b: str) -> Comparison:
    """The two runs are compared call by call, as ``python -m tools.parity RUN_A RUN_B`` compares them."""
    return recordings.compare(a, b)


@then(
    parsers.re(
        r"the comparison names the call of "
        + SDK_METHOD
        + r' answered "(?P<answer>[^"]+)" only in run "(?P<run>\w+)"'
    )
)
def names_difference(comparison: Comparison, sdk: str, answer: str, run: str) -> None:
    """Among the differences listed, the answer (status and error code) to the call this SDK method makes
    was seen in that run only."""
    seen = comparison.answers_only_in(run, sdk)
    assert answer in seen, f"{sdk} answered {answer!r} only in run {run}? {comparison.differences}"


@when("the admin makes a workspace call the fake workspace does not serve", target_fixture="refusal")
def unserved_call(admin: Any) -> Exception:
    """The admin lists the workspace's jobs through the SDK; the fake workspace has no Jobs API."""
    return call_the_fake_does_not_serve(admin)


@then(
    parsers.re(
        r"the call is refused as not served and kept in the scenario's record, naming the SDK method "
        + SDK_METHOD
    )
)
def refused_as_not_served(refusal: Exception, recordings: Recordings, sdk: str) -> None:
    """The SDK raised its 501 exception, its message naming the call (method and path) and the SDK method;
    the recorder kept the call as unserved in this scenario (a run with one it did not expect fails)."""
    assert type(refusal).__name__ == "NotImplemented", repr(refusal)
    assert getattr(refusal, "error_code", None) == "NOT_IMPLEMENTED", repr(refusal)
    assert names_the_call(refusal, sdk), str(refusal)
    assert sdk in recordings.unserved_in_scenario(), recordings.unserved_in_scenario()
