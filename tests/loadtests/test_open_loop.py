"""Real Locust driving the open loop (loadtests/open_loop.py) as the engine starts it, against
the twins on loopback: a fast server is offered its rate on time; a server that cannot keep up
with too few senders shows its queue in the corrected latency, not in the service time, and the
sends that waited are counted late."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from blockbench import results
from blockbench.engine import levels
from blockbench.load import arrivals, loadgen, scenarios
from tests import servers

pytestmark = pytest.mark.integration

# Locust starts in about a second; each sweep below is 1 s of warm-up and 3 s of hold.
RUN_TIMEOUT = 60.0


def open_loop(
    host: str, folder: Path, rate: int, monkeypatch: pytest.MonkeyPatch, senders: int | None = None
) -> tuple[loadgen.LevelRecord, results.OpenLoop]:
    """One level at ``rate`` req/s, constant spacing, io-sleep's 100 ms requests."""
    if senders is not None:
        # Locust inherits the test's environment (supervisor.spawn).
        monkeypatch.setenv(arrivals.SENDERS_ENV, str(senders))
    sweep = scenarios.Sweep((rate,), warmup=1, hold=3, arrivals="constant")
    run = loadgen.LocustRun("IoSleep", host, sweep, folder)
    run.start()
    deadline = time.monotonic() + RUN_TIMEOUT
    try:
        found: list[loadgen.LevelRecord] = []
        while not found and time.monotonic() < deadline and run.running():
            found = run.collect()
            time.sleep(0.2)
        found = found or run.collect()
    finally:
        for child in run.children:
            child.stop()
    assert found, run.failure() or "Locust wrote no level"
    (record,) = found
    assert record.open_loop is not None
    return record, levels.open_loop(record.open_loop)


@pytest.fixture(scope="module")
def fast_url(logs_dir: Path) -> Iterator[str]:
    app = servers.starlette(logs_dir / "open-loop-fast.log", access_log=False)
    yield app.url
    app.stop()


@pytest.fixture(scope="module")
def one_thread_url(logs_dir: Path) -> Iterator[str]:
    # One gthread worker with one thread: 100 ms requests, 10 per second at most.
    app = servers.flask(logs_dir / "open-loop-slow.log", threads=1)
    yield app.url
    app.stop()


@pytest.mark.timeout(90)
def test_a_fast_server_is_offered_its_rate_on_time(
    fast_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record, schedule = open_loop(fast_url, tmp_path, rate=100, monkeypatch=monkeypatch)
    # 100 req/s evenly spaced over a 3 s hold: 300 due, every one sent on time.
    assert schedule.scheduled == 300
    assert schedule.late <= 3, schedule
    assert schedule.unfinished == 0
    # Answered in the hold: the rate kept, within the requests in flight at its edges.
    assert record.requests - record.failures == pytest.approx(300, abs=15)
    assert record.failures == 0
    # Little's law: 100 req/s x 100 ms, about 10 out at once, far fewer than the senders.
    assert 5 <= schedule.max_in_flight <= 40 < schedule.senders
    assert schedule.corrected is not None and schedule.service is not None
    assert schedule.corrected.count == 300
    assert 100 <= schedule.service.p50 <= schedule.corrected.p99 < 300


@pytest.fixture(scope="module")
def stalled(
    one_thread_url: str, tmp_path_factory: pytest.TempPathFactory
) -> tuple[loadgen.LevelRecord, results.OpenLoop]:
    # 20 req/s of 100 ms requests to a server that serves 10 a second, with 2 senders: one at the
    # server, one queued at it, and the rest of the arrivals waiting for a sender.
    with pytest.MonkeyPatch.context() as monkeypatch:
        return open_loop(
            one_thread_url, tmp_path_factory.mktemp("stalled"), 20, monkeypatch, senders=2
        )


@pytest.mark.timeout(120)
def test_a_server_that_falls_behind_shows_it_in_the_corrected_latency_only(
    stalled: tuple[loadgen.LevelRecord, results.OpenLoop],
) -> None:
    _, schedule = stalled
    assert schedule.corrected is not None and schedule.service is not None
    # The server answers each request it is sent in one or two service times: from the actual
    # send, a closed loop's view, the level looks fine.
    assert schedule.service.p99 < 400
    # From the intended time the queue grows by 10 requests a second, 1 s of waiting per second:
    # by the hold's end the arrivals wait seconds. Measured from the send, this would fail.
    assert schedule.corrected.p99 > 5 * schedule.service.p99
    assert schedule.corrected.p50 > 1000


@pytest.mark.timeout(120)
def test_sends_that_wait_for_a_sender_are_counted_late(
    stalled: tuple[loadgen.LevelRecord, results.OpenLoop],
) -> None:
    record, schedule = stalled
    assert schedule.senders == 2
    assert schedule.max_in_flight == 2
    # 60 due in the hold; 10 a second can leave, so most leave late or not at all by its end.
    assert schedule.scheduled == 60
    assert schedule.late > 30
    assert results.flags_for(
        successes=record.requests - record.failures,
        failure_rate=0.0,
        rps=record.requests / record.window_s,
        generator_cpu=None,
        generator_ceiling_rps=None,
        open_loop=schedule,
    ) == ["schedule_fell_behind"]
