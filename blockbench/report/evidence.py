"""What the claims read of a run: its ranked targets per scenario, where its charts are, and
small pure functions that pick targets and compare their points (blockbench/report/findings.py
turns them into the claims' figures)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

from blockbench import formats
from blockbench.report.points import Point, ScenarioResults, Series, catalogue_targets, scenarios
from blockbench.report.run_page import target_cores
from blockbench.report.verdict import BLOCKING_MODELS, ranked
from blockbench.results import Run


@dataclass(frozen=True)
class Link:
    href: str
    label: str


@dataclass(frozen=True)
class Evidence:
    """What the claims read: the run's ranked targets per scenario, and where its charts are."""

    results: Mapping[str, ScenarioResults]
    # Each scenario's page (run_page.Section.page), and the other pages built beside this one.
    pages: Mapping[str, str]
    beside: Collection[str]
    cores: int

    def chart(self, scenario: str, chart: str = "throughput") -> tuple[Link, ...]:
        """The link to one chart of a scenario's page (charts.scenario_charts' ids)."""
        page = self.pages.get(scenario)
        if page is None:
            return ()
        stem = page.removesuffix(".html")
        return (Link(f"{page}#{stem}-{chart}-figure", f"{scenario}: the {chart} chart"),)

    def page(self, name: str, label: str) -> tuple[Link, ...]:
        return (Link(name, label),) if name in self.beside else ()


def evidence(
    run: Run, pages: Mapping[str, str] | None = None, beside: Collection[str] = ()
) -> Evidence:
    found = {results.name: ranked(results) for results in scenarios(run)}
    return Evidence(found, pages or {}, beside, target_cores(run))


def blocking(series: Series) -> bool:
    return series.model in BLOCKING_MODELS


def non_blocking(series: Series) -> bool:
    return series.model is not None and series.model not in BLOCKING_MODELS


def of_model(model: str) -> Callable[[Series], bool]:
    return lambda series: series.model == model


def of_target(series: Series) -> Callable[[Series], bool]:
    return lambda other: other.target == series.target


Pick = tuple[Series, Point]


def best(results: ScenarioResults, users: int, keep: Callable[[Series], bool]) -> Pick | None:
    """The target that served the most at ``users`` among those kept, valid levels only."""
    found = [(s, p) for s in results.series if keep(s) and (p := s.at(users)) and p.valid]
    return max(found, key=lambda pick: pick[1].aggregate.rps, default=None)


def shared_levels(results: ScenarioResults, *groups: Callable[[Series], bool]) -> list[int]:
    """The levels, rising, at which every group has a target with a valid measurement."""
    return [users for users in results.users if all(best(results, users, keep) for keep in groups)]


def rps(pick: Pick) -> float:
    return pick[1].aggregate.rps


def ratio(faster: Pick, slower: Pick) -> float:
    return rps(faster) / rps(slower) if rps(slower) else float("inf")


def who(pick: Pick) -> str:
    """A target as the figures name it: its req/s, its model, and how many requests it can hold
    at once, which is most of what sets it on a waiting workload."""
    series = pick[0]
    model = f", {series.model.replace('-', ' ')}" if series.model else ""
    room = f", {formats.count(series.capacity)} at once" if series.capacity else ""
    return f"{series.target} ({formats.rps(rps(pick))} req/s{model}{room})"


def slot_mib(series: Series) -> float | None:
    """Memory per request slot: what holding one more request costs the model.

    A process pool is started before the load, so its growth shows nothing; each request in
    flight holds a whole worker, so its slot is the tree's memory over the requests it held at
    its highest valid level. Threads and green threads are started as requests arrive: their
    slot is the growth per request in flight (Series.marginal_mib_per_request).
    """
    if series.model == "processes":
        held = [point for point in series.valid_points if point.rss_mib is not None]
        return held[-1].mib_per_request if held else None
    return series.marginal_mib_per_request


def style_twins(results: ScenarioResults) -> list[tuple[Series, Series]]:
    """(async def, def) pairs: two targets of one app on the same server command whose
    endpoints differ only in being written ``async def`` or ``def`` (ENDPOINT_STYLE)."""
    known = catalogue_targets()
    groups: dict[tuple[str, str], dict[bool, Series]] = {}
    for series in results.series:
        target = known.get(series.target)
        if target is not None:
            group = groups.setdefault((target.app, target.command_template), {})
            group.setdefault(target.endpoints_async, series)
    return [(group[True], group[False]) for group in groups.values() if len(group) == 2]
