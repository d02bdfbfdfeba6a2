"""The verdict of a run: per scenario, how each target did, and one sentence to remember.

Only valid levels count. Targets are compared at one reference concurrency, the highest level
every target of the scenario measured validly, so no target is judged at a level another one
could not be measured at. Variants (a target with, say, another HTTP client) are no concurrency
model of their own: they are never ranked, only set beside their base (client_section.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from blockbench import formats
from blockbench.report import catalogued, open_loop
from blockbench.report.points import Point, ScenarioResults, Series, scenarios
from blockbench.results import Aggregate, Run

# Models in which a request holds a process or an OS thread for its whole wait (the catalogue's
# "processes" and "threads"); green threads and event loops give the wait back to others.
BLOCKING_MODELS = frozenset({"processes", "threads"})


def blocking(model: str | None) -> bool:
    return model in BLOCKING_MODELS


@dataclass(frozen=True)
class Row:
    series: Series
    peak: Point | None
    # The target at the verdict's reference concurrency, when there is one.
    reference: Point | None
    # Its req/s there over the best blocking target's.
    ratio: float | None

    @property
    def target(self) -> str:
        return self.series.target

    @property
    def blocking(self) -> bool:
        return blocking(self.series.model)


@dataclass(frozen=True)
class Verdict:
    scenario: str
    reference_users: int | None
    rows: tuple[Row, ...]
    best_blocking: str | None
    sentence: str


def verdicts(run: Run) -> tuple[Verdict, ...]:
    return tuple(verdict(results) for results in scenarios(run))


def headline(run: Run) -> str:
    """The sentence of the first scenario that compared its targets, for the index of runs;
    a decision map's cells are no scenario of their own there (their page says it)."""
    cells = catalogued.map_scenarios()
    found = tuple(verdict(r) for r in scenarios(run) if r.name not in cells) or verdicts(run)
    for item in found:
        if item.reference_users is not None:
            return item.sentence
    if found:
        return found[0].sentence
    # A run measured at arrival rates alone: its open-loop page's crossings.
    rates = open_loop.views(run)
    return rates[0].headline if rates else "No scenario has results yet."


def reference_users(results: ScenarioResults) -> int | None:
    """The highest level every target with results measured validly."""
    measured = [series for series in results.series if series.points]
    if not measured:
        return None
    common = set.intersection(*({point.users for point in s.valid_points} for s in measured))
    return max(common, default=None)


def ranked(results: ScenarioResults) -> ScenarioResults:
    """The scenario's targets that the verdict ranks: every one but the catalogue's variants."""
    return ScenarioResults(
        results.name, tuple(series for series in results.series if series.variant_of is None)
    )


def verdict(results: ScenarioResults) -> Verdict:
    results = ranked(results)
    users = reference_users(results)
    at = {s.target: s.at(users) if users is not None else None for s in results.series}
    blockers = [s for s in results.series if blocking(s.model) and at[s.target] is not None]
    best = max(blockers, key=lambda s: _rps(at[s.target]), default=None)
    best_rps = _rps(at[best.target]) if best else 0.0
    rows = tuple(
        Row(
            series=s,
            peak=s.peak,
            reference=at[s.target],
            ratio=_rps(at[s.target]) / best_rps if best_rps and at[s.target] else None,
        )
        for s in results.series
    )
    return Verdict(
        scenario=results.name,
        reference_users=users,
        rows=rows,
        best_blocking=best.target if best else None,
        sentence=sentence(results.name, users, rows),
    )


def sentence(scenario: str, users: int | None, rows: Sequence[Row]) -> str:
    """The best target at the reference level against the best one of the other kind."""
    compared = [row for row in rows if row.reference is not None]
    if users is None or not compared:
        if not any(row.series.points for row in rows):
            return f"On {scenario}, no target has results."
        return (
            f"On {scenario}, no concurrency level was measured validly on every target, so "
            f"they are not compared at one level; each target's peak is in the table."
        )
    best = max(compared, key=lambda row: _rps(row.reference))
    others = [row for row in compared if row.blocking != best.blocking]
    where = f"On {scenario} at {formats.users(users)}"
    first = _aggregate(best)
    if not others:
        kind = "blocking" if best.blocking else "non-blocking"
        return (
            f"{where}, {_who(best)} served the most ({formats.rps(first.rps)} req/s); every "
            f"target here is {kind}, so there is no blocking against non-blocking comparison."
        )
    other = max(others, key=lambda row: _rps(row.reference))
    second = _aggregate(other)
    kind = "blocking" if other.blocking else "non-blocking"
    numbers = f"{formats.rps(first.rps)} and {formats.rps(second.rps)} req/s"
    if overlap(first, second):
        return (
            f"{where}, {_who(best)} and {_who(other)}, the best {kind} target, served about "
            f"the same: {numbers}, within the spread measured over repeats."
        )
    spread = "" if spread_measured(first, second) else " (one repeat: no spread measured)"
    return (
        f"{where}, {_who(best)} served {formats.ratio(first.rps / second.rps)} "
        f"{_who(other)}, the best {kind} target: {numbers}{spread}."
    )


def spread_measured(*aggregates: Aggregate) -> bool:
    return all(aggregate.repeats > 1 for aggregate in aggregates)


def overlap(a: Aggregate, b: Aggregate) -> bool:
    """Whether the repeats' intervals overlap; with a single repeat there is nothing to say."""
    if not spread_measured(a, b):
        return False
    return a.rps_low <= b.rps_high and b.rps_low <= a.rps_high


def _who(row: Row) -> str:
    model = row.series.model
    return f"{row.target} ({model.replace('-', ' ')})" if model else row.target


def _aggregate(row: Row) -> Aggregate:
    assert row.reference is not None
    return row.reference.aggregate


def _rps(point: Point | None) -> float:
    return point.aggregate.rps if point else 0.0
