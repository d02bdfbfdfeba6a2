"""The slow upstream service: its answers, its errors, and many waiting requests at once."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from blockbench.burst import burst

pytestmark = pytest.mark.integration


def test_delay_answers_after_ms(upstream_url: str) -> None:
    started = time.perf_counter()
    reply = httpx.get(f"{upstream_url}/delay?ms=200")
    assert reply.status_code == 200
    assert reply.json() == {"ms": 200}
    assert time.perf_counter() - started >= 0.2


@pytest.mark.parametrize(
    ("url", "status"),
    [("/delay", 400), ("/delay?ms=-1", 400), ("/delay?ms=x", 400), ("/nope", 404)],
)
def test_bad_requests_get_clear_errors(upstream_url: str, url: str, status: int) -> None:
    reply = httpx.get(upstream_url + url)
    assert reply.status_code == status
    assert reply.json()["message"]


def test_wrong_method_is_405(upstream_url: str) -> None:
    assert httpx.post(f"{upstream_url}/delay?ms=1").status_code == 405


def test_holds_two_thousand_waiting_requests_at_once(upstream_url: str) -> None:
    # The 10,000-request figure is measured by benchmarks/upstream_capacity.py; this is the
    # bounded check that requests overlap instead of queueing.
    count, wait_s = 2000, 2.0
    result = asyncio.run(burst(f"{upstream_url}/delay?ms={wait_s * 1000:.0f}", count))
    assert result.ok == count
    # Every request was in flight before the first was answered...
    assert result.all_sent_after < result.first_answer_after
    # ...and they were answered together: one wait, plus time to open the connections,
    # where queueing one after another would take count x wait_s.
    assert result.elapsed < 3 * wait_s
