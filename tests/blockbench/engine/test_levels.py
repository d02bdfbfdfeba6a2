"""A level's result from hand-made raw records: known counts and CPU figures in, known rates,
bounds, efficiency and flags out (the arithmetic of blockbench.engine.levels and the judging it
applies)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from blockbench import results
from blockbench.apps import contract
from blockbench.engine.levels import Sampled, ServiceSample, level_result
from blockbench.load import hdr
from blockbench.load.loadgen import LevelRecord, OpenLoopRecord
from blockbench.load.scenarios import Request, Scenario
from blockbench.results import bounds, validity
from tests.blockbench.results.test_schema import make_run

# 100 ms of waiting per request, as the io-sleep scenario asks; and four upstream calls at once.
WAITING = Scenario("waiting", "IoSleep", "", (Request(contract.IO_SLEEP, {"ms": 100}),))
FANOUT = Scenario(
    "calls",
    "Fanout",
    "",
    (Request(contract.IO_FANOUT, {"n": 4, "ms": 100, "mode": "par"}),),
)


def sync_workers() -> tuple[results.Run, results.Cell]:
    """Three sync workers, one request each, on one core; the generator's ceiling 4,000 req/s."""
    run = make_run()
    caps = [
        results.Cap(name="server workers", value=3, where="target", kind="workers"),
        results.Cap(name="one request per worker", value=1, where="worker", kind="model"),
    ]
    cell = run.cells[0].model_copy(update={"caps": caps, "levels": []})
    assert bounds.target_cores(run) == 1 and run.generator_ceiling_rps == 4000
    return run, cell


def record(
    requests: int = 58,
    failures: int = 0,
    rate_rps: float | None = None,
    errors: dict[str, int] | None = None,
) -> LevelRecord:
    return LevelRecord(
        level=10,
        started=100.0,
        ended=102.0,
        window_s=2.0,
        requests=requests,
        failures=failures,
        histogram={330: 40, 380: requests - 40},
        errors=errors or {},
        rate_rps=rate_rps,
    )


def target(cpu_percent: float) -> results.Resources:
    return results.Resources(
        samples=20,
        cpu_percent_mean=cpu_percent,
        cpu_percent_max=cpu_percent,
        rss_mib_max=120.0,
        threads_max=4,
        processes_max=4,
    )


def sampled(
    busiest: tuple[float | None, ...] = (40.0, 35.55),
    means: tuple[float | None, ...] = (20.0, 15.0),
    cpu_percent: float | None = 5.8,
    cpus_busy: float | None = 0.059,
    upstream: ServiceSample | None = None,
) -> Sampled:
    return Sampled(
        generator_busiest=busiest,
        generator_means=means,
        generator_cpus=1,
        target=target(cpu_percent) if cpu_percent is not None else None,
        target_cpus_busy=cpus_busy,
        upstream=upstream,
    )


def test_sync_workers_bound_by_their_count_over_wait_plus_measured_cpu() -> None:
    run, cell = sync_workers()
    level = level_result(run, cell, WAITING, record(), sampled())
    # 58 successes over a 2 s hold; 5.8% of a core over 29 req/s is 2 ms of CPU each.
    assert (level.users, level.requests, level.successes, level.rps) == (10, 58, 58, 29.0)
    assert level.target_cpu_demand_ms == 2.0
    # Each bound from the 102 ms a request holds its worker (100 ms waiting + 2 ms of CPU):
    # 3 workers / 0.102 s, 10 users / 0.102 s, 1 core / 2 ms, the generator's 35% of its one
    # CPU over 29 req/s, and the ceiling it measured; the tightest first.
    assert [(bound.name, bound.rps) for bound in level.bounds] == [
        ("worker processes", 29.41),
        ("load generator CPU", 82.86),
        ("users", 98.04),
        ("target CPU", 500.0),
        ("load generator", 4000.0),
    ]
    assert (level.binding, level.ceiling_rps, level.efficiency) == (
        "worker processes",
        29.41,
        0.9861,
    )
    assert level.flags == [] and level.valid
    # Locust's histogram read as Locust reads it; the busiest generator process, and their sum.
    assert level.latency == results.Latency(p50=330.0, p90=380.0, p99=380.0, max=380.0, mean=345.52)
    assert level.generator == results.Generator(
        processes=2, cpu_percent_max=40.0, saturated=False, cpu_percent_mean=35.0, cpus=1
    )
    assert level.target_cpu_utilisation == 0.059
    assert level.upstream is None and level.database is None


def test_the_rate_over_completions_is_taken_over_a_count_in_the_window() -> None:
    run, cell = sync_workers()
    # 60 requests ended in the window, but the rate credited over completions says 29.
    level = level_result(run, cell, WAITING, record(requests=60, rate_rps=29.0), sampled())
    assert (level.successes, level.rps) == (60, 29.0)


def test_failures_above_one_percent_make_the_level_no_result() -> None:
    run, cell = sync_workers()
    errors = {"HTTPError('503 Server Error', code=503)": 2}
    level = level_result(run, cell, WAITING, record(100, failures=2, errors=errors), sampled())
    assert (level.successes, level.failure_rate, level.rps) == (98, 0.02, 49.0)
    assert (level.failures.total, level.failures.server_errors) == (2, 2)
    assert level.flags == ["failures_above_threshold"]


@pytest.mark.parametrize(
    ("busiest", "stored", "saturated"),
    [(89.94, 89.9, False), (89.96, 90.0, True), (97.0, 97.0, True), (None, None, False)],
)
def test_the_saturation_the_level_records_is_the_flag_it_gets(
    busiest: float | None, stored: float | None, saturated: bool
) -> None:
    # One rule: a generator process at 90% of a core (as stored, to a tenth) is saturated, and
    # the level then says so in its generator and in its flags alike.
    run, cell = sync_workers()
    level = level_result(run, cell, WAITING, record(), sampled(busiest=(busiest, 12.0)))
    assert level.generator.cpu_percent_max == (stored if stored is not None else 12.0)
    assert level.generator.saturated is saturated
    assert ("generator_saturated" in level.flags) is saturated
    assert results.generator_saturated(level.generator.cpu_percent_max) is saturated


def test_a_started_target_without_samples_is_flagged_and_has_no_cpu_bound() -> None:
    run, cell = sync_workers()
    # Nor is the kernel's view of its cores kept: it cannot be checked against anything.
    level = level_result(run, cell, WAITING, record(), sampled(cpu_percent=None, cpus_busy=0.5))
    assert level.target_cpu_utilisation is None and level.target_cpu_demand_ms is None
    assert "target CPU" not in {bound.name for bound in level.bounds}
    assert level.flags == ["target_unsampled"]


def test_the_kernel_and_the_targets_processes_must_agree() -> None:
    run, cell = sync_workers()
    # The kernel saw 0.3 of the core busy; the target's processes used 0.058: something else ran.
    level = level_result(run, cell, WAITING, record(), sampled(cpus_busy=0.3))
    assert level.flags == ["utilisation_law_off"]


def test_the_generators_cpu_together_only_where_each_process_was_sampled() -> None:
    run, cell = sync_workers()
    level = level_result(run, cell, WAITING, record(), sampled(means=(20.0, None)))
    assert level.generator.cpu_percent_mean is None
    assert "load generator CPU" not in {bound.name for bound in level.bounds}


def test_the_upstreams_call_rate_follows_the_targets_throughput() -> None:
    run, cell = sync_workers()
    upstream = ServiceSample(resources=target(30.0), busiest_cpu_percent=45.04, cpus=1)
    level = level_result(run, cell, FANOUT, record(), sampled(upstream=upstream))
    # Four calls per request at 29 req/s.
    assert level.upstream == results.Service(
        resources=target(30.0), busiest_cpu_percent=45.0, cpus=1, calls_rps=116.0
    )
    assert "upstream_bound" not in level.flags
    busy = ServiceSample(resources=target(30.0), busiest_cpu_percent=91.0, cpus=1)
    assert (
        "upstream_bound" in level_result(run, cell, FANOUT, record(), sampled(upstream=busy)).flags
    )


def open_record(
    *,
    scheduled: int = 40,
    sent: int | None = None,
    late_ms: tuple[float, ...] = (),
    corrected_ms: float = 104.0,
    max_in_flight: int = 3,
    senders: int = 40,
) -> LevelRecord:
    """An open-loop level at 20 req/s: ``scheduled`` arrivals in a 2 s hold, 39 answered in it,
    the sends ``late_ms`` late and the rest on time."""
    sent = scheduled if sent is None else sent
    corrected, service, lateness = hdr.new(), hdr.new(), hdr.new()
    delays = [*late_ms, *[0.0] * (sent - len(late_ms))]
    for delay in delays:
        hdr.record_ms(lateness, delay)
        hdr.record_ms(service, 102.0)
        hdr.record_ms(corrected, corrected_ms + delay)
    schedule = OpenLoopRecord(
        arrivals="poisson",
        offered_rps=20.0,
        senders=senders,
        scheduled=scheduled,
        sent=sent,
        unfinished=0,
        max_in_flight=max_in_flight,
        corrected=hdr.encode(corrected),
        service=hdr.encode(service),
        lateness=hdr.encode(lateness),
    )
    return replace(record(requests=39), level=20, histogram={100: 39}, open_loop=schedule)


def test_an_open_loop_level_is_bound_by_its_offered_arrivals() -> None:
    run, cell = sync_workers()
    level = level_result(run, cell, WAITING, open_record(), sampled(cpu_percent=3.9))
    assert (level.users, level.rps) == (20, 19.5)
    open_loop = level.open_loop
    assert open_loop is not None
    assert (open_loop.arrivals, open_loop.offered_rps, open_loop.senders) == ("poisson", 20, 40)
    assert (open_loop.scheduled, open_loop.late, open_loop.max_in_flight) == (40, 0, 3)
    assert open_loop.corrected is not None and open_loop.service is not None
    assert open_loop.corrected.count == 40
    assert open_loop.corrected.p99 == pytest.approx(104, rel=1e-3)
    assert open_loop.service.p99 == pytest.approx(102, rel=1e-3)
    assert open_loop.hdr is not None and hdr.count(hdr.decode(open_loop.hdr)) == 40
    # 40 arrivals in the 2 s hold allow 20 req/s, below the 3 workers' 29.4; the senders are
    # what may be in flight (Little's law): 40 / 102 ms.
    assert [(bound.name, bound.rps) for bound in level.bounds][:2] == [
        ("offered rate", 20.0),
        ("worker processes", 29.41),
    ]
    assert ("senders", 392.16) in [(bound.name, bound.rps) for bound in level.bounds]
    assert "users" not in [bound.name for bound in level.bounds]
    assert (level.binding, level.efficiency) == ("offered rate", 0.975)
    assert level.flags == []


@pytest.mark.parametrize(
    ("late_ms", "scheduled", "sent", "late", "flagged"),
    [
        # Within the tolerance: not late.
        ((9.0, 9.9), 200, 200, 0, False),
        # Two late of 200: 1%, not more.
        ((20.0, 500.0), 200, 200, 2, False),
        ((20.0, 500.0, 11.0), 200, 200, 3, True),
        # Never sent by the end: late as well.
        ((), 200, 197, 3, True),
    ],
)
def test_sends_past_the_tolerance_are_late_and_too_many_flag_the_level(
    late_ms: tuple[float, ...], scheduled: int, sent: int, late: int, flagged: bool
) -> None:
    run, cell = sync_workers()
    raw = open_record(late_ms=late_ms, scheduled=scheduled, sent=sent)
    level = level_result(run, cell, WAITING, raw, sampled(cpu_percent=3.9))
    assert level.open_loop is not None and level.open_loop.late == late
    assert ("schedule_fell_behind" in level.flags) is flagged


def test_a_level_far_past_saturation_stops_the_sweep() -> None:
    run, cell = sync_workers()

    def judged(raw: LevelRecord) -> results.LevelResult:
        return level_result(run, cell, WAITING, raw, sampled(cpu_percent=3.9))

    assert not validity.past_saturation(judged(open_record()))
    # A corrected p99 past ten times the 1 s objective.
    assert validity.past_saturation(judged(open_record(corrected_ms=12_000)))
    assert not validity.past_saturation(judged(open_record(corrected_ms=9_000)))
    # Behind schedule with every sender busy: the queue outgrew them.
    behind = open_record(scheduled=200, sent=150, max_in_flight=40)
    assert validity.past_saturation(judged(behind))
    # Behind with senders free (the generator's own loop was late): not the server's queue.
    free = open_record(scheduled=200, sent=150, max_in_flight=12)
    assert not validity.past_saturation(judged(free))
    # A closed level never.
    assert not validity.past_saturation(judged(record()))
