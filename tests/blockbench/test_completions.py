"""A closed loop's throughput over a hold, counted over whole intervals between completions:
the arithmetic, and the counter Locust's request event feeds."""

from __future__ import annotations

import pytest

from blockbench.completions import (
    USER_KEY,
    CompletionCounter,
    Completions,
    closed_loop_rate,
    hold_rate,
)


def ended(ends: list[float]) -> Completions:
    completions = Completions()
    for end in ends:
        completions.add(end)
    return completions


def periodic(period: float, phase: float, hold: float) -> list[float]:
    """The ends of a user's requests every ``period`` seconds, the first ``phase`` into the
    hold."""
    return [phase + i * period for i in range(int((hold - phase) / period) + 1)]


@pytest.mark.parametrize("phase", [0.0, 0.01, 0.1, 0.2, 0.399])
def test_one_user_gives_one_over_its_period_whatever_the_phase(phase: float) -> None:
    # 400 ms requests in a 5 s hold: counting ends in the window gives 13 / 5 = 2.6 or 12 / 5 =
    # 2.4 req/s, depending on where the window cuts; 12.5 cycles fit, 2.5 req/s.
    ends = periodic(0.4, phase, 5.0)
    assert len(ends) in (12, 13)
    assert closed_loop_rate([ended(ends)], 5.0) == pytest.approx(2.5)


@pytest.mark.parametrize("phase", [0.0, 0.05, 0.2, 0.33])
def test_users_in_bunches_are_each_counted_by_their_own_span(phase: float) -> None:
    # Ten users with 400 ms requests started 100 ms apart: they complete in four bunches. One
    # span over all of them would read up to 5% high; each user's own reads 2.5 req/s.
    users = [ended(periodic(0.4, (phase + 0.1 * i) % 0.4, 5.0)) for i in range(10)]
    assert closed_loop_rate(users, 5.0) == pytest.approx(25.0)


@pytest.mark.parametrize("phase", [0.0, 0.05, 0.1, 0.13])
def test_users_a_server_paces_are_counted_at_its_pace(phase: float) -> None:
    # 250 users behind 3 sync workers holding each request 400 ms: the server completes one
    # request every 0.4 / 3 s, each for another user. Counting gives 37 or 38 in 5 s (7.4 or
    # 7.6 req/s); the server's pace is 7.5.
    users = [ended([end]) for end in periodic(0.4 / 3, phase, 5.0)]
    assert closed_loop_rate(users, 5.0) == pytest.approx(7.5)


def test_users_served_quickly_by_chance_do_not_inflate_the_rate() -> None:
    # Served in random order, one user got three answers in a second, its own span a rate of
    # 2/s; with few completions each, users are counted together at the server's pace.
    lucky = ended([1.0, 1.5, 2.0])
    others = [ended([0.25 + 0.5 * i]) for i in range(10) if i not in (2, 3)]
    assert closed_loop_rate([lucky, *others], 5.0) == pytest.approx(10 / 4.5)


def test_too_few_completions_fall_back_to_the_count() -> None:
    assert hold_rate(ended([1.0, 3.0]), 5.0) == pytest.approx(0.4)
    assert hold_rate(ended([4.0]), 5.0) == pytest.approx(0.2)
    assert closed_loop_rate([], 5.0) == 0.0


def request(
    counter: CompletionCounter, user: int | None, end: float, exception: Exception | None = None
) -> None:
    context = {} if user is None else {USER_KEY: user}
    # As Locust fires it: the request's start on the wall clock, its response time in ms.
    counter.on_request(
        request_type="GET",
        name="/io/sleep",
        context=context,
        start_time=end - 0.1,
        response_time=100.0,
        response_length=10,
        exception=exception,
    )


def test_the_counter_keeps_successes_that_end_in_the_hold_per_user() -> None:
    counter = CompletionCounter()
    request(counter, 1, 99.5)  # before any hold: not counted
    counter.start(100.0)
    request(counter, 1, 99.9)  # ended before the hold began
    for end in (100.2, 100.6, 101.0):
        request(counter, 1, end)
    request(counter, 1, 101.2, exception=ConnectionError("reset"))  # failed
    request(counter, 2, 100.5)
    assert counter.users == {1: Completions(3, 100.2, 101.0), 2: Completions(1, 100.5, 100.5)}
    # Both have few completions: counted together, four from 100.2 s to 101.0 s.
    assert counter.rate(2.0) == pytest.approx(3 / 0.8)
    counter.stop()
    request(counter, 2, 102.5)  # after the hold
    assert counter.users[2].count == 1
    counter.start(103.0)
    assert counter.rate(2.0) == 0.0


def test_a_success_without_a_user_leaves_the_rate_unknown() -> None:
    counter = CompletionCounter()
    counter.start(100.0)
    request(counter, 1, 100.5)
    request(counter, None, 100.6)
    assert counter.rate(1.0) is None
    counter.start(101.0)
    assert counter.rate(1.0) == 0.0
