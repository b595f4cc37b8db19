"""Running live safely (US10): a live run killed mid-scenario, then the sweeper (drivers/live_run.py)."""

from __future__ import annotations

import allure
from pytest_bdd import given, then, when

from fixtures.drivers import factories
from fixtures.drivers.live_run import TAKES_NO_MARK, KilledRun, Sweep, still_there, sweep


@given("a live run in a workspace of its own has made one object of every kind")
def run_has_made_everything(killed_run: KilledRun) -> None:
    """Starts a live-mode run that makes one object of each kind with the factories; waits until it has."""
    killed_run.start()
    made = killed_run.await_made()
    assert sorted(made) == sorted(killed_run.kinds), made


@when("the run is killed without warning")
def run_killed(killed_run: KilledRun) -> None:
    """SIGKILL: the run's teardown, which would have removed what it made, never runs."""
    assert killed_run.kill() != 0


@then("every object it made is still in the workspace, named with the run's prefix and marked to be removed")
def everything_left(killed_run: KilledRun) -> None:
    """Each object exists, carries the run's prefix and, where its kind takes one, a RemoveAfter mark."""
    w = killed_run.workspace.admin()
    for kind, name in killed_run.made.items():
        exists, mark = still_there(w, kind, name)
        assert exists, f"{kind} {name} is gone: the kill came too late to prove anything"
        assert killed_run.prefix in name, f"{kind} {name} lacks the run's prefix {killed_run.prefix}"
        if kind not in TAKES_NO_MARK:
            assert factories.parse_remove_after(mark or "") is not None, f"{kind} {name}: mark {mark!r}"


@when("the sweeper deletes everything with the prefix, whatever its age", target_fixture="swept")
def sweeper_deletes(killed_run: KilledRun) -> Sweep:
    """``python -m tools.sweeper --delete --any-age`` with the live run's settings, as an operator runs it."""
    swept = sweep(killed_run.workspace, "--delete", "--any-age")
    allure.attach(swept.output, "python -m tools.sweeper --delete --any-age", allure.attachment_type.TEXT)
    assert swept.exit_status == 0, swept.output
    return swept


@then("nothing with the run's prefix is left in the workspace")
def nothing_left(killed_run: KilledRun, swept: Sweep) -> None:
    """Every object the run made is gone (read through the SDK); a dry run finds nothing with the prefix."""
    from tools import sweeper

    w = killed_run.workspace.admin()
    left = [f"{kind} {name}" for kind, name in killed_run.made.items() if still_there(w, kind, name)[0]]
    assert left == [], f"left behind: {left}\n{swept.output}"
    again = sweeper.sweep(w, killed_run.prefix, delete=False, any_age=True)
    assert again.found == [] and again.problems == [], (again.found, again.problems)
