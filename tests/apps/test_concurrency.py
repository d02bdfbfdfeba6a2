"""Concurrency behaviour, not speed: /io/blocking stalls Starlette's event loop, /io/sleep not.

Two requests at once to one uvicorn process: when the loop is free they overlap (about one
wait in all); when a handler blocks it they queue (about two waits). Tolerances are generous.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.apps.twins import LiveClient

pytestmark = pytest.mark.integration

WAIT_MS = 400


def _two_at_once(client: LiveClient, url: str) -> float:
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2) as pool:
        replies = list(pool.map(lambda _: client.request("GET", url), range(2)))
    assert all(reply.status == 200 for reply in replies)
    return time.perf_counter() - started


def test_blocking_endpoint_blocks_the_event_loop(
    live_twins: tuple[LiveClient, LiveClient],
) -> None:
    _, starlette = live_twins
    elapsed = _two_at_once(starlette, f"/io/blocking?ms={WAIT_MS}")
    assert elapsed >= 1.8 * WAIT_MS / 1000


def test_sleep_endpoint_does_not_block_the_event_loop(
    live_twins: tuple[LiveClient, LiveClient],
) -> None:
    _, starlette = live_twins
    elapsed = _two_at_once(starlette, f"/io/sleep?ms={WAIT_MS}")
    assert elapsed < 1.6 * WAIT_MS / 1000


def test_blocking_is_harmless_on_threads(live_twins: tuple[LiveClient, LiveClient]) -> None:
    flask, _ = live_twins  # gunicorn gthread: each request has a thread of its own
    elapsed = _two_at_once(flask, f"/io/blocking?ms={WAIT_MS}")
    assert elapsed < 1.6 * WAIT_MS / 1000
