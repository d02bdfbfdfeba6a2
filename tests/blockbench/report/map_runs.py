"""Synthetic runs with a decision map and the peers' replications, with catalogue entries
(blockbench.load.scenarios' MapCell, DecisionMap, PeerFigure, Replication) made for them, that
the report reads through blockbench.report.catalogued.

Every level is copied from a synthetic io-sleep level of the same target (tests/blockbench/
synthetic.py) with the rate the test gives, so the answers the pages must find are known.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Collection, Sequence

import pytest

from blockbench.load.scenarios import DecisionMap as DecisionMap
from blockbench.load.scenarios import MapCell as MapCell
from blockbench.load.scenarios import PeerFigure, Replication
from blockbench.report import catalogued
from blockbench.results import Cell, Flag, Run
from blockbench.results.aggregates import aggregate
from tests.blockbench.synthetic import make_run

MAP_TARGETS = (
    "flask-sync",
    "flask-gthread",
    "flask-gevent",
    "starlette-uvicorn",
    "flask-a2wsgi",
    "starlette-a2wsgi",
)
WAITS = (0, 5, 20, 100, 500)
CPUS = (0.0, 0.5, 2.0, 10.0)
LEVELS = (100, 1000)
EFFICIENCY = 0.9
# What a server adds to a request's CPU, measured, over the handler's nominal work.
OVERHEAD_MS = 0.4


def decision_map(waits: Sequence[int] = WAITS, cpus: Sequence[float] = CPUS) -> DecisionMap:
    return DecisionMap(
        name="decision",
        title="The decision map",
        explanation="Each request spends some CPU, then waits.",
        waits_ms=tuple(waits),
        cpu_ms=tuple(cpus),
        ns_per_unit=80.0,
        cells=tuple(
            MapCell(f"map-{wait}ms-{cpu:g}ms", wait, cpu, round(cpu * 1e6 / 80.0))
            for cpu in cpus
            for wait in waits
        ),
    )


PATERSON = Replication(
    name="paterson",
    title="Cal Paterson, Async Python is not faster (2020)",
    url="https://calpaterson.com/async-python-is-not-faster.html",
    workload="a primary-key lookup, no wait",
    scenario="paterson",
    users=100,
    unit="req/s",
    figures=(
        PeerFigure("Flask", "Gunicorn", "processes", 3473.0, "flask"),
        PeerFigure("Starlette", "Uvicorn", "event-loop", 4952.0, "starlette"),
        PeerFigure("Bottle", "uWSGI", "processes", 5497.0, None),
    ),
    finding="sync frameworks served more than async ones",
)
GRINBERG = Replication(
    name="grinberg",
    title="Miguel Grinberg, Ignore all web performance benchmarks (2020)",
    url="https://blog.miguelgrinberg.com/post/ignore-all-web-performance-benchmarks",
    workload="pg_sleep(0.02) and a primary-key lookup",
    scenario="grinberg",
    users=100,
    unit="relative throughput",
    figures=(
        PeerFigure("Flask", "Gunicorn", "processes", 1.0, "flask"),
        PeerFigure("Flask", "Gunicorn gevent", "green-threads", 4.0, "flask"),
        PeerFigure("Starlette", "Uvicorn", "event-loop", 3.0, "starlette"),
    ),
    finding="async frameworks served more than sync ones",
)
REPLICATION_WAITS = {"paterson": 0.0, "grinberg": 20.0}

# A rate for (cell, target, users): req/s, or None where the level was not measured.
Rate = Callable[[MapCell, str, int], float | None]


# At 100 users the event loop wins from this wait (ms) on each CPU row; never on the last.
FROM_WAIT = {0.0: 5, 0.5: 20, 2.0: 100, 10.0: math.inf}
BLOCKING = {"flask-sync": 100.0, "flask-gthread": 120.0, "flask-a2wsgi": 80.0}


def known(cell: MapCell, target: str, users: int) -> float | None:
    """Blocking targets flat; flask-gevent just under the best of them; the event loop 3x the
    best blocking target from FROM_WAIT on (everywhere at 1,000 users), half of it below."""
    if target in BLOCKING:
        return BLOCKING[target]
    if target == "starlette-a2wsgi":
        return 90.0
    if target == "flask-gevent":
        return 110.0
    wins = users == 1000 or cell.wait_ms >= FROM_WAIT[cell.cpu_ms]
    return 360.0 if wins else 60.0


# Ours at 100 users: blocking first with no wait, the event loop far ahead with 20 ms.
OURS = {
    "paterson": {"flask-sync": 500.0, "starlette-uvicorn": 400.0, "flask-gevent": 300.0},
    "grinberg": {"flask-sync": 100.0, "starlette-uvicorn": 800.0, "flask-gevent": 700.0},
}


def install(monkeypatch: pytest.MonkeyPatch, item: DecisionMap) -> None:
    """The stand-in catalogue in the report's place: ``item`` and the two replications."""
    monkeypatch.setattr(catalogued, "maps", lambda: {item.name: item})
    monkeypatch.setattr(
        catalogued, "replications", lambda: {PATERSON.name: PATERSON, GRINBERG.name: GRINBERG}
    )


def make_map_run(
    item: DecisionMap,
    rate: Rate,
    *,
    invalid: Collection[tuple[str, str, int]] = (),
    generator: Collection[tuple[str, str, int]] = (),
    targets: Sequence[str] = MAP_TARGETS,
    levels: Sequence[int] = LEVELS,
    replications: dict[str, dict[str, float]] | None = None,
    ordinary: bool = True,
    run_id: str = "20250501-101500-map",
) -> Run:
    """A run of the map's cells at ``rate``, levels in ``invalid`` (scenario, target, users)
    flagged with failures, those in ``generator`` as held back by the load generator; with
    ``replications`` (scenario -> target -> req/s at 100 users) those scenarios too; with
    ``ordinary`` the synthetic io-sleep scenario as well, shown as a scenario."""
    base = make_run(
        run_id,
        targets=targets,
        scenarios={"io-sleep": 0.0},
        efficiency=defaultdict(lambda: EFFICIENCY),
        levels=levels,
        repeats=1,
    )
    cells: list[Cell] = list(base.cells) if ordinary else []
    for cell in item.cells:
        for template in base.cells:
            copied = _copy(
                template,
                cell.scenario,
                {lv.users: rate(cell, template.target, lv.users) for lv in template.levels},
                cell.cpu_ms + OVERHEAD_MS,
                invalid,
                float(cell.wait_ms),
                generator,
            )
            if copied is not None:
                cells.append(copied)
    for scenario, rates in (replications or {}).items():
        for template in base.cells:
            found = rates.get(template.target)
            copied = _copy(
                template,
                scenario,
                {100: found},
                0.6,
                invalid,
                REPLICATION_WAITS[scenario],
            )
            if copied is not None:
                cells.append(copied)
    scenarios = list(dict.fromkeys(cell.scenario for cell in cells))
    return base.model_copy(
        update={"scenarios": scenarios, "cells": cells, "aggregates": aggregate(cells)}
    )


def _copy(
    template: Cell,
    scenario: str,
    rates: dict[int, float | None],
    demand_ms: float,
    invalid: Collection[tuple[str, str, int]],
    wait_ms: float,
    generator: Collection[tuple[str, str, int]] = (),
) -> Cell | None:
    levels = []
    for level in template.levels:
        rps = rates.get(level.users)
        if rps is None:
            continue
        key = (scenario, template.target, level.users)
        flags: list[Flag] = ["failures_above_threshold"] if key in invalid else []
        if key in generator:
            flags += ["generator_saturated", "near_generator_ceiling"]
        levels.append(
            level.model_copy(
                update={
                    "scenario": scenario,
                    "rps": rps,
                    "ceiling_rps": rps / EFFICIENCY,
                    "efficiency": EFFICIENCY,
                    "target_cpu_demand_ms": demand_ms,
                    "flags": flags,
                }
            )
        )
    if not levels:
        return None
    return template.model_copy(
        update={
            "scenario": scenario,
            "levels": levels,
            "planned_levels": [level.users for level in levels],
            "service_time_ms": wait_ms,
        }
    )
