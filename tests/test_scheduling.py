"""The run order: long tests spread over the first half, everything else where the shuffle put it."""

from __future__ import annotations

from pathlib import Path

import pytest

from fixtures.stack import scheduling
from fixtures.stack.scheduling import long_first_half

IDS = [f"test_{i:03}" for i in range(200)]


def test_long_tests_are_spread_over_the_first_half_and_the_rest_keep_their_order() -> None:
    durations = {nodeid: 2.5 for nodeid in IDS[-20:]} | {IDS[50]: 0.9}  # 0.9 s is not long
    order = long_first_half(IDS, durations)

    assert sorted(order) == sorted(IDS)
    positions = [order.index(n) for n in IDS[-20:]]
    assert max(positions) < len(IDS) // 2
    assert sum(p < len(IDS) // 4 for p in positions) == 10  # as many in each quarter of the first half
    assert positions == sorted(positions)  # long ones keep their shuffled order among themselves
    assert [n for n in order if n not in IDS[-20:]] == IDS[:-20]


def test_more_long_tests_than_half_the_run_simply_come_first() -> None:
    durations = {nodeid: 5.0 for nodeid in IDS[:150]}
    assert long_first_half(IDS[::-1], durations)[:150] == IDS[:150][::-1]


def test_without_known_durations_the_order_is_untouched() -> None:
    assert long_first_half(IDS, {}) == IDS


@pytest.mark.parametrize("content", ["", "not json", "[1, 2]", '{"a": "slow"}'])
def test_an_unreadable_record_means_plain_random_order(
    content: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = tmp_path / "test-durations.json"
    record.write_text(content)
    monkeypatch.setattr(scheduling, "DURATIONS", record)
    assert scheduling.known_durations() == {}
