"""What a run's page shows, computed from the run; templates/run.html lays it out."""

from __future__ import annotations

import functools
import shlex
from dataclasses import dataclass
from typing import Any

from blockbench import catalogue, ceiling, charts, palette, scenarios
from blockbench.charts import Chart
from blockbench.palette import Style
from blockbench.points import Point, ScenarioResults, Series
from blockbench.points import scenarios as by_scenario
from blockbench.results import (
    FAILURE_THRESHOLD,
    GENERATOR_CEILING_SHARE,
    GENERATOR_CPU_LIMIT,
    Run,
)
from blockbench.verdict import BLOCKING_MODELS, Verdict, verdict

# Where a cap applies, as the catalogue records it (Cap.where), in words.
CAP_SCOPES = {"target": "in all", "worker": "per worker", "process": "per process"}


@dataclass(frozen=True)
class Plateau:
    """A target's caps next to the throughput they allow and the throughput it reached."""

    series: Series
    # capacity / service time: where the caps flatten the line; None when nothing caps it.
    predicted_rps: float | None
    peak: Point | None


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
    anchor: str
    explanation: str | None
    charts: tuple[Chart, ...]
    plateaus: tuple[Plateau, ...]
    memory: tuple[Memory, ...]


def context(run: Run) -> dict[str, Any]:
    looks = palette.styles(run.targets + [cell.target for cell in run.cells])
    return {
        "run": run,
        "sections": sections(run, looks),
        "looks": looks,
        "command": shlex.join(run.command),
        "cores": target_cores(run),
        "errors": sorted({(c.scenario, c.target, c.repeat, c.error) for c in run.cells if c.error}),
        "targets": _catalogue_targets(),
        "blocking_models": sorted(BLOCKING_MODELS),
        "cap_scopes": CAP_SCOPES,
        "failure_threshold": FAILURE_THRESHOLD,
        "generator_cpu_limit": GENERATOR_CPU_LIMIT,
        "generator_ceiling_share": GENERATOR_CEILING_SHARE,
    }


def sections(run: Run, looks: dict[str, Style]) -> tuple[Section, ...]:
    cores = target_cores(run)
    found = []
    for number, results in enumerate(by_scenario(run), start=1):
        # Numbered, not named: a scenario name is text from a file, an id must stay an id.
        anchor = f"scenario-{number}"
        found.append(
            Section(
                results=results,
                verdict=verdict(results),
                anchor=anchor,
                explanation=_scenario_explanations().get(results.name),
                charts=charts.scenario_charts(results, looks, anchor, run.generator_ceiling_rps),
                plateaus=tuple(_plateau(series, cores) for series in results.series),
                memory=tuple(_memory(series) for series in results.series),
            )
        )
    return tuple(found)


def target_cores(run: Run) -> int:
    """The cores the targets could use: their CPU set when pinned, else the machine's."""
    cpus = run.environment.target_cpus
    return len(cpus) if cpus else run.environment.cpu_count


def _plateau(series: Series, cores: int) -> Plateau:
    predicted = None
    if series.capacity is not None:
        predicted = ceiling.ceiling_rps(
            series.capacity,
            series.capacity,
            series.cell.service_time_ms / 1000,
            cores if series.cell.cpu_bound else None,
        )
    elif series.cell.cpu_bound:
        predicted = ceiling.ceiling_rps(cores, None, series.cell.service_time_ms / 1000)
    return Plateau(series, predicted, series.peak)


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
def _catalogue_targets() -> dict[str, TargetNote]:
    return {
        t.name: TargetNote(t.name, t.model, t.server, t.explanation)
        for t in catalogue.load(cores=1).targets
    }


@functools.cache
def _scenario_explanations() -> dict[str, str]:
    return {name: s.explanation for name, s in scenarios.load().scenarios.items()}
