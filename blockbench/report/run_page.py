"""What a run's pages show, computed from the run: templates/run.html lays out its overview,
templates/scenario.html each scenario's page."""

from __future__ import annotations

import functools
import shlex
from dataclasses import dataclass
from typing import Any

from blockbench.apps.upstream_clients import DEFAULTS as CLIENT_DEFAULTS
from blockbench.load import scenarios
from blockbench.report import catalogued, charts, client_section, migrations, palette
from blockbench.report.charts import Chart
from blockbench.report.client_section import Pair
from blockbench.report.palette import Style
from blockbench.report.points import Point, ScenarioResults, Series, open_loop_scenarios
from blockbench.report.points import scenarios as by_scenario
from blockbench.report.verdict import BLOCKING_MODELS, Verdict, verdict
from blockbench.results import (
    DATABASE_CPU_SHARE,
    FAILURE_THRESHOLD,
    GENERATOR_CEILING_SHARE,
    GENERATOR_CPU_LIMIT,
    UPSTREAM_CEILING_SHARE,
    UPSTREAM_CPU_LIMIT,
    UTILISATION_LAW_TOLERANCE,
    Bound,
    Run,
)
from blockbench.targets import catalogue

# Where a cap applies, as the catalogue records it (Cap.where), in words.
CAP_SCOPES = {"target": "in all", "worker": "per worker", "process": "per process"}
# Where an endpoint runs, as upstream_clients names it (its Context), in words.
CLIENT_CONTEXTS = {
    "async": "async endpoints on an event loop",
    "threads": "blocking endpoints on OS threads",
    "gevent": "blocking endpoints on gevent's green threads",
}
# The profile that sets each model's default client beside httpx.
CLIENT_PROFILE = "http-client"


@dataclass(frozen=True)
class Plateau:
    """A target's caps next to the throughput it reached and what limited it there."""

    series: Series
    peak: Point | None

    @property
    def limit(self) -> Bound | None:
        """The binding bound at the peak, as the run recorded it; None where none was."""
        return self.peak.bound if self.peak else None


@dataclass(frozen=True)
class Memory:
    series: Series
    # The highest valid level, where the most requests were in flight.
    point: Point | None
    marginal_mib: float | None


@dataclass(frozen=True)
class Section:
    results: ScenarioResults
    verdict: Verdict
    # From 1, in the run's order.
    number: int
    anchor: str
    explanation: str | None
    charts: tuple[Chart, ...]
    plateaus: tuple[Plateau, ...]
    memory: tuple[Memory, ...]
    # This scenario's targets set beside a variant with another HTTP client.
    clients: tuple[Pair, ...]
    # Variants drawn here but not ranked (no base with another client to set them beside).
    unranked: tuple[str, ...]

    @property
    def page(self) -> str:
        """Its page, beside the run's overview (index.html): charts, caps, memory, numbers."""
        return f"{self.anchor}.html"


@dataclass(frozen=True)
class ClientsUsed:
    """Which HTTP client the upstream-calling cells of a run used, as the run recorded it."""

    # (client, targets that used it), by client.
    recorded: tuple[tuple[str, tuple[str, ...]], ...]
    # Targets of cells that call the upstream but record no client: older results.
    unrecorded: tuple[str, ...]


def context(run: Run) -> dict[str, Any]:
    looks = palette.styles(run.targets + [cell.target for cell in run.cells])
    found = sections(run, looks)
    return {
        "run": run,
        "sections": found,
        "client_pairs": tuple(pair for section in found for pair in section.clients),
        "migration_paths": migrations.paths(
            _catalogue().migrations, [(section.results, section.page) for section in found]
        ),
        "clients_used": clients_used(run),
        "client_defaults": [
            (CLIENT_CONTEXTS.get(where, where), name) for where, name in CLIENT_DEFAULTS.items()
        ],
        "client_profile": _client_profile(),
        "client_profile_targets": _client_profile_targets(),
        "looks": looks,
        # Scenarios measured at arrival rates alone: on the open-loop page, not as sections.
        "open_loop_only": [name for name in run.scenarios if name in open_loop_scenarios(run)],
        "command": shlex.join(run.command),
        # A merged run: each source run's scenarios and its exact command.
        "sources": [(source, shlex.join(source.command)) for source in run.sources],
        "cores": target_cores(run),
        "errors": sorted({(c.scenario, c.target, c.repeat, c.error) for c in run.cells if c.error}),
        "targets": _catalogue_targets(),
        "blocking_models": sorted(BLOCKING_MODELS),
        "cap_scopes": CAP_SCOPES,
        "failure_threshold": FAILURE_THRESHOLD,
        "generator_cpu_limit": GENERATOR_CPU_LIMIT,
        "generator_ceiling_share": GENERATOR_CEILING_SHARE,
        "upstream_cpu_limit": UPSTREAM_CPU_LIMIT,
        "upstream_ceiling_share": UPSTREAM_CEILING_SHARE,
        "database_cpu_share": DATABASE_CPU_SHARE,
        "utilisation_law_tolerance": UTILISATION_LAW_TOLERANCE,
    }


def sections(run: Run, looks: dict[str, Style]) -> tuple[Section, ...]:
    found = []
    # A decision map's cells are shown on its own page (map.html), not as scenarios.
    shown = [r for r in by_scenario(run) if r.name not in catalogued.map_scenarios()]
    for number, everything in enumerate(shown, start=1):
        # Numbered, not named: a scenario name is text from a file, an id must stay an id.
        anchor = f"scenario-{number}"
        pairs = client_section.pairs(everything, looks, anchor)
        results = client_section.shown(everything, pairs)
        found.append(
            Section(
                results=results,
                verdict=verdict(results),
                number=number,
                anchor=anchor,
                explanation=_scenario_explanations().get(results.name),
                charts=charts.scenario_charts(results, looks, anchor, run.generator_ceiling_rps),
                plateaus=tuple(Plateau(series, series.peak) for series in results.series),
                memory=tuple(_memory(series) for series in results.series),
                clients=pairs,
                unranked=tuple(s.target for s in results.series if s.variant_of is not None),
            )
        )
    return tuple(found)


def clients_used(run: Run) -> ClientsUsed | None:
    """None when no scenario of the run calls the upstream."""
    upstream = _upstream_scenarios()
    calling = [c for c in run.cells if c.upstream_client or c.scenario in upstream]
    if not calling:
        return None
    recorded: dict[str, list[str]] = {}
    for cell in calling:
        name = client_section.client(cell)
        if name:
            recorded.setdefault(name, []).append(cell.target)
    unrecorded = [cell.target for cell in calling if not cell.upstream_client]
    return ClientsUsed(
        recorded=tuple(
            (name, tuple(dict.fromkeys(targets))) for name, targets in sorted(recorded.items())
        ),
        unrecorded=tuple(dict.fromkeys(unrecorded)),
    )


def target_cores(run: Run) -> int:
    """The cores the targets could use: their CPU set when pinned, else the machine's."""
    cpus = run.environment.target_cpus
    return len(cpus) if cpus else run.environment.cpu_count


def _memory(series: Series) -> Memory:
    valid = [point for point in series.valid_points if point.rss_mib is not None]
    return Memory(series, valid[-1] if valid else None, series.marginal_mib_per_request)


@dataclass(frozen=True)
class TargetNote:
    name: str
    model: str
    server: str
    explanation: str


@functools.cache
def _catalogue() -> catalogue.Catalogue:
    return catalogue.load(cores=1)


@functools.cache
def _catalogue_targets() -> dict[str, TargetNote]:
    return {
        t.name: TargetNote(t.name, t.model, t.server, t.explanation) for t in _catalogue().targets
    }


@functools.cache
def _scenario_explanations() -> dict[str, str]:
    return {name: s.explanation for name, s in scenarios.load().scenarios.items()}


@functools.cache
def _upstream_scenarios() -> frozenset[str]:
    return frozenset(
        name for name, s in scenarios.load().scenarios.items() if "upstream" in s.dependencies
    )


@functools.cache
def _client_profile() -> scenarios.Profile | None:
    return scenarios.load().profiles.get(CLIENT_PROFILE)


@functools.cache
def _client_profile_targets() -> tuple[str, ...]:
    """The targets the client profile selects of today's catalogue, by name for the page."""
    profile = _client_profile()
    return profile.targets.pick(_catalogue().targets) if profile else ()
