"""A closed loop's throughput per user, from first to last completion: the arithmetic, and the
counter Locust's request event feeds."""

from __future__ import annotations

import pytest

from blockbench.completions import (
    USER_KEY,
    CompletionCounter,
    UserCompletions,
    closed_loop_rate,
)


def periodic(period: float, phase: float, hold: float) -> UserCompletions:
    """A user whose requests end every ``period`` seconds, the first ``phase`` into the hold."""
    ends = [phase + i * period for i in range(int((hold - phase) / period) + 1)]
    return UserCompletions(len(ends), ends[0], ends[-1])


@pytest.mark.parametrize("phase", [0.0, 0.01, 0.1, 0.2, 0.399])
def test_a_periodic_user_gives_one_over_its_period_whatever_the_phase(phase: float) -> None:
    # 400 ms requests in a 5 s hold: counting ends in the window gives 13 / 5 = 2.6 or 12 / 5 =
    # 2.4 req/s, depending on where the window cuts; 12.5 cycles fit, 2.5 req/s.
    user = periodic(0.4, phase, 5.0)
    assert user.count in (12, 13)
    assert closed_loop_rate([user], 5.0) == pytest.approx(2.5)


@pytest.mark.parametrize("phase", [0.0, 0.05, 0.1, 0.13])
def test_users_a_server_paces_are_counted_at_its_pace(phase: float) -> None:
    # 250 users behind 3 sync workers holding each request 400 ms: the server completes one
    # request every 0.4 / 3 s, each for another user, most users none in a 5 s hold. Counting
    # gives 37 or 38 in 5 s (7.4 or 7.6 req/s); the server's pace is 7.5.
    gap = 0.4 / 3
    ends = [phase + i * gap for i in range(int((5.0 - phase) / gap) + 1)]
    users = [UserCompletions(1, end, end) for end in ends]
    assert closed_loop_rate(users, 5.0) == pytest.approx(7.5)


def test_too_few_completions_fall_back_to_the_count() -> None:
    assert closed_loop_rate([UserCompletions(2, 1.0, 3.0)], 5.0) == pytest.approx(0.4)
    assert closed_loop_rate([UserCompletions(1, 4.0, 4.0)], 5.0) == pytest.approx(0.2)


@pytest.mark.parametrize("phase", [0.0, 0.013, 0.05, 0.099])
def test_users_in_spread_phases_add_up(phase: float) -> None:
    # Ten users with 100 ms requests, a tenth of a cycle apart: 100 req/s.
    users = [periodic(0.1, phase + 0.01 * i, 5.0) for i in range(10)]
    assert closed_loop_rate(users, 5.0) == pytest.approx(100, rel=0.001)


def test_users_served_quickly_by_chance_do_not_inflate_the_rate() -> None:
    # Three slots, 1.5 s cycles on average, served in random order: a user served three times
    # in one second has a per-user span rate of 2/s; the server's pace is 2 req/s in all.
    lucky = UserCompletions(3, 1.0, 2.0)
    others = [UserCompletions(1, 0.25 + 0.5 * i, 0.25 + 0.5 * i) for i in range(10) if i != 2]
    rate = closed_loop_rate([lucky, *others], 5.0)
    assert rate == pytest.approx((12 - 1) / (4.75 - 0.25), rel=0.001)


def test_an_empty_hold_gives_zero() -> None:
    assert closed_loop_rate([], 5.0) == 0.0
    counter = CompletionCounter()
    counter.start(100.0)
    assert counter.rate(5.0) == 0.0


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
    assert counter.users == {
        1: UserCompletions(3, 100.2, 101.0),
        2: UserCompletions(1, 100.5, 100.5),
    }
    # Four completions, the first at 100.2 s and the last at 101.0 s.
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
