"""Judging stored levels: each level's bounds and validity flags from what it recorded, applied
as a level is measured, again to every level when a run ends or runs are merged, and the
conclusion of a run (its status and aggregates)."""

from __future__ import annotations

from blockbench.load import scenarios
from blockbench.results import bounds
from blockbench.results.aggregates import aggregate
from blockbench.results.schema import Cell, LevelResult, Run, rounded
from blockbench.results.validity import UtilisationLaw, flags_for


def judge(run: Run, cell: Cell, level: LevelResult, scenario: scenarios.Scenario) -> LevelResult:
    """The level with its bounds and its validity flags computed from what it measured."""
    found = bounds.for_level(run, cell, level, scenario)
    tightest = bounds.binding(found)
    demand = bounds.cpu_demand_s(level)
    level = level.model_copy(
        update={
            "bounds": found,
            "binding": tightest.name if tightest else None,
            "ceiling_rps": tightest.rps if tightest else None,
            "efficiency": rounded(bounds.efficiency(level.rps, found), 4),
            "target_cpu_demand_ms": rounded(demand * 1000 if demand else None, 3),
        }
    )
    flags = flags_for(
        successes=level.successes,
        failure_rate=level.failure_rate,
        rps=level.rps,
        generator_cpu=level.generator.cpu_percent_max,
        generator_ceiling_rps=run.generator_ceiling_rps,
        upstream=level.upstream,
        upstream_ceiling_rps=run.upstream_ceiling_rps,
        database=level.database,
        utilisation=UtilisationLaw.of(level, bounds.target_cores(run)),
        # A target the harness started is sampled; one given by URL may run anywhere.
        target_unsampled=not cell.external and level.target_resources is None,
        open_loop=level.open_loop,
    )
    return level.model_copy(update={"flags": flags})


def revalidate(run: Run, rules: str) -> Run:
    """Apply the current bounds and validity rules to every stored level, saying so if that
    changes any. A run recorded by an older blockbench is then judged like a new one.

    ``rules`` names the blockbench that judged, for that note (environment.blockbench_commit).
    """
    catalogue = scenarios.load()
    changed = 0
    cells = []
    for cell in run.cells:
        scenario = catalogue.scenario(cell.scenario)
        levels = []
        for level in cell.levels:
            judged = judge(run, cell, level, scenario)
            if judged != level:
                changed += 1
            levels.append(judged)
        cells.append(cell.model_copy(update={"levels": levels}))
    if not changed:
        return run
    note = (
        f"Bounds and validity re-computed with the rules of blockbench {rules}: "
        f"{changed} level(s) changed."
    )
    return run.model_copy(update={"cells": cells, "notes": [*run.notes, note]})


def finish(run: Run, *, interrupted: bool, rules: str, finished: str) -> Run:
    """The run as it ends: judged again by ``rules``, complete unless interrupted or missing
    levels, with its aggregates."""
    run = revalidate(run, rules)
    complete = not interrupted and not any(cell.missing_levels for cell in run.cells)
    return run.model_copy(
        update={
            "status": "complete" if complete else "partial",
            "finished": finished,
            "aggregates": aggregate(run.cells),
        }
    )
