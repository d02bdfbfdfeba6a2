"""The validity rules: why a level cannot be reported as a result. The one place they live:
the engine applies them as it measures, again when a run ends, and the report words them.
"""

from __future__ import annotations

from blockbench.results.schema import Flag, LevelResult, Model, OpenLoop, Service

# A level whose failed requests exceed this share is flagged and never shown as throughput.
FAILURE_THRESHOLD = 0.01
# A load generator process above this CPU share can no longer keep its users busy: Locust
# itself warns at 90%.
GENERATOR_CPU_LIMIT = 90.0
# A level that served this share of what the generator itself can send (its ceiling, measured
# against the 0 ms upstream) may have been held back by the generator, whatever its CPU said.
GENERATOR_CEILING_SHARE = 0.8
# The same two rules for the upstream service, so a level it held back is never a result: its
# busiest process at this CPU share, or its call rate at this share of its measured ceiling.
UPSTREAM_CPU_LIMIT = 90.0
UPSTREAM_CEILING_SHARE = 0.8
# PostgreSQL's whole process tree at this share of the CPUs it may use.
DATABASE_CPU_SHARE = 0.9
# The utilisation law (U = X x D) checked with two instruments: the kernel's busy time of the
# target's cores, and throughput times the CPU demand measured from the target's own processes.
# A level where they differ by more than this share has a measurement that is wrong: something
# outside the target ran on its cores, or part of the target was not sampled.
UTILISATION_LAW_TOLERANCE = 0.15
# ... or by more than this much of a core, below which the kernel's tick counters cannot tell.
UTILISATION_LAW_FLOOR = 0.03
# An open-loop level (an arrival rate) is read against a latency objective: the report marks the
# rate where each model's corrected p99 crosses it.
LATENCY_OBJECTIVE_MS = 1000.0
# A send that leaves more than this after its intended time is late: it waited for a free
# sender (or for the generator's own busy loop). 10 ms is 1% of the objective, and ten times the
# gevent timer's resolution, so a loaded generator's wake-up jitter alone is not lateness.
LATE_TOLERANCE_MS = 10.0
# A level with more than this share of its sends late did not offer its rate: the server saw a
# queue held back in the generator, so its corrected latency (which still counts the wait from
# the intended time) describes a lighter load than the one named. 1%, as for failures: beyond
# it the late sends reach into the p99 the level is read by.
LATE_SHARE = 0.01
# Past this corrected p99, ten times the objective, a target is far past saturation: its sweep
# stops (Cell.skipped_past_saturation) rather than piling higher rates onto a server whose queue
# only grows. So does a level that fell behind with every sender busy: the queue outgrew them.
SATURATION_P99_MS = 10 * LATENCY_OBJECTIVE_MS


def flags_for(
    *,
    successes: int,
    failure_rate: float,
    rps: float,
    generator_cpu: float | None,
    generator_ceiling_rps: float | None,
    upstream: Service | None = None,
    upstream_ceiling_rps: float | None = None,
    database: Service | None = None,
    utilisation: UtilisationLaw | None = None,
    target_unsampled: bool = False,
    open_loop: OpenLoop | None = None,
) -> list[Flag]:
    """Why a level cannot be reported as a result; empty when it can."""
    flags: list[Flag] = []
    if successes == 0:
        flags.append("no_successes")
    if failure_rate > FAILURE_THRESHOLD:
        flags.append("failures_above_threshold")
    if generator_saturated(generator_cpu):
        flags.append("generator_saturated")
    if generator_ceiling_rps and rps >= GENERATOR_CEILING_SHARE * generator_ceiling_rps:
        flags.append("near_generator_ceiling")
    if upstream is not None and upstream_bound(upstream, upstream_ceiling_rps):
        flags.append("upstream_bound")
    if database is not None and database_bound(database):
        flags.append("database_bound")
    if utilisation is not None and not utilisation.holds:
        flags.append("utilisation_law_off")
    if target_unsampled:
        # Without the target's CPU there is no CPU bound, nor a utilisation law to check.
        flags.append("target_unsampled")
    if open_loop is not None and schedule_fell_behind(open_loop):
        flags.append("schedule_fell_behind")
    return flags


def schedule_fell_behind(open_loop: OpenLoop) -> bool:
    """Whether more than LATE_SHARE of the level's sends left late (the one rule, for the flag
    and the sweep's stop)."""
    return open_loop.late > LATE_SHARE * open_loop.scheduled


def past_saturation(level: LevelResult) -> bool:
    """Whether an open-loop level is so far past its target's saturation that higher rates are
    not worth sending: its corrected p99 above SATURATION_P99_MS, or its schedule behind with
    every sender busy."""
    open_loop = level.open_loop
    if open_loop is None:
        return False
    corrected = open_loop.corrected
    if corrected is not None and corrected.p99 > SATURATION_P99_MS:
        return True
    return schedule_fell_behind(open_loop) and open_loop.max_in_flight >= open_loop.senders


class UtilisationLaw(Model):
    """The utilisation law U = X x D on one level, from two instruments, in cores busy."""

    # U: the kernel's busy time of the target's CPUs over the level.
    kernel_cores: float
    # X x D: throughput times the CPU per request of the target's processes, i.e. the CPU its
    # process tree used over the level.
    target_cores: float

    @property
    def holds(self) -> bool:
        gap = abs(self.kernel_cores - self.target_cores)
        allowed = max(
            UTILISATION_LAW_TOLERANCE * max(self.kernel_cores, self.target_cores),
            UTILISATION_LAW_FLOOR,
        )
        return gap <= allowed

    @classmethod
    def of(cls, level: LevelResult, cores: int) -> UtilisationLaw | None:
        """The law on a recorded level, where both instruments recorded it."""
        resources = level.target_resources
        if (
            level.target_cpu_utilisation is None
            or resources is None
            or resources.cpu_percent_mean is None
        ):
            return None
        return cls(
            kernel_cores=level.target_cpu_utilisation * cores,
            target_cores=resources.cpu_percent_mean / 100,
        )


def generator_saturated(busiest_cpu_percent: float | None) -> bool:
    """Whether a load generator process this busy (its busiest, 100 = one core) may have been
    the limit: the one saturation rule, for the flag and for ``Generator.saturated``."""
    return busiest_cpu_percent is not None and busiest_cpu_percent >= GENERATOR_CPU_LIMIT


def upstream_bound(upstream: Service, ceiling_rps: float | None) -> bool:
    """Whether the upstream service may have held the level back: its busiest process near a
    full core, or its call rate near the ceiling measured for it."""
    busiest = upstream.busiest_cpu_percent
    if busiest is not None and busiest >= UPSTREAM_CPU_LIMIT:
        return True
    calls = upstream.calls_rps
    return bool(ceiling_rps and calls and calls >= UPSTREAM_CEILING_SHARE * ceiling_rps)


def database_bound(database: Service) -> bool:
    share = cpu_share(database)
    return share is not None and share >= DATABASE_CPU_SHARE


def cpu_share(service: Service) -> float | None:
    """The service's mean CPU as a share of the CPUs it may use (1.0 = all of them busy);
    None where it was not sampled."""
    resources = service.resources
    if resources is None or resources.cpu_percent_mean is None:
        return None
    return resources.cpu_percent_mean / (100 * max(service.cpus, 1))
