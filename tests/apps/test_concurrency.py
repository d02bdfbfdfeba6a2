"""Concurrency behaviour, not speed: /io/blocking stalls an event loop (Starlette's, FastAPI's
async def routes', Quart's), /io/sleep not; on threads (Flask, FastAPI's def routes) neither.
/cpu-then-sleep stalls an event loop for its CPU work, not for its wait.

Four requests at once to one server process. A server that takes them one at a time cannot
answer the last before four waits, however fast the machine: that is the lower bound where the
loop is blocked. Where requests overlap they take about one wait; the test asks for less than
three, so a busy machine has two whole waits (0.8 s) of slack before a correct server fails,
while a server that serialises them still fails by a whole wait.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from blockbench.apps.cpu import spin
from tests.apps.twins import LiveClient

pytestmark = pytest.mark.integration

WAIT_MS = 400
WAIT = WAIT_MS / 1000
# No more than the live Flask twin's 8 gthread threads (tests/apps/twins.py) can hold.
AT_ONCE = 4


def _all_at_once(client: LiveClient, url: str) -> float:
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=AT_ONCE) as pool:
        replies = list(pool.map(lambda _: client.request("GET", url), range(AT_ONCE)))
    assert all(reply.status == 200 for reply in replies)
    return time.perf_counter() - started


# Twins whose endpoints run on the event loop, and those that run them on threads (the Flask
# twin on gunicorn gthread; the FastAPI twin's plain def routes on anyio's thread pool).
ON_THE_LOOP = ("starlette", "fastapi", "quart")
ON_THREADS = ("flask", "fastapi-def")


@pytest.mark.parametrize("live_twin", ON_THE_LOOP, indirect=True)
def test_blocking_endpoint_blocks_the_event_loop(live_twin: LiveClient) -> None:
    elapsed = _all_at_once(live_twin, f"/io/blocking?ms={WAIT_MS}")
    # Each time.sleep holds the loop, so they run one after another; the 0.2 of a wait spares
    # the clocks' rounding, far less than the three waits an overlapping server saves.
    assert elapsed >= (AT_ONCE - 0.2) * WAIT


@pytest.mark.parametrize("live_twin", ON_THE_LOOP, indirect=True)
def test_sleep_endpoint_does_not_block_the_event_loop(live_twin: LiveClient) -> None:
    elapsed = _all_at_once(live_twin, f"/io/sleep?ms={WAIT_MS}")
    assert elapsed < (AT_ONCE - 1) * WAIT


@pytest.mark.parametrize("live_twin", ON_THREADS, indirect=True)
def test_blocking_is_harmless_on_threads(live_twin: LiveClient) -> None:
    # Each request has a thread of its own: gunicorn's, or one of anyio's tokens.
    elapsed = _all_at_once(live_twin, f"/io/blocking?ms={WAIT_MS}")
    assert elapsed < (AT_ONCE - 1) * WAIT


# /cpu-then-sleep, one request with a head start, then a /healthz: on an event loop the second
# waits for the first's CPU work (CPU_S) but not for its wait (WAIT); on threads for neither.
CPU_S = 0.6
HEAD_START = 0.15
# Room for a busy machine's scheduling, well under what either rule is measured against.
SLACK = 0.2


def _units_for(seconds: float) -> int:
    """Work units that take about ``seconds`` of this machine's CPU: the same spin, timed here,
    the best of three so that a moment of load does not inflate it."""
    units = 200_000
    best = min(_timed(units) for _ in range(3))
    return int(units * seconds / best)


def _timed(units: int) -> float:
    started = time.perf_counter()
    spin(units)
    return time.perf_counter() - started


def _behind_cpu_then_sleep(client: LiveClient) -> tuple[float, float]:
    """When the /healthz and the /cpu-then-sleep before it were answered, from the latter's send."""
    url = f"/cpu-then-sleep?work={_units_for(CPU_S)}&ms={WAIT_MS}"
    started = time.perf_counter()

    def slow() -> float:
        assert client.request("GET", url).status == 200
        return time.perf_counter() - started

    with ThreadPoolExecutor(max_workers=1) as pool:
        slow_done = pool.submit(slow)
        time.sleep(HEAD_START)
        assert client.request("GET", "/healthz").status == 200
        quick_done = time.perf_counter() - started
        return quick_done, slow_done.result()


@pytest.mark.parametrize("live_twin", ON_THE_LOOP, indirect=True)
def test_cpu_then_sleep_holds_the_loop_for_its_cpu_not_its_wait(live_twin: LiveClient) -> None:
    quick, slow = _behind_cpu_then_sleep(live_twin)
    # The CPU work ended when the wait began, one WAIT before the slow answer: not sooner.
    assert quick >= slow - WAIT - SLACK, (quick, slow)
    # And the wait let it through: it did not wait for the end of the slow request.
    assert quick < slow - WAIT / 2, (quick, slow)


@pytest.mark.parametrize("live_twin", ON_THREADS, indirect=True)
def test_cpu_then_sleep_holds_neither_on_threads(live_twin: LiveClient) -> None:
    # The control: the same measurement tells a thread from a loop (the GIL is handed over
    # every few milliseconds, far less than CPU_S).
    quick, slow = _behind_cpu_then_sleep(live_twin)
    assert quick < slow - WAIT - SLACK, (quick, slow)
