"""Concurrency behaviour, not speed: /io/blocking stalls an event loop (Starlette's, FastAPI's
async def routes', Quart's), /io/sleep not; on threads (Flask, FastAPI's def routes) neither.

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
