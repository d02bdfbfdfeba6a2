"""wait_until: true as soon as its condition holds, false once its time is up."""

from __future__ import annotations

import time
from itertools import pairwise

import pytest

from blockbench.targets.polling import wait_until


class Countdown:
    """A condition that holds from its ``after``-th check on, noting when it was checked."""

    def __init__(self, after: int) -> None:
        self.after = after
        self.times: list[float] = []

    @property
    def checks(self) -> int:
        return len(self.times)

    def __call__(self) -> bool:
        self.times.append(time.monotonic())
        return self.checks >= self.after


def test_a_condition_that_holds_is_checked_once_without_sleeping() -> None:
    condition = Countdown(after=1)
    started = time.monotonic()
    assert wait_until(condition, timeout=10, interval=5)
    assert condition.checks == 1
    assert time.monotonic() - started < 1


def test_it_checks_every_interval_until_the_condition_holds() -> None:
    condition = Countdown(after=4)
    started = time.monotonic()
    assert wait_until(condition, timeout=30, interval=0.05)
    assert condition.checks == 4
    # A whole interval between one check and the next; generous above (a loaded machine).
    assert all(later - earlier >= 0.05 for earlier, later in pairwise(condition.times))
    assert time.monotonic() - started < 5


def test_it_gives_up_once_a_check_finds_the_timeout_past() -> None:
    condition = Countdown(after=1_000_000)
    started = time.monotonic()
    assert not wait_until(condition, timeout=0.3, interval=0.2)
    assert time.monotonic() - started < 5
    # At 0, 0.2 and 0.4 s: the last check comes after the deadline, the one before it within.
    assert condition.checks >= 2
    assert condition.times[-1] - started >= 0.3
    assert condition.times[-2] - started < 0.3


def test_a_condition_that_raises_ends_the_wait_at_once() -> None:
    def exited() -> bool:
        raise RuntimeError("the process exited")

    started = time.monotonic()
    with pytest.raises(RuntimeError, match="the process exited"):
        wait_until(exited, timeout=30, interval=5)
    assert time.monotonic() - started < 1
