"""The run page's section "The HTTP client matters": a target beside a variant of it that calls
the upstream with another client, per scenario, as plain data that templates/run.html lays out.

Such a variant is no concurrency model of its own, so the verdict and the scenario's own charts
leave it out (verdict.ranked, ``shown``); this is the one place it is set beside its base.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from blockbench import formats
from blockbench.report import charts
from blockbench.report.charts import Chart
from blockbench.report.palette import Style
from blockbench.report.points import Point, ScenarioResults, Series
from blockbench.report.verdict import overlap, reference_users, spread_measured
from blockbench.results import Cell


@dataclass(frozen=True)
class Side:
    """One target of a pair, with its client and its point at each of the pair's levels."""

    series: Series
    client: str
    # One per Pair.users; None where this target has no result at that level.
    points: tuple[Point | None, ...]

    @property
    def target(self) -> str:
        return self.series.target


@dataclass(frozen=True)
class Pair:
    scenario: str
    anchor: str
    base: Side
    variant: Side
    # Every level either target measured, rising.
    users: tuple[int, ...]
    # The highest level both measured validly: where they are compared.
    reference_users: int | None
    # There, the faster one's req/s over the slower one's.
    faster: Side | None
    ratio: float | None
    lead: str
    chart: Chart

    @property
    def sides(self) -> tuple[Side, Side]:
        return (self.base, self.variant)

    @property
    def not_results(self) -> tuple[tuple[str, int, tuple[str, ...]], ...]:
        """(target, users, why) for every level of the table that is not a result."""
        return tuple(
            (side.target, point.users, point.reasons)
            for side in self.sides
            for point in side.points
            if point is not None and not point.valid
        )


def client(cell: Cell) -> str | None:
    """The client a cell called the upstream with, as a reader names it: "aiohttp 3.14.5"."""
    if cell.upstream_client is None:
        return None
    return " ".join(filter(None, (cell.upstream_client, cell.upstream_client_version)))


def matched(results: ScenarioResults) -> tuple[tuple[Series, Series], ...]:
    """(base, variant) for every two targets of one base whose upstream clients differ.

    The base is the target the others are variants of when it ran, else the first variant.
    """
    groups: dict[str, list[Series]] = {}
    for series in results.series:
        groups.setdefault(series.variant_of or series.target, []).append(series)
    found = []
    for base, members in groups.items():
        first = next((s for s in members if s.target == base), members[0])
        found += [(first, other) for other in members if _clients_differ(first, other)]
    return tuple(found)


def pairs(results: ScenarioResults, looks: dict[str, Style], prefix: str) -> tuple[Pair, ...]:
    return tuple(
        _pair(results.name, base, variant, looks, f"{prefix}-client-{number}")
        for number, (base, variant) in enumerate(matched(results), start=1)
    )


def shown(results: ScenarioResults, found: Sequence[Pair]) -> ScenarioResults:
    """The scenario without the variants this section shows: they are drawn here instead."""
    here = {pair.variant.target for pair in found}
    return ScenarioResults(results.name, tuple(s for s in results.series if s.target not in here))


def _clients_differ(one: Series, other: Series) -> bool:
    a, b = one.cell.upstream_client, other.cell.upstream_client
    return one is not other and a is not None and b is not None and a != b


def _pair(
    scenario: str, base: Series, variant: Series, looks: dict[str, Style], anchor: str
) -> Pair:
    users = tuple(sorted({point.users for s in (base, variant) for point in s.points}))
    first, second = (
        Side(s, client(s.cell) or "", tuple(s.at(level) for level in users))
        for s in (base, variant)
    )
    common = reference_users(ScenarioResults(scenario, (base, variant)))
    faster, slower = _ordered(first, second, common)
    ratio = None
    if faster and slower and common is not None:
        fast, slow = _rps(faster, common), _rps(slower, common)
        ratio = fast / slow if slow else None
    return Pair(
        scenario=scenario,
        anchor=anchor,
        base=first,
        variant=second,
        users=users,
        reference_users=common,
        faster=faster,
        ratio=ratio,
        lead=lead(first, second, common),
        chart=Chart(
            f"{anchor}-throughput",
            f"{scenario}: {base.target} with {first.client} and with {second.client}",
            "Successful requests per second against concurrency, one line per client (the "
            "variant dotted), their tightest bound dashed; hollow grey markers are levels "
            "that are not results.",
            charts.client_throughput(
                (base, variant), looks, {s.target: s.client for s in (first, second)}
            ),
        ),
    )


def lead(base: Side, variant: Side, users: int | None) -> str:
    """What differs between the two, and how much that changed, from the data alone."""
    if variant.series.variant_of == base.target:
        relation = f"{variant.target} is {base.target} with another HTTP client"
    else:
        relation = f"{base.target} and {variant.target} are variants of one target"
    clients = f"call the upstream with {base.client} and {variant.client} respectively"
    differences = _differences(base.series.cell, variant.series.cell)
    if differences:
        what = f"{relation}: they {clients}, and differ also in {' and '.join(differences)}."
    else:
        model = (base.series.model or "unknown").replace("-", " ")
        what = (
            f"{relation}: the two have the same concurrency model ({model}), capacity and caps "
            f"on the path, and {clients}."
        )
    return f"{what} {_outcome(base, variant, users)}"


def _outcome(base: Side, variant: Side, users: int | None) -> str:
    faster, slower = _ordered(base, variant, users)
    if users is None or faster is None or slower is None:
        return (
            "No level was measured validly on both, so they are not compared at one level; "
            "every level is in the table."
        )
    a, b = _point(faster, users).aggregate, _point(slower, users).aggregate
    where = f"At {users} users, the highest level both measured validly,"
    numbers = f"{formats.rps(a.rps)} and {formats.rps(b.rps)} req/s"
    if overlap(a, b):
        return (
            f"{where} they served about the same: {numbers}, within the spread measured over "
            "repeats."
        )
    spread = "" if spread_measured(a, b) else " (one repeat: no spread measured)"
    ratio = formats.ratio(a.rps / b.rps) if b.rps else formats.MISSING
    return (
        f"{where} {faster.target} with {faster.client} served {ratio} what {slower.target} "
        f"with {slower.client} did: {numbers}{spread}."
    )


def _ordered(one: Side, other: Side, users: int | None) -> tuple[Side | None, Side | None]:
    """(faster, slower) at ``users``; the base first on a tie; Nones when not compared."""
    if users is None:
        return None, None
    if _rps(other, users) > _rps(one, users):
        return other, one
    return one, other


def _differences(a: Cell, b: Cell) -> list[str]:
    # A cap's name may name the client ("upstream HTTP pool (httpx)"); its limit is what counts.
    checks = (
        ("concurrency model", a.model != b.model),
        ("capacity", a.capacity != b.capacity),
        (
            "caps on the path",
            [(c.value, c.where) for c in a.caps] != [(c.value, c.where) for c in b.caps],
        ),
        ("service time", a.service_time_ms != b.service_time_ms),
    )
    return [name for name, differs in checks if differs]


def _point(side: Side, users: int) -> Point:
    point = side.series.at(users)
    assert point is not None, "compared only at a level both measured"
    return point


def _rps(side: Side, users: int) -> float:
    point = side.series.at(users)
    return point.aggregate.rps if point else 0.0
