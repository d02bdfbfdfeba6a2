"""The open loop's schedule and tally (blockbench.load.arrivals): arrivals at the rate asked,
spaced as asked; latency from the intended time; what is late, unfinished or out at once."""

from __future__ import annotations

import json
import math
import random
import statistics

import pytest

from blockbench.load import arrivals, hdr, loadgen, scenarios
from blockbench.load.arrivals import Schedule, Tally, Window


def poisson_gaps(rate: float, seconds: float, seed: int) -> list[float]:
    times = list(Schedule(rate, "poisson", random.Random(seed)).times(0.0, seconds))
    return [b - a for a, b in zip([0.0, *times], times, strict=False)]


def test_poisson_arrivals_keep_the_rate_with_exponential_gaps() -> None:
    gaps = poisson_gaps(rate=200.0, seconds=50.0, seed=7)
    # 10,000 expected; a Poisson count's standard deviation is 100: within 4 of them.
    assert abs(len(gaps) - 10_000) < 400
    mean = statistics.fmean(gaps)
    assert mean == pytest.approx(1 / 200, rel=0.03)
    # Exponential: the standard deviation equals the mean (constant spacing: 0), and a gap
    # outlasts the mean with probability 1/e.
    assert statistics.stdev(gaps) / mean == pytest.approx(1.0, abs=0.05)
    longer = sum(gap > mean for gap in gaps) / len(gaps)
    assert longer == pytest.approx(math.exp(-1), abs=0.02)
    # Memoryless: the gap after a short gap is as long, on average, as any.
    after_short = [b for a, b in zip(gaps, gaps[1:], strict=False) if a < mean / 4]
    assert statistics.fmean(after_short) == pytest.approx(mean, rel=0.1)


def test_a_seed_draws_the_same_schedule_and_another_seed_another() -> None:
    assert poisson_gaps(50.0, 2.0, seed=1) == poisson_gaps(50.0, 2.0, seed=1)
    assert poisson_gaps(50.0, 2.0, seed=1) != poisson_gaps(50.0, 2.0, seed=2)


def test_constant_arrivals_are_evenly_spaced_and_levels_join_up() -> None:
    schedule = Schedule(4.0, "constant", random.Random(0))
    first = list(schedule.times(0.0, 2.0))
    assert first == pytest.approx([0.125 + 0.25 * i for i in range(8)])
    # The next window continues at the same spacing across the seam.
    assert next(schedule.times(2.0, 4.0)) == pytest.approx(2.125)


def test_no_arrivals_at_a_rate_of_zero() -> None:
    # A process whose share of a low rate is nothing (1 req/s over 2 processes).
    assert list(Schedule(0.0, "poisson", random.Random(0)).times(0.0, 10.0)) == []


def test_senders_cover_two_seconds_of_arrivals_within_limits() -> None:
    assert arrivals.senders_for(160) == 320
    assert arrivals.senders_for(1) == arrivals.MIN_SENDERS
    assert arrivals.senders_for(5120) == arrivals.MAX_SENDERS
    assert arrivals.senders_for(5120, fixed=3) == 3
    # Rising rates, never fewer senders: Locust stopping one would kill its request.
    rates = [10, 20, 40, 80, 160, 320, 640, 1280, 2560, 5120]
    counts = [arrivals.senders_for(rate) for rate in rates]
    assert counts == sorted(counts)


@pytest.mark.parametrize(
    ("key", "raw", "message"),
    [
        (scenarios.SEED_ENV, "abc", "BLOCKBENCH_SEED must be a whole number, 0 or more; got 'abc'"),
        (scenarios.SEED_ENV, "-1", "BLOCKBENCH_SEED must be a whole number, 0 or more; got '-1'"),
        (arrivals.SENDERS_ENV, "0", "BLOCKBENCH_SENDERS must be a whole number, 1 or more"),
        (arrivals.SENDERS_ENV, "2.5", "BLOCKBENCH_SENDERS must be a whole number, 1 or more"),
    ],
)
def test_bad_seed_or_senders_name_the_variable(key: str, raw: str, message: str) -> None:
    read = arrivals.seed_from if key == scenarios.SEED_ENV else arrivals.senders_from
    with pytest.raises(scenarios.CatalogueError, match=f"^{message}"):
        read({key: raw})


def test_seed_and_senders_default() -> None:
    assert arrivals.seed_from({}) == arrivals.DEFAULT_SEED
    assert arrivals.seed_from({scenarios.SEED_ENV: "5"}) == 5
    assert arrivals.senders_from({}) is None
    assert arrivals.senders_from({arrivals.SENDERS_ENV: "4"}) == 4


def test_windows_lay_the_levels_end_to_end() -> None:
    found = arrivals.windows((10, 20), t0=100.0, warmup=2, hold=5)
    assert found == [Window(0, 10, 100.0, 102.0, 107.0), Window(1, 20, 107.0, 109.0, 114.0)]
    assert found[0].holds(102.0) and not found[0].holds(107.0) and not found[0].holds(101.9)


def tally(senders: int = 20) -> Tally:
    return Tally(Window(0, 10, 0.0, 10.0, 20.0), "poisson", senders)


def test_latency_counts_from_the_intended_time_and_service_from_the_send() -> None:
    level = tally()
    level.due(12.0)
    # No sender free until 12.5 s; the server then took 100 ms.
    level.sent(12.0, 12.5, in_flight=1)
    level.answered(
        intended=12.0, taken=12.5, ended=12.6, service_ms=100.0, name="/io/sleep", error=None
    )
    corrected = hdr.percentiles_ms(level.corrected)
    service = hdr.percentiles_ms(level.service)
    lateness = hdr.percentiles_ms(level.lateness)
    assert corrected is not None and service is not None and lateness is not None
    assert corrected["max"] == pytest.approx(600, rel=1e-3)
    assert service["max"] == pytest.approx(100, rel=1e-3)
    assert lateness["max"] == pytest.approx(500, rel=1e-3)
    assert level.settled


def test_latency_belongs_to_arrivals_due_in_the_hold_and_counts_to_completions_in_it() -> None:
    level = tally()
    # Due in the warm-up, answered in the hold: a completion of the hold, not its latency.
    level.due(9.0)
    level.sent(9.0, 9.0, in_flight=1)
    level.answered(intended=9.0, taken=9.0, ended=10.5, service_ms=1500, name="/a", error=None)
    # Due in the hold, answered after it: its latency, not a completion of the hold.
    level.due(19.9)
    level.sent(19.9, 19.9, in_flight=1)
    level.answered(intended=19.9, taken=19.9, ended=20.4, service_ms=500, name="/a", error=None)
    assert (level.scheduled, level.taken, level.requests) == (1, 1, 1)
    assert hdr.count(level.corrected) == 1
    assert level.response_times == {1500: 1}
    assert level.mix == {"/a": 1}


def test_a_failure_counts_but_has_no_latency() -> None:
    level = tally()
    level.due(11.0)
    level.sent(11.0, 11.0, in_flight=1)
    level.answered(
        intended=11.0, taken=11.0, ended=11.2, service_ms=200, name="/a", error="HTTPError(500)"
    )
    assert (level.requests, level.failures) == (1, 1)
    assert level.errors == {"HTTPError(500)": 1}
    assert level.mix == {}
    assert hdr.count(level.corrected) == hdr.count(level.service) == 0
    assert level.settled


def test_the_most_in_flight_is_read_in_the_hold_only() -> None:
    level = tally()
    level.sent(5.0, 5.0, in_flight=50)  # warm-up
    level.sent(11.0, 11.0, in_flight=7)
    level.sent(12.0, 12.0, in_flight=9)
    level.sent(21.0, 21.0, in_flight=70)  # after the hold
    assert level.in_flight_max == 9


def test_closing_counts_the_unanswered_at_what_they_waited_so_far() -> None:
    level = tally()
    for at in (15.0, 16.0):
        level.due(at)
    level.sent(15.0, 15.0, in_flight=1)
    assert not level.settled
    level.close(now=25.0)
    assert level.unfinished == 2
    assert level.settled
    corrected = hdr.percentiles_ms(level.corrected)
    assert corrected is not None
    assert corrected["p50"] == pytest.approx(9000, rel=1e-3)
    assert corrected["max"] == pytest.approx(10000, rel=1e-3)


def test_a_tallys_line_reads_back_as_an_open_loop_level() -> None:
    level = tally(senders=20)
    level.due(11.0)
    level.sent(11.0, 11.02, in_flight=3)
    level.answered(intended=11.0, taken=11.02, ended=11.2, service_ms=180, name="/a", error=None)
    line = level.record(started=1000.0, ended=1010.0)
    index, record = loadgen.parse_record(json.dumps(line))
    assert index == 0
    assert (record.level, record.requests, record.failures, record.mix) == (10, 1, 0, {"/a": 1})
    assert record.histogram == {180: 1}
    open_loop = record.open_loop
    assert open_loop is not None
    assert (open_loop.arrivals, open_loop.offered_rps, open_loop.senders) == ("poisson", 10, 20)
    assert (open_loop.scheduled, open_loop.sent, open_loop.max_in_flight) == (1, 1, 3)
    assert hdr.percentiles_ms(hdr.decode(open_loop.corrected)) == pytest.approx(
        {"p50": 200, "p90": 200, "p99": 200, "p999": 200, "max": 200}, rel=1e-3
    )


@pytest.mark.parametrize(
    ("ms", "bucket"), [(0.4, 0), (99.4, 99), (147, 150), (3432, 3400), (58760, 59000)]
)
def test_response_times_are_bucketed_as_locust_buckets_them(ms: float, bucket: int) -> None:
    assert arrivals.bucket_ms(ms) == bucket
