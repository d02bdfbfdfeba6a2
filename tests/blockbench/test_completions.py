"""A closed loop's throughput over a hold, each request credited with the share of its cycle in
the hold: exact for users paced alike, in lockstep, in bunches or by a server, unbiased for a
server that answers in random order; and the counter Locust's request event feeds."""

from __future__ import annotations

import heapq
import random
import statistics

import pytest

from blockbench.completions import USER_KEY, CycleCounter, Hold

HOLD_START, HOLD_S = 100.0, 5.0


def request(
    counter: CycleCounter,
    user: int | None,
    end: float,
    took: float = 0.1,
    exception: Exception | None = None,
) -> None:
    context = {} if user is None else {USER_KEY: user}
    # As Locust fires it: the request's start on the wall clock, its response time in ms.
    counter.on_request(
        request_type="GET",
        name="/io/sleep",
        context=context,
        start_time=end - took,
        response_time=took * 1000,
        response_length=10,
        exception=exception,
    )


def measure(
    ends: list[tuple[float, int]],
    users: int,
    took: float = 0.1,
    sent: dict[int, float] | None = None,
) -> float | None:
    """Feeds ``(end, user)`` completions in time order through a counter with one hold of
    HOLD_S seconds from HOLD_START, ended as the wall clock passes it; its rate. Requests take
    ``took`` seconds, or a user's first from when ``sent`` says it sent it."""
    counter = CycleCounter()
    hold: Hold | None = None
    first = dict(sent or {})
    for end, user in sorted(ends):
        if hold is None and end >= HOLD_START:
            hold = counter.begin(HOLD_START)
        if hold is not None and not hold.ended and end >= HOLD_START + HOLD_S:
            counter.end(hold, HOLD_START + HOLD_S, users)
        request(counter, user, end, end - first.pop(user) if user in first else took)
    assert hold is not None and hold.settled, "the simulation runs past every cycle"
    return hold.rate()


def periodic(period: float, phase: float, user: int = 0) -> list[tuple[float, int]]:
    """A user's request ends every ``period`` seconds, ``phase`` after HOLD_START, from well
    before the hold to well after it."""
    count = int(3 * HOLD_S / period) + 2
    return [(HOLD_START - HOLD_S + phase + i * period, user) for i in range(count)]


@pytest.mark.parametrize("phase", [0.0, 0.01, 0.1, 0.2, 0.399])
def test_one_user_gives_one_over_its_cycle_whatever_the_phase(phase: float) -> None:
    # 400 ms cycles in a 5 s hold: 12 or 13 completions depending on where the hold cuts;
    # 12.5 cycles, 2.5 req/s.
    assert measure(periodic(0.4, phase), users=1) == pytest.approx(2.5)


def test_a_users_pause_is_part_of_its_cycle() -> None:
    # 100 ms requests every 400 ms: 300 ms of pause in each cycle.
    assert measure(periodic(0.4, 0.05), users=1, took=0.1) == pytest.approx(2.5)


@pytest.mark.parametrize("phase", [0.0, 0.05, 0.2, 0.33])
def test_users_in_lockstep_or_in_bunches_each_give_their_own_rate(phase: float) -> None:
    lockstep = [end for user in range(10) for end in periodic(0.4, phase, user)]
    assert measure(lockstep, users=10) == pytest.approx(25.0)
    # Started 100 ms apart: they complete in four bunches.
    bunched = [end for user in range(10) for end in periodic(0.4, (phase + 0.1 * user) % 0.4, user)]
    assert measure(bunched, users=10) == pytest.approx(25.0)


@pytest.mark.parametrize("phase", [0.0, 0.05, 0.1, 0.13])
def test_users_a_server_paces_give_its_pace(phase: float) -> None:
    # 250 users behind 3 sync workers that hold each request 400 ms, answered in turn: one
    # completion every 0.4 / 3 s, each user's once every 33 s. Counting gives 37 or 38 in 5 s
    # (7.4 or 7.6 req/s); the server's pace is 7.5.
    step = 0.4 / 3
    ends = [(HOLD_START - 40 + phase + i * step, i % 250) for i in range(int(90 / step))]
    assert measure(ends, users=250, took=33.0) == pytest.approx(7.5)


@pytest.mark.parametrize("phase", [0.0, 0.03, 0.07])
def test_workers_answering_together_give_their_pace(phase: float) -> None:
    # 10 users behind 2 workers answering 100 ms requests side by side: completions come in
    # pairs every 100 ms, 20 req/s; counting moves by a pair at each edge.
    ends = [(HOLD_START - 5 + phase + 0.1 * (i // 2), i % 10) for i in range(400)]
    assert measure(ends, users=10, took=0.5) == pytest.approx(20.0)


def random_order_server(seed: int, users: int, slots: int, service: float) -> float | None:
    """``users`` closed-loop users behind ``slots`` workers taking ``service`` seconds ± 50%
    each, which pick the next request at random (as workers racing on accept() do)."""
    rng = random.Random(seed)
    waiting = list(range(users))
    busy: list[tuple[float, int]] = []
    ends: list[tuple[float, int]] = []
    now = HOLD_START - 20
    # Every user sends its first request at once; later ones as its last is answered.
    sent = dict.fromkeys(waiting, now)
    while now < HOLD_START + HOLD_S + 600:
        while waiting and len(busy) < slots:
            user = waiting.pop(rng.randrange(len(waiting)))
            heapq.heappush(busy, (now + service * rng.uniform(0.5, 1.5), user))
        now, user = heapq.heappop(busy)
        ends.append((now, user))
        waiting.append(user)
    return measure(ends, users=users, took=service, sent=sent)


def test_a_server_answering_in_random_order_is_measured_without_bias() -> None:
    # 3 workers, 400 ms on average: 7.5 req/s in the long run. A user's cycle varies from
    # 0.2 s to a minute; over many holds the rates average the server's pace.
    rates = [random_order_server(seed, users=40, slots=3, service=0.4) for seed in range(200)]
    assert statistics.fmean(r for r in rates if r is not None) == pytest.approx(7.5, rel=0.01)


def test_a_hold_settles_once_each_cycle_across_its_end_has_finished() -> None:
    counter = CycleCounter()
    request(counter, 1, 99.9)
    request(counter, 2, 99.95)
    hold = counter.begin(100.0)
    for end in (100.3, 100.7):
        request(counter, 1, end)
    request(counter, 2, 100.5)
    counter.end(hold, 101.0, users=2)
    assert not hold.settled and hold.rate() is None
    request(counter, 1, 101.1)
    assert not hold.settled
    request(counter, 2, 101.5)
    assert hold.settled
    # User 1: 3/4 of a 0.4 s cycle, a whole one, 3/4 of another; user 2: 0.5 s of a 0.55 s
    # cycle and half of a 1 s one.
    rate = (0.75 + 1 + 0.75) + (0.5 / 0.55 + 0.5)
    assert hold.rate() == pytest.approx(rate)
    # Later requests no longer change it.
    request(counter, 1, 101.3)
    assert hold.rate() == pytest.approx(rate)


def test_failures_end_cycles_but_earn_nothing() -> None:
    counter = CycleCounter()
    request(counter, 1, 99.8)
    hold = counter.begin(100.0)
    request(counter, 1, 100.2, exception=ConnectionError("reset"))
    request(counter, 1, 100.6)
    counter.end(hold, 101.0, users=1)
    request(counter, 1, 101.0 + 0.4 - 1e-9, exception=TimeoutError())
    assert hold.settled
    # Only the cycle from 100.2 to 100.6 is a success.
    assert hold.rate() == pytest.approx(1.0)


def test_a_user_first_seen_in_the_hold_begins_its_cycle_when_it_sends() -> None:
    counter = CycleCounter()
    hold = counter.begin(100.0)
    request(counter, 7, 100.5, took=1.0)  # sent at 99.5: half its cycle in the hold
    counter.end(hold, 101.0, users=1)
    request(counter, 7, 101.5, took=1.0)  # sent at 100.5: half in the hold
    assert hold.rate() == pytest.approx(1.0)


def test_a_success_without_a_user_leaves_the_rate_unknown() -> None:
    counter = CycleCounter()
    hold = counter.begin(100.0)
    request(counter, 1, 100.5)
    request(counter, None, 100.6)
    counter.end(hold, 101.0, users=1)
    request(counter, 1, 101.5)
    assert hold.settled and hold.rate() is None


def test_forgotten_holds_are_credited_no_more() -> None:
    counter = CycleCounter()
    hold = counter.begin(100.0)
    counter.end(hold, 101.0, users=0)
    counter.forget(hold)
    request(counter, 1, 100.5)
    assert hold.credit == 0.0 and counter.holds == []
