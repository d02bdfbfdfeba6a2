"""The peers' benchmarks replayed on our stack: their ranking beside ours, and where each of
their workloads sits on the decision map. templates/replications.html lays it out.

Only ranks and ratios are set side by side: their machines, clients and servers were not ours,
so their req/s and ours are no numbers to compare.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from blockbench import formats
from blockbench.load import scenarios
from blockbench.report import catalogued, decision_map
from blockbench.report.catalogued import PeerFigure, Replication
from blockbench.report.decision_map import EVEN, Level, MapView, Square
from blockbench.report.points import Point, Series, catalogue_targets, median
from blockbench.report.points import scenarios as by_scenario
from blockbench.report.verdict import blocking
from blockbench.results import Run

# The page, beside the run's overview.
PAGE = "replications.html"


@dataclass(frozen=True)
class Row:
    """One figure of theirs beside the target of ours that stands for it."""

    figure: PeerFigure
    # Our target that stands for it: of our app for their framework, with their model, measured
    # on the workload; None where we have none.
    target: str | None
    their_rank: int
    their_ratio: float
    # Our target's level at the replication's users; None where we have no such target or
    # it did not measure that level.
    ours: Point | None
    our_rank: int | None
    our_ratio: float | None

    @property
    def blocking(self) -> bool:
        return blocking(self.figure.model)

    @property
    def our_reasons(self) -> tuple[str, ...]:
        if self.target is None:
            return ("none of our targets stands for it",)
        if self.ours is None:
            return ("not measured",)
        return () if self.ours.valid else self.ours.reasons


@dataclass(frozen=True)
class Other:
    """A target of ours measured on the workload that stands for none of their figures."""

    target: str
    model: str | None
    point: Point | None
    rank: int | None
    ratio: float | None


@dataclass(frozen=True)
class Placement:
    """The map's cell nearest the replication's workload, at the level nearest its users."""

    level: Level
    square: Square
    # How the CPU row was chosen: by the CPU per request measured on both, or nominally.
    by_measured_cpu: bool


@dataclass(frozen=True)
class ReplicationView:
    replication: Replication
    rows: tuple[Row, ...]
    others: tuple[Other, ...]
    # The best non-blocking over the best blocking: in their figures, and in ours.
    their_split: float | None
    our_split: float | None
    # Our scenario's wait per request, as the run recorded it, and its CPU per request as
    # measured on our targets (median).
    wait_ms: float | None
    cpu_ms: float | None
    placement: Placement | None

    @property
    def name(self) -> str:
        return self.replication.name

    @property
    def sentence(self) -> str:
        """What our numbers say of their workload, in one sentence."""
        where = (
            f"With {_wait(self.wait_ms)} of wait and {formats.ms(self.cpu_ms)} of CPU per request"
        )
        return f"{where} ({self.replication.name}), {split_words(self.our_split)} here."

    @property
    def limits(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """What limited each of our targets measured validly here, by what limited them."""
        found: dict[str, list[str]] = {}
        points = [(row.target, row.ours) for row in self.rows]
        points += [(other.target, other.point) for other in self.others]
        for target, point in points:
            if target and point is not None and point.valid:
                found.setdefault(point.binding or "unknown", []).append(target)
        return tuple((name, tuple(targets)) for name, targets in found.items())

    @property
    def why(self) -> str | None:
        """What ranks our targets on this workload, from what limited each of them."""
        limits = dict(self.limits)
        if not limits:
            return None
        if set(limits) == {"target CPU"}:
            return (
                "Every target of ours was limited by its own CPU: the ranking is the CPU each "
                "spends per request, its framework's and server's cost, not its concurrency model."
            )
        named = "; ".join(f"{', '.join(targets)} by {name}" for name, targets in self.limits)
        return f"What limited ours: {named}."

    @property
    def theirs(self) -> str:
        """Their figures' reading, in the same words as ours."""
        if self.their_split is None:
            return "Their figures set no blocking server beside a non-blocking one."
        return f"In their figures, {split_words(self.their_split)}."


def present(run: Run) -> bool:
    names = {item.scenario for item in catalogued.replications().values()}
    return any(cell.scenario in names for cell in run.cells)


def views(run: Run, maps: Sequence[MapView] | None = None) -> tuple[ReplicationView, ...]:
    series = {(s.scenario, s.target): s for r in by_scenario(run) for s in r.series}
    scenarios = {cell.scenario for cell in run.cells}
    found = maps if maps is not None else decision_map.views(run)
    return tuple(
        view_of(run, item, series, found[0] if found else None)
        for item in catalogued.replications().values()
        if item.scenario in scenarios
    )


def view_of(
    run: Run,
    item: Replication,
    series: dict[tuple[str, str], Series],
    found: MapView | None,
) -> ReplicationView:
    theirs = sorted(item.figures, key=lambda f: f.value, reverse=True)
    their_best = theirs[0].value if theirs else 0.0
    # Every target of ours on the scenario, whether or not it stands for one of theirs: our
    # ranking is ours whole, and our split takes the best of each kind we measured.
    measured = {
        target: (own.model, own.at(item.users))
        for (scenario, target), own in series.items()
        if scenario == item.scenario and own.variant_of is None
    }
    ours = {target: point for target, (_, point) in measured.items()}
    rates = {t: p.aggregate.rps for t, p in ours.items() if p is not None and p.valid}
    ranked = sorted(rates, key=lambda t: rates[t], reverse=True)
    our_best = rates[ranked[0]] if ranked else 0.0

    def rank(target: str | None) -> int | None:
        return ranked.index(target) + 1 if target in rates and target else None

    def ratio(target: str | None) -> float | None:
        return rates[target] / our_best if target in rates and target and our_best else None

    stand_ins = {figure: stand_in(figure, measured) for figure in theirs}
    rows = tuple(
        Row(
            figure=figure,
            target=stand_ins[figure],
            their_rank=1 + sum(other.value > figure.value for other in item.figures),
            their_ratio=figure.value / their_best if their_best else math.nan,
            ours=ours.get(stand_ins[figure] or ""),
            our_rank=rank(stand_ins[figure]),
            our_ratio=ratio(stand_ins[figure]),
        )
        for figure in theirs
    )
    standing = set(stand_ins.values())
    others = tuple(
        Other(target, measured[target][0], ours[target], rank(target), ratio(target))
        for target in [*ranked, *(t for t in ours if t not in rates)]
        if target not in standing
    )
    cells = [c for c in run.cells if c.scenario == item.scenario]
    recorded = statistics.median(c.service_time_ms for c in cells) if cells else None
    declared = declared_wait_ms(item.scenario)
    # The run's figure is the least wait its bounds model; where they do not model a wait (a
    # database's sleep, say) the catalogue's own parameter still says it.
    wait = max((w for w in (recorded, declared) if w is not None), default=None)
    cpu = median(
        lv.target_cpu_demand_ms
        for p in ours.values()
        if p is not None and p.valid
        for lv in p.counted
    )
    return ReplicationView(
        replication=item,
        rows=rows,
        others=others,
        their_split=_split([(f.model, f.value) for f in item.figures]),
        our_split=_split([(measured[t][0], rates[t]) for t in rates]),
        wait_ms=wait,
        cpu_ms=cpu,
        placement=place(found, item.users, wait, cpu) if found else None,
    )


def stand_in(figure: PeerFigure, measured: Mapping[str, tuple[str | None, object]]) -> str | None:
    """Our target for their row: the first measured (in the run's order) of our app for their
    framework with their row's model; None where we have no such app or target."""
    if figure.app is None:
        return None
    known = catalogue_targets()
    return next(
        (
            t
            for t, (model, _) in measured.items()
            if model == figure.model and t in known and known[t].app == figure.app
        ),
        None,
    )


def place(view: MapView, users: int, wait: float | None, cpu: float | None) -> Placement | None:
    """The map's cell nearest a workload: the nearest wait (on a log scale, as the map's
    columns are spaced) and the CPU row whose measured CPU per request is nearest ours."""
    if not view.levels or wait is None:
        return None
    level = min(view.levels, key=lambda lv: abs(math.log(lv.users) - math.log(users)))
    column = min(
        range(len(level.waits_ms)),
        key=lambda j: abs(math.log1p(level.waits_ms[j]) - math.log1p(wait)),
    )
    measured = [_row_demand(row[column]) for row in level.rows]
    if cpu is not None and any(m is not None for m in measured):
        row = min(
            (i for i, m in enumerate(measured) if m is not None),
            key=lambda i: abs((measured[i] or 0.0) - cpu),
        )
        by_measured = True
    else:
        row, by_measured = 0, False
    square = level.rows[row][column]
    return None if square is None else Placement(level, square, by_measured)


def disagreement(found: Sequence[ReplicationView]) -> str | None:
    """Why the peers disagree, from our numbers: each workload's reading here, side by side."""
    read = [v for v in found if v.our_split is not None]
    if not read:
        return None
    clauses = [
        f"with {_wait(v.wait_ms)} of wait per request ({v.replication.name}'s workload), "
        f"{split_words(v.our_split)}"
        for v in sorted(read, key=lambda v: v.wait_ms or 0.0)
    ]
    splits = [v.our_split or 1.0 for v in read]
    opposite = any(x > 1 + EVEN for x in splits) and any(x < 1 / (1 + EVEN) for x in splits)
    head = "Both are right about their own workload: " if opposite else "On our stack: "
    return head + "; ".join(clauses) + "."


def split_words(split: float | None) -> str:
    if split is None:
        return "no blocking and non-blocking target were both measured validly"
    if split > 1 + EVEN:
        return f"the best non-blocking target served {formats.ratio(split)} the best blocking one"
    if split < 1 / (1 + EVEN):
        return (
            f"the best blocking target served {formats.ratio(1 / split)} the best non-blocking one"
        )
    return f"blocking and non-blocking served about the same ({formats.ratio(split)})"


def _split(values: Sequence[tuple[str | None, float]]) -> float | None:
    blockers = [v for m, v in values if blocking(m)]
    others = [v for m, v in values if not blocking(m)]
    if not blockers or not others or max(blockers) <= 0:
        return None
    return max(others) / max(blockers)


def declared_wait_ms(scenario: str) -> float | None:
    """The wait its requests ask for (their ``ms`` parameter, weighted), by the catalogue;
    None where none asks for one."""
    found = scenarios.load().scenarios.get(scenario)
    if found is None:
        return None
    if not any("ms" in r.params for r in found.requests):
        return None
    # A request without the parameter does not wait.
    waits = [(r.params.get("ms", 0), r.weight) for r in found.requests]
    total = sum(weight for _, weight in waits)
    return sum(float(ms) * weight for ms, weight in waits) / total


def _row_demand(square: Square | None) -> float | None:
    if square is None:
        return None
    return median(r.demand_ms for r in square.readings if r.valid)


def _wait(value: float | None) -> str:
    return f"{value:g} ms" if value is not None else "an unrecorded"
