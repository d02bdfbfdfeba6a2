"""A run regrouped for reading: per scenario, per target, one point per concurrency level.

A point joins the run's aggregate (the median across repeats) with what only the repeats hold:
why a level is not a result, failures, and the target's CPU and memory. The verdict, the charts
and the tables all read these, so a level is judged and summarised in one place.
"""

from __future__ import annotations

import functools
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from blockbench import formats
from blockbench.results import (
    DATABASE_CPU_SHARE,
    FAILURE_THRESHOLD,
    GENERATOR_CEILING_SHARE,
    GENERATOR_CPU_LIMIT,
    UPSTREAM_CEILING_SHARE,
    UPSTREAM_CPU_LIMIT,
    UTILISATION_LAW_TOLERANCE,
    Aggregate,
    Bound,
    Cell,
    Flag,
    LevelResult,
    Run,
    UtilisationLaw,
    cpu_share,
)
from blockbench.targets import catalogue


@dataclass(frozen=True)
class Point:
    aggregate: Aggregate
    # Every repeat of this level, valid or not, in repeat order.
    repeats: tuple[LevelResult, ...]
    capacity: int | None
    # The cores the target could use, for the utilisation law's words.
    cores: int = 1

    @property
    def users(self) -> int:
        return self.aggregate.users

    @property
    def binding(self) -> str | None:
        """What limits the level: the run's word for it, else the one its repeats name most."""
        if self.aggregate.binding is not None:
            return self.aggregate.binding
        named = Counter(level.binding for level in self.counted if level.binding)
        return named.most_common(1)[0][0] if named else None

    @property
    def bound(self) -> Bound | None:
        """The binding bound as a repeat recorded it, with its arithmetic: of the repeats it
        binds, the one nearest the aggregate's median. None where no bound was recorded."""
        found = [
            level.bounds[0]
            for level in self.counted
            if level.bounds and level.bounds[0].name == self.binding
        ]
        median = self.aggregate.ceiling_rps
        if not found or median is None:
            return found[0] if found else None
        return min(found, key=lambda bound: abs(bound.rps - median))

    @property
    def valid(self) -> bool:
        return self.aggregate.valid

    @property
    def counted(self) -> tuple[LevelResult, ...]:
        """The repeats the aggregate was made of: the valid ones, or all when none was."""
        valid = tuple(level for level in self.repeats if level.valid)
        return valid or self.repeats

    @property
    def reasons(self) -> tuple[str, ...]:
        """Why repeats were not results, in words; on a valid point, the repeats left out."""
        return reasons(self.repeats, self.valid, self.cores)

    @property
    def requests(self) -> int:
        return sum(level.requests for level in self.repeats)

    @property
    def failed(self) -> int:
        return sum(level.failures.total for level in self.repeats)

    @property
    def failure_rate(self) -> float | None:
        """Over every repeat, counted or not: failures are what make a level invalid."""
        return self.failed / self.requests if self.requests else None

    @property
    def cpu_percent(self) -> float | None:
        return median(
            level.target_resources.cpu_percent_mean
            for level in self.counted
            if level.target_resources
        )

    @property
    def rss_mib(self) -> float | None:
        return median(
            level.target_resources.rss_mib_max for level in self.counted if level.target_resources
        )

    @property
    def threads(self) -> int | None:
        return _most(
            level.target_resources.threads_max for level in self.counted if level.target_resources
        )

    @property
    def processes(self) -> int | None:
        return _most(
            level.target_resources.processes_max for level in self.counted if level.target_resources
        )

    @property
    def generator_cpu(self) -> float | None:
        return _most(level.generator.cpu_percent_max for level in self.repeats)

    @property
    def in_flight(self) -> int:
        """Requests the target held at once: the users, unless its capacity is smaller."""
        return self.users if self.capacity is None else min(self.users, self.capacity)

    @property
    def mib_per_request(self) -> float | None:
        """The target's whole memory divided by the requests it held at once."""
        rss = self.rss_mib
        return None if rss is None else rss / self.in_flight


@dataclass(frozen=True)
class Series:
    """One target in one scenario: its configuration and its points, by rising concurrency."""

    scenario: str
    target: str
    # The first repeat's cell: every repeat of a target runs the same configuration.
    cell: Cell
    points: tuple[Point, ...]
    errors: tuple[str, ...]

    @property
    def model(self) -> str | None:
        return self.cell.model

    @property
    def capacity(self) -> int | None:
        return self.cell.capacity

    @property
    def variant_of(self) -> str | None:
        """The base target, when this target is a variant of it in the catalogue (the same
        server with, say, another HTTP client); None for a base or a name it does not know."""
        return variants().get(self.target)

    @property
    def valid_points(self) -> tuple[Point, ...]:
        return tuple(point for point in self.points if point.valid)

    def at(self, users: int) -> Point | None:
        return next((point for point in self.points if point.users == users), None)

    @property
    def peak(self) -> Point | None:
        """The valid level that served the most; the lower one on a tie."""
        return max(self.valid_points, key=lambda point: point.aggregate.rps, default=None)

    @property
    def marginal_mib_per_request(self) -> float | None:
        """What one more request in flight costs: memory growth over in-flight growth.

        From the lowest level to the highest valid one. Pre-started workers and threads are
        paid for at the lowest level already, so a process pool shows almost nothing here.
        """
        valid = [point for point in self.valid_points if point.rss_mib is not None]
        if len(valid) < 2:
            return None
        low, high = valid[0], valid[-1]
        grown = high.in_flight - low.in_flight
        if grown <= 0 or low.rss_mib is None or high.rss_mib is None:
            return None
        return (high.rss_mib - low.rss_mib) / grown


@dataclass(frozen=True)
class ScenarioResults:
    name: str
    series: tuple[Series, ...]

    @property
    def users(self) -> tuple[int, ...]:
        """Every level any target of the scenario measured, rising."""
        return tuple(sorted({point.users for series in self.series for point in series.points}))


def scenarios(run: Run) -> tuple[ScenarioResults, ...]:
    """The run by scenario in the run's order, each target in the run's order.

    Closed-loop levels alone: an open-loop level is a rate of arrivals, not a number of users,
    and has a page of its own (open_loop.py); a scenario measured only so is left out here.
    """
    cores = len(run.environment.target_cpus or []) or 1
    closed = [cell for cell in run.cells if not open_loop(cell)]
    # The aggregates of arrival rates alone are left out. A rate equal to a closed-loop level of
    # the same target (only a merged run could hold both) keeps the aggregate the run recorded
    # for the two together; its point's repeats are the closed-loop ones.
    rates = {
        (cell.scenario, cell.target, level.users) for cell in run.cells for level in cell.levels
    }
    rates -= {(cell.scenario, cell.target, level.users) for cell in closed for level in cell.levels}
    cells: dict[tuple[str, str], list[Cell]] = {}
    for cell in sorted(closed, key=lambda cell: cell.repeat):
        cells.setdefault((cell.scenario, cell.target), []).append(cell)
    aggregates: dict[tuple[str, str], list[Aggregate]] = {}
    for aggregate in sorted(run.aggregates, key=lambda aggregate: aggregate.users):
        if (aggregate.scenario, aggregate.target, aggregate.users) not in rates:
            aggregates.setdefault((aggregate.scenario, aggregate.target), []).append(aggregate)
    found: list[ScenarioResults] = []
    left_out = open_loop_scenarios(run)
    for scenario in _ordered(run.scenarios, (cell.scenario for cell in closed)):
        if scenario in left_out:
            continue
        targets = _ordered(run.targets, (t for s, t in cells if s == scenario))
        series = tuple(
            _series(cells[scenario, target], aggregates.get((scenario, target), []), cores)
            for target in targets
            if (scenario, target) in cells
        )
        found.append(ScenarioResults(scenario, series))
    return tuple(found)


def open_loop(cell: Cell) -> bool:
    """Whether the cell's levels are arrival rates (open loop) rather than users."""
    return any(level.open_loop for level in cell.levels)


def open_loop_scenarios(run: Run) -> frozenset[str]:
    """The scenarios the run measured in open loop alone: no closed-loop cell of theirs."""
    closed = {cell.scenario for cell in run.cells if not open_loop(cell)}
    return frozenset(cell.scenario for cell in run.cells if open_loop(cell)) - closed


def _series(cells: list[Cell], aggregates: list[Aggregate], cores: int) -> Series:
    first = cells[0]
    points = tuple(
        Point(
            aggregate,
            tuple(
                level for cell in cells for level in cell.levels if level.users == aggregate.users
            ),
            first.capacity,
            cores,
        )
        for aggregate in aggregates
    )
    errors = tuple(cell.error for cell in cells if cell.error)
    return Series(first.scenario, first.target, first, points, errors)


def _ordered(declared: Iterable[str], found: Iterable[str]) -> list[str]:
    """The declared order, then anything found but not declared, so nothing is dropped."""
    return list(dict.fromkeys([*declared, *found]))


_Number = TypeVar("_Number", int, float)
_FLAG_ORDER: tuple[Flag, ...] = (
    "no_successes",
    "failures_above_threshold",
    "generator_saturated",
    "near_generator_ceiling",
    "upstream_bound",
    "database_bound",
    "utilisation_law_off",
    "target_unsampled",
    "schedule_fell_behind",
)


def _reason(flag: str, levels: list[LevelResult], cores: int) -> str:
    """A flag in words; one without words here is shown by its name, never as another's."""
    if flag == "no_successes":
        return "no request succeeded"
    if flag == "failures_above_threshold":
        worst = max(level.failure_rate for level in levels)
        return (
            f"{formats.percent(worst)} of requests failed, above the "
            f"{formats.percent(FAILURE_THRESHOLD)} threshold"
        )
    if flag == "generator_saturated":
        busiest = _most(level.generator.cpu_percent_max for level in levels)
        return (
            f"load generator saturated ({formats.cpu(busiest)} CPU, limit "
            f"{formats.cpu(GENERATOR_CPU_LIMIT)})"
        )
    if flag == "near_generator_ceiling":
        fastest = _most(level.rps for level in levels)
        return (
            f"{formats.rps(fastest)} req/s is within "
            f"{formats.percent(1 - GENERATOR_CEILING_SHARE)} of what the load generator itself "
            "can send: it may have been the limit"
        )
    if flag == "upstream_bound":
        upstream = [level.upstream for level in levels if level.upstream]
        busiest = _most(service.busiest_cpu_percent for service in upstream)
        calls = _most(service.calls_rps for service in upstream)
        return (
            f"the upstream service was near its own limit: its busiest process at "
            f"{formats.cpu(busiest)} CPU (limit {formats.cpu(UPSTREAM_CPU_LIMIT)}), "
            f"{formats.rps(calls)} calls/s (limit {formats.percent(UPSTREAM_CEILING_SHARE)} of "
            "what it was measured to sustain); it, not the target, may have been the limit"
        )
    if flag == "database_bound":
        share = _most(cpu_share(level.database) for level in levels if level.database)
        return (
            f"PostgreSQL's CPU was saturated ({formats.percent(share)} of its CPUs, limit "
            f"{formats.percent(DATABASE_CPU_SHARE)}): the database, not the target, may have "
            "been the limit"
        )
    if flag == "utilisation_law_off":
        laws = [law for level in levels if (law := UtilisationLaw.of(level, cores))]
        measured = ""
        if laws:
            law = max(laws, key=lambda law: abs(law.kernel_cores - law.target_cores))
            measured = (
                f" (the kernel counted {law.kernel_cores:.2f} of the target's cores busy, its "
                f"processes used {law.target_cores:.2f})"
            )
        return (
            f"the utilisation law does not hold: the target's CPU by the kernel and by its own "
            f"processes differ by more than {formats.percent(UTILISATION_LAW_TOLERANCE)}"
            f"{measured}, so a measurement is wrong"
        )
    if flag == "target_unsampled":
        return (
            "the target's processes were not sampled, so neither its CPU bound nor the "
            "utilisation law could be computed"
        )
    if flag == "schedule_fell_behind":
        late = max((level.open_loop.late for level in levels if level.open_loop), default=0)
        return (
            f"the open-loop schedule waited on the server: {late} sends left late for want of a "
            "free sender, so the offered rate was not the one scheduled"
        )
    return f"flagged {flag.replace('_', ' ')}"


def reasons(repeats: Sequence[LevelResult], valid: bool, cores: int = 1) -> tuple[str, ...]:
    """Why a level's repeats were not results, in words, the known flags in their order; on a
    valid level, the repeats left out."""
    found: list[str] = []
    raised = {flag for level in repeats for flag in level.flags}
    # The known flags in their order, then any this blockbench has no words for.
    for flag in [*_FLAG_ORDER, *sorted(raised - set(_FLAG_ORDER))]:
        flagged = [level for level in repeats if flag in level.flags]
        if flagged:
            text = _reason(flag, flagged, cores)
            if len(flagged) < len(repeats):
                text += f" in {len(flagged)} of {len(repeats)} repeats"
            found.append(text)
    if not valid and not found:
        found.append("marked not valid by the run")
    return tuple(found)


@functools.cache
def catalogue_targets() -> dict[str, catalogue.Target]:
    """The catalogue's targets by name; their names, apps, models and tags do not depend on
    the core count."""
    return {target.name: target for target in catalogue.load(cores=1).targets}


@functools.cache
def variants() -> dict[str, str]:
    """Each variant target of the catalogue, in its order, with the target it is a variant of."""
    known = catalogue_targets().values()
    return {target.name: target.variant_of for target in known if target.variant_of}


def median(values: Iterable[float | None]) -> float | None:
    """The median of the values present; None where there is none."""
    present = [value for value in values if value is not None]
    return statistics.median(present) if present else None


def _most(values: Iterable[_Number | None]) -> _Number | None:
    present = [value for value in values if value is not None]
    return max(present) if present else None
