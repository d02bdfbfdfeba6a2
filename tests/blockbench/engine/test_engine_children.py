"""What the engine starts it stops: Locust's processes on a normal end, on Ctrl-C, and when a
start fails half-way, a cell's target when the cell ends; and their samples are forgotten with
them. Fakes stand in for the
processes, so this runs in milliseconds; test_engine checks real runs leave nothing behind."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import pytest

from blockbench.engine import engine as engine_module
from blockbench.engine.engine import Engine, RunOptions, _Deployment
from blockbench.engine.sampler import TreeSampler
from blockbench.load import loadgen
from blockbench.load.loadgen import LevelRecord
from blockbench.targets import launch
from tests.blockbench.results.test_schema import make_run


class FakeChild:
    def __init__(self, pid: int, stopped: list[int]) -> None:
        self.pid = pid
        self._stopped = stopped

    def stop(self) -> None:
        self._stopped.append(self.pid)


class FakeLocust:
    """Two generator processes; ``start`` fails after the first when asked to."""

    def __init__(
        self,
        *,
        fail_start: bool = False,
        interrupt: bool = False,
        levels: list[LevelRecord] | None = None,
    ) -> None:
        self.children: list[FakeChild] = []
        self.stopped: list[int] = []
        self.workers_seen: set[str] = set()  # independent processes: no worker
        self._fail_start = fail_start
        self._interrupt = interrupt
        self._levels = (
            [LevelRecord(1, 0.0, 1.0, 1.0, 10, 0, {100: 10})] if levels is None else levels
        )

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

    def stop(self) -> None:
        for child in self.children:
            child.stop()

    def collect(self) -> list[LevelRecord]:
        if self._interrupt:
            raise KeyboardInterrupt
        return self._levels

    def failure(self) -> str | None:
        return None

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


class FakeServer:
    def __init__(self, *, dies: bool) -> None:
        self.url, self.pid = "http://127.0.0.1:1", 201
        self.stopped = False
        self.stop_timeout: float | None = None
        self._dies = dies

    def running(self) -> bool:
        return not self.stopped and not self._dies

    def stop(self, timeout: float) -> None:
        self.stopped = True
        self.stop_timeout = timeout


@pytest.mark.parametrize(
    ("dies", "why"),
    [
        (True, "flask-sync stopped answering; see logs/io-sleep__flask-sync__r0/"),
        (False, "the load generator reported no result for them"),
    ],
)
def test_a_cell_stops_its_target_and_says_why_levels_are_missing(
    dies: bool, why: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = FakeServer(dies=dies)
    locusts: list[FakeLocust] = []

    def locust_run(*args: object, **kwargs: object) -> FakeLocust:
        locusts.append(FakeLocust(levels=[]))
        return locusts[-1]

    monkeypatch.setattr(launch, "start_target", lambda *args, **kwargs: server)
    monkeypatch.setattr(loadgen, "LocustRun", locust_run)
    run = make_run()  # flask-sync planned at 1 and 10 users, measured at 10
    sampler = FakeSampler()
    deployment = _Deployment("http://127.0.0.1:2", None, None, None)
    engine = Engine(RunOptions(results_dir=tmp_path))
    cell = engine._run_cell(run, tmp_path, 0, cast(TreeSampler, sampler), deployment)
    assert cell.error == f"levels [1] missing: {why}"
    assert server.stopped and locusts[0].stopped == [101, 102]
    # Killed after a short grace: what it still drains is not measured.
    assert server.stop_timeout == engine_module.TARGET_STOP_S <= 1
    assert sampler.watched == {}
