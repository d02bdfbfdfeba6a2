"""The validity rules: why a level cannot be reported as a result. The one place they live:
the engine applies them as it measures, again when a run ends, and the report words them.
"""

from __future__ import annotations

from blockbench.results.schema import Flag, LevelResult, Model, Service

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
    return flags


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
