"""Synthetic runs with open-loop levels, for the open-loop page's tests.

Each level is copied from a synthetic io-sleep level of the same target (tests/blockbench/
synthetic.py) with the rate, the p99s and the flags the test gives, so the crossings and the
sentences the page must find are known.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from blockbench.results import Flag, LevelResult, OpenLoop, Percentiles, Run
from blockbench.results.aggregates import aggregate
from tests.blockbench.synthetic import make_run

HOLD_S = 5.0


@dataclass(frozen=True)
class Step:
    """One open-loop level: its rate, its p99 from the intended send and from the actual one."""

    rate: int
    p99_ms: float
    service_ms: float
    flags: tuple[Flag, ...] = ()
    late: int = 0


def percentiles(p99_ms: float, count: int) -> Percentiles:
    return Percentiles(
        count=count,
        p50=p99_ms / 2,
        p90=p99_ms * 0.8,
        p99=p99_ms,
        p999=p99_ms * 1.5,
        max=p99_ms * 2,
    )


def level(template: LevelResult, step: Step) -> LevelResult:
    scheduled = int(step.rate * HOLD_S)
    # What a queue past the knee serves: no more than the rate, less the later it gets.
    rps = step.rate * min(1.0, 1000.0 / max(step.p99_ms, 1000.0) * 4)
    return template.model_copy(
        update={
            "users": step.rate,
            "rps": rps,
            "flags": list(step.flags),
            "failure_rate": 0.05 if "failures_above_threshold" in step.flags else 0.0,
            "open_loop": OpenLoop(
                arrivals="poisson",
                offered_rps=float(step.rate),
                senders=max(64, step.rate),
                scheduled=scheduled,
                late=step.late,
                max_in_flight=max(1, round(step.rate * step.p99_ms / 2000)),
                corrected=percentiles(step.p99_ms, scheduled),
                service=percentiles(step.service_ms, scheduled),
            ),
        }
    )


def make_open_loop_run(
    curves: Mapping[str, Sequence[Step]],
    run_id: str = "20250601-101500-open-loop",
    repeats: int = 1,
) -> Run:
    """io-sleep on each target of ``curves`` at its steps, every repeat the same."""
    base = make_run(
        run_id, targets=tuple(curves), scenarios={"io-sleep": 0.0}, levels=(1,), repeats=repeats
    )
    cells = [
        cell.model_copy(
            update={
                "planned_levels": [step.rate for step in curves[cell.target]],
                "levels": [level(cell.levels[0], step) for step in curves[cell.target]],
            }
        )
        for cell in base.cells
    ]
    rates = sorted({step.rate for steps in curves.values() for step in steps})
    return base.model_copy(
        update={
            "profile": "open-loop",
            "levels": rates,
            "cells": cells,
            "aggregates": aggregate(cells),
        }
    )


LATE = 40
# Blocking processes cross between 20 and 40 req/s, their last rate's schedule falling behind;
# threads never cross at a valid rate, their highest failing; the event loop is over the
# objective at its lowest rate already (a stand-in, to have each case on one page).
HOCKEY: dict[str, tuple[Step, ...]] = {
    "flask-sync": (
        Step(10, 110.0, 105.0),
        Step(20, 150.0, 110.0),
        Step(40, 4000.0, 110.0),
        Step(80, 20000.0, 115.0),
        Step(160, 40000.0, 120.0, ("schedule_fell_behind",), LATE),
    ),
    "flask-gthread": (
        Step(10, 104.0, 103.0),
        Step(40, 108.0, 104.0),
        Step(160, 180.0, 150.0),
        Step(320, 420.0, 300.0),
        Step(640, 9000.0, 800.0, ("failures_above_threshold",)),
    ),
    "starlette-uvicorn": (
        Step(10, 1500.0, 1400.0),
        Step(40, 3000.0, 2900.0),
    ),
}
