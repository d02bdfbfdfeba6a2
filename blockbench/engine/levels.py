"""A level's result from its raw records: what Locust counted and what the sampler saw, made
into a results.LevelResult and judged. Pure: no process, no file, no clock; the engine reads
the sampler and hands the figures over."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from blockbench import results
from blockbench.load import hdr, loadgen, scenarios, stats
from blockbench.results import bounds, validity
from blockbench.results.judging import judge
from blockbench.results.schema import rounded


@dataclass(frozen=True)
class ServiceSample:
    """A service beside the target (the upstream, PostgreSQL) as the sampler saw it."""

    resources: results.Resources | None
    busiest_cpu_percent: float | None
    # The CPUs it may run on.
    cpus: int


@dataclass(frozen=True)
class Sampled:
    """What the sampler saw during one level."""

    # Each load generator process's busiest and mean CPU (100 = one core); None where its
    # samples are missing.
    generator_busiest: Sequence[float | None]
    generator_means: Sequence[float | None]
    # The CPUs Locust may use (the upstream, started beside it, shares them).
    generator_cpus: int
    # The target's process tree, where the target is ours and was sampled.
    target: results.Resources | None
    # The busy share of the target's CPUs by the kernel's counters (1 = all).
    target_cpus_busy: float | None
    # The services the scenario uses, where their processes are known.
    upstream: ServiceSample | None = None
    database: ServiceSample | None = None


def level_result(
    run: results.Run,
    cell: results.Cell,
    scenario: scenarios.Scenario,
    record: loadgen.LevelRecord,
    sampled: Sampled,
) -> results.LevelResult:
    """The level's result, judged: its bounds, efficiency and validity flags."""
    histogram = record.histogram
    successes = record.requests - record.failures
    window = max(record.window_s, 1e-9)
    # Each request credited with the share of its cycle in the hold (Locust's sweep shape):
    # a count over the window is off by the requests in hand at each edge.
    rps = record.rate_rps if record.rate_rps is not None else successes / window
    failure_rate = record.failures / record.requests if record.requests else 0.0
    # As stored: the saturation field then says what the flag, judged from it, says.
    busiest = rounded(max((b for b in sampled.generator_busiest if b is not None), default=None), 1)
    means = [mean for mean in sampled.generator_means if mean is not None]
    measured = results.LevelResult(
        scenario=cell.scenario,
        target=cell.target,
        repeat=cell.repeat,
        users=record.level,
        window_s=round(record.window_s, 3),
        requests=record.requests,
        successes=successes,
        rps=round(rps, 2),
        latency=results.Latency(
            p50=stats.percentile(histogram, 0.50),
            p90=stats.percentile(histogram, 0.90),
            p99=stats.percentile(histogram, 0.99),
            max=float(max(histogram)) if histogram else None,
            mean=rounded(stats.mean(histogram)),
        ),
        failures=loadgen.classify(record.errors),
        failure_rate=round(failure_rate, 5),
        ceiling_rps=None,
        efficiency=None,
        mix=dict(record.mix),
        # The kernel's view of the target's cores, where the target is ours: a target given
        # by URL may run anywhere.
        target_cpu_utilisation=(
            rounded(sampled.target_cpus_busy, 4) if sampled.target is not None else None
        ),
        target_resources=sampled.target,
        generator=results.Generator(
            processes=len(sampled.generator_busiest),
            cpu_percent_max=busiest,
            saturated=results.generator_saturated(busiest),
            # Their CPU together, only where every process was sampled.
            cpu_percent_mean=(
                rounded(sum(means), 1) if len(means) == len(sampled.generator_means) else None
            ),
            cpus=sampled.generator_cpus,
        ),
        upstream=_service(sampled.upstream, rps * bounds.RequestPath.of(scenario).upstream_calls),
        database=_service(sampled.database, None),
        flags=[],
        histogram=histogram,
        open_loop=open_loop(record.open_loop) if record.open_loop is not None else None,
    )
    return judge(run, cell, measured, scenario)


def open_loop(record: loadgen.OpenLoopRecord) -> results.OpenLoop:
    """An open-loop level's schedule and percentiles from its merged histograms; a send is
    late past validity.LATE_TOLERANCE_MS, and one never sent by the end was late too."""
    lateness = hdr.decode(record.lateness)
    late = hdr.count_above_ms(lateness, validity.LATE_TOLERANCE_MS)
    return results.OpenLoop(
        arrivals=record.arrivals,
        offered_rps=record.offered_rps,
        senders=record.senders,
        scheduled=record.scheduled,
        late=late + max(0, record.scheduled - record.sent),
        max_in_flight=record.max_in_flight,
        unfinished=record.unfinished,
        corrected=_percentiles(record.corrected),
        service=_percentiles(record.service),
        hdr=record.corrected,
    )


def _percentiles(encoded: str) -> results.Percentiles | None:
    histogram = hdr.decode(encoded)
    found = hdr.percentiles_ms(histogram)
    if found is None:
        return None
    # Microseconds, to the histogram's 3 significant digits.
    rounded_ms = {name: round(value, 3) for name, value in found.items()}
    return results.Percentiles(count=hdr.count(histogram), **rounded_ms)


def _service(sample: ServiceSample | None, calls: float | None) -> results.Service | None:
    if sample is None:
        return None
    return results.Service(
        resources=sample.resources,
        busiest_cpu_percent=rounded(sample.busiest_cpu_percent, 1),
        cpus=sample.cpus,
        calls_rps=rounded(calls, 1),
    )
