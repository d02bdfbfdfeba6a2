"""A closed loop's throughput over a hold, each completion credited over the span back to the
K-th completion before it (K users, or the server's slots where fewer): exact for users in
lockstep or in bunches and for a server's slots answering in turn in any phase, unmoved by users
who joined in the warm-up, unbiased for a server answering in random order; and the counter
Locust's request event feeds."""

from __future__ import annotations

import heapq
import random
import statistics

import pytest

from blockbench.load.completions import Departures, Hold

HOLD_START, HOLD_S = 100.0, 5.0


def request(
    departures: Departures, end: float, took: float = 0.1, exception: Exception | None = None
) -> None:
    # As Locust fires it: the request's start on the wall clock, its response time in ms.
    departures.on_request(
        request_type="GET",
        name="/io/sleep",
        context={},
        start_time=end - took,
        response_time=took * 1000,
        response_length=10,
        exception=exception,
    )


def measure(ends: list[float], users: int, slots: int | None = None) -> float | None:
    """Feeds completions in time order through a counter with one hold of HOLD_S seconds from
    HOLD_START, begun and ended as the wall clock passes them; its rate, from spans of ``users``
    completions or, given a server's ``slots``, of whichever is fewer."""
    streams = users if slots is None else min(users, slots)
    departures = Departures(memory=users)
    hold: Hold | None = None
    for end in sorted(ends):
        if hold is None and end >= HOLD_START:
            hold = departures.begin(HOLD_START, streams)
        if hold is not None and not hold.ended and end >= HOLD_START + HOLD_S:
            departures.end(hold, HOLD_START + HOLD_S)
        request(departures, end)
    assert hold is not None and hold.settled, "the simulation runs on past the hold"
    return hold.rate()


def periodic(period: float, phase: float) -> list[float]:
    """Request ends every ``period`` seconds, ``phase`` after HOLD_START, from a minute before
    the hold to a minute after it."""
    count = int((HOLD_S + 120) / period)
    return [HOLD_START - 60 + phase + i * period for i in range(count)]


@pytest.mark.parametrize("phase", [0.0, 0.01, 0.1, 0.2, 0.399])
def test_one_user_gives_one_over_its_cycle_whatever_the_phase(phase: float) -> None:
    # 400 ms cycles in a 5 s hold: 12 or 13 completions depending on where the hold cuts;
    # 12.5 cycles, 2.5 req/s.
    assert measure(periodic(0.4, phase), users=1) == pytest.approx(2.5)


@pytest.mark.parametrize("phase", [0.0, 0.05, 0.2, 0.33])
def test_users_in_lockstep_or_in_bunches_each_give_their_own_rate(phase: float) -> None:
    lockstep = [end + 1e-4 * user for user in range(10) for end in periodic(0.4, phase)]
    assert measure(lockstep, users=10) == pytest.approx(25.0)
    # Started 100 ms apart: they complete in four bunches.
    bunched = [end for user in range(10) for end in periodic(0.4, (phase + 0.1 * user) % 0.4)]
    assert measure(bunched, users=10) == pytest.approx(25.0)


@pytest.mark.parametrize("users", [32, 50, 250, 1000])
@pytest.mark.parametrize("phase", [0.0, 0.13, 0.29])
def test_threads_finishing_together_give_their_pace(users: int, phase: float) -> None:
    # 32 threads holding 400 ms requests side by side, behind them any number of users:
    # completions in bunches of 32 every 400 ms, 80 req/s. Counting moves by a bunch at each
    # edge (76.8 or 83.2). A bunch spreads over 3 ms here, which moves the rate by 0.01% at
    # most.
    ends = [end + 1e-4 * thread for thread in range(32) for end in periodic(0.4, phase)]
    assert measure(ends, users=users) == pytest.approx(80.0, rel=1e-4)


@pytest.mark.parametrize("seed", range(5))
def test_slots_in_any_phase_give_their_pace(seed: int) -> None:
    # 3 sync workers with 400 ms requests, each started whenever: 7.5 req/s, where counting
    # gives 37 or 38 in 5 s (7.4 or 7.6), or 36 or 39 in lockstep.
    rng = random.Random(seed)
    ends = [end for _ in range(3) for end in periodic(0.4, rng.uniform(0, 0.4))]
    assert measure(ends, users=250) == pytest.approx(7.5)


def test_users_who_joined_in_the_warm_up_do_not_move_a_saturated_servers_rate() -> None:
    # Three slots at 7.5 req/s: whether 50 or 250 users wait behind them, and since when, the
    # completions are the same, so is the rate.
    ends = [end for worker in range(3) for end in periodic(0.4, 0.1 * worker)]
    assert measure(ends, users=50) == pytest.approx(7.5, rel=1e-4)
    assert measure(ends, users=250) == pytest.approx(7.5, rel=1e-4)


def random_order_server(
    seed: int, users: int, slots: int, service: float, by_slots: bool = False
) -> float | None:
    """``users`` closed-loop users behind ``slots`` workers taking ``service`` seconds ± 50%
    each, which pick the next request at random (as workers racing on accept() do)."""
    rng = random.Random(seed)
    waiting = list(range(users))
    busy: list[tuple[float, int]] = []
    ends: list[float] = []
    now = HOLD_START - 60
    while now < HOLD_START + HOLD_S + 60:
        while waiting and len(busy) < slots:
            user = waiting.pop(rng.randrange(len(waiting)))
            heapq.heappush(busy, (now + service * rng.uniform(0.5, 1.5), user))
        now, user = heapq.heappop(busy)
        ends.append(now)
        waiting.append(user)
    return measure(ends, users=users, slots=slots if by_slots else None)


def test_a_server_answering_in_random_order_is_measured_without_bias() -> None:
    # 3 workers, 400 ms on average: 7.5 req/s in the long run; one hold's rate varies with the
    # service times drawn, and the rates of many average the server's pace.
    rates = [random_order_server(seed, users=40, slots=3, service=0.4) for seed in range(200)]
    assert statistics.fmean(r for r in rates if r is not None) == pytest.approx(7.5, rel=0.01)
    # Spans of the slots' completions instead of the users': as unbiased.
    rates = [random_order_server(seed, 40, 3, 0.4, by_slots=True) for seed in range(200)]
    assert statistics.fmean(r for r in rates if r is not None) == pytest.approx(7.5, rel=0.01)


def test_a_saturated_servers_rate_is_read_from_its_slots_not_from_after_the_hold() -> None:
    # 4 workers answering 100 ms requests (40 req/s) through the hold, then, with 500 users
    # queued, 200 ms ones (a mixed scenario's slower requests arriving later). A user's cycle
    # is 12.5 s, longer than the hold: spans of 500 completions reach 12.5 s past the hold's
    # end and read it 21% low, while spans of the 4 workers' completions reach 100 ms: the
    # change of pace moves them by a fraction of a request in 200 (< 0.5%).
    hold_end = HOLD_START + HOLD_S
    ends = [end for worker in range(4) for end in periodic(0.1, 0.025 * worker) if end <= hold_end]
    ends += [hold_end + 0.05 * i for i in range(1, 2000)]
    assert measure(ends, users=500, slots=4) == pytest.approx(40.0, rel=5e-3)
    by_users = measure(ends, users=500)
    assert by_users is not None and by_users < 36
    # Fewer users than slots: the users are the streams.
    assert measure(ends, users=4, slots=32) == pytest.approx(40.0, rel=5e-3)


def test_a_hold_settles_once_as_many_requests_as_users_completed_after_it() -> None:
    departures = Departures(memory=10)
    for end in (99.5, 99.9):
        request(departures, end)
    hold = departures.begin(100.0, streams=2)
    for end in (100.3, 100.7):
        request(departures, end)
    departures.end(hold, 101.0)
    assert not hold.settled and hold.rate() is None
    request(departures, 101.1)
    assert not hold.settled
    request(departures, 101.5)
    assert hold.settled
    # Spans two completions back: 99.5-100.3 (0.3 of 0.8 s inside), 99.9-100.7 (0.7 of 0.8),
    # 100.3-101.1 (0.7 of 0.8), 100.7-101.5 (0.3 of 0.8): 2.5 requests in one second.
    assert hold.rate() == pytest.approx(2.5)
    request(departures, 101.6)
    assert hold.rate() == pytest.approx(2.5)


def test_failures_take_their_place_but_earn_nothing() -> None:
    departures = Departures(memory=1)
    request(departures, 99.8)
    hold = departures.begin(100.0, streams=1)
    request(departures, 100.2, exception=ConnectionError("reset"))
    request(departures, 100.6)
    departures.end(hold, 101.0)
    request(departures, 101.4, exception=TimeoutError())
    # Only the span from 100.2 to 100.6 is a success.
    assert hold.rate() == pytest.approx(1.0)


def test_spans_reach_back_no_further_than_the_completions_before_the_hold() -> None:
    departures = Departures(memory=100)
    request(departures, 99.0)
    request(departures, 99.5)
    hold = departures.begin(100.0, streams=50)
    assert hold.spacing == 2
    # Before any completion at all, each span is the one before it.
    assert Departures(memory=5).begin(100.0, streams=5).spacing == 1


def test_forgotten_holds_are_credited_no_more() -> None:
    departures = Departures(memory=1)
    hold = departures.begin(100.0, streams=1)
    departures.end(hold, 101.0)
    departures.forget(hold)
    request(departures, 100.5)
    assert hold.completions == [] and departures.holds == []
