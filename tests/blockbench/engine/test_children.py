"""What the engine starts it stops: Locust's processes on a normal end, on Ctrl-C, and when a
start fails half-way; and their samples are forgotten with them. Fakes stand in for the
processes, so this runs in milliseconds; test_engine checks real runs leave nothing behind."""

from __future__ import annotations

from typing import cast

import pytest

from blockbench.engine.engine import Engine, RunOptions
from blockbench.engine.sampler import TreeSampler
from blockbench.load import loadgen
from blockbench.load.loadgen import LevelRecord


class FakeChild:
    def __init__(self, pid: int, stopped: list[int]) -> None:
        self.pid = pid
        self._stopped = stopped

    def stop(self) -> None:
        self._stopped.append(self.pid)


class FakeLocust:
    """Two generator processes; ``start`` fails after the first when asked to."""

    def __init__(self, *, fail_start: bool = False, interrupt: bool = False) -> None:
        self.children: list[FakeChild] = []
        self.stopped: list[int] = []
        self._fail_start = fail_start
        self._interrupt = interrupt

    def start(self) -> None:
        self.children.append(FakeChild(101, self.stopped))
        if self._fail_start:
            raise OSError("the second Locust process could not start")
        self.children.append(FakeChild(102, self.stopped))

    @property
    def pids(self) -> list[int]:
        return [child.pid for child in self.children]

    def running(self) -> bool:
        return False  # one pass: what it reported, then the end

    def collect(self) -> list[LevelRecord]:
        if self._interrupt:
            raise KeyboardInterrupt
        return [LevelRecord(1, 0.0, 1.0, 1.0, 10, 0, {100: 10})]

    def live_rps(self) -> float | None:
        return None


class FakeSampler:
    def __init__(self) -> None:
        self.watched: dict[str, int] = {}

    def watch(self, name: str, pid: int) -> None:
        self.watched[name] = pid

    def forget(self, name: str) -> None:
        del self.watched[name]


def drive(locust: FakeLocust, sampler: FakeSampler) -> list[LevelRecord]:
    engine = Engine(RunOptions())
    seen: list[LevelRecord] = []
    records = engine._drive(
        cast(loadgen.LocustRun, locust), cast(TreeSampler, sampler), seen.append
    )
    assert records == seen
    return records


def test_locust_is_stopped_and_forgotten_when_its_sweep_ends() -> None:
    locust, sampler = FakeLocust(), FakeSampler()
    assert [record.level for record in drive(locust, sampler)] == [1]
    assert locust.stopped == [101, 102]
    assert sampler.watched == {}


def test_ctrl_c_while_driving_stops_every_locust_process() -> None:
    locust, sampler = FakeLocust(interrupt=True), FakeSampler()
    with pytest.raises(KeyboardInterrupt):
        drive(locust, sampler)
    assert locust.stopped == [101, 102]
    assert sampler.watched == {}


def test_a_start_that_fails_half_way_stops_what_it_started() -> None:
    locust, sampler = FakeLocust(fail_start=True), FakeSampler()
    with pytest.raises(OSError, match="could not start"):
        drive(locust, sampler)
    assert locust.stopped == [101]
    assert sampler.watched == {}
