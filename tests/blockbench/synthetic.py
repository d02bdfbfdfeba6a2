"""Synthetic but realistic runs for the report's and the engine's tests, built with the results
models themselves.

Two scenarios on three targets at three levels, two repeats, with the numbers a 2-core machine
gives (one core for the targets, one for Locust): io-sleep waits 100 ms, cpu burns 13 ms.
One level is not a result: starlette-uvicorn's 100 users on io-sleep saturate the generator.
Every level carries the bounds blockbench.results.bounds computes from its path, its target's caps
and the CPU demand measured on it, so what limits it changes as the users grow (flask-sync's
io-sleep is bound by the users at 1, by its worker processes from 20 on).

Until real results of ``blockbench run --profile tiny`` replace it, the stored fixture is this
module's output:  python -m tests.blockbench.synthetic tests/data/report
"""

from __future__ import annotations

import math
import random
import sys
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path

from blockbench.load import scenarios as catalogue_scenarios
from blockbench.load import stats
from blockbench.results import (
    FAILURE_THRESHOLD,
    Cap,
    Cell,
    Environment,
    Failures,
    Flag,
    Generator,
    Latency,
    LevelResult,
    Resources,
    Run,
    bounds,
    generator_saturated,
    save_run,
)
from blockbench.results.aggregates import aggregate
from blockbench.targets import catalogue

TARGETS = ("flask-sync", "flask-gthread", "starlette-uvicorn")
# Each scenario with the CPU work of a request in ms (none for waiting).
SCENARIOS = {"io-sleep": 0.0, "cpu": 13.0}
LEVELS = (1, 20, 100)
REPEATS = 2
CORES = 1
HOLD_S = 3.0
GENERATOR_RPS = 1450.0
UPSTREAM_CALLS_RPS = 4000.0
# The CPU a model spends around each request (ms): parsing, switching, waking up. It falls as
# the users grow, one wake-up serving more requests.
OVERHEAD_MS = {"processes": 0.9, "threads": 1.1, "green-threads": 0.5, "event-loop": 0.35}
# How close each target gets to its tightest bound, per scenario: a sync worker wastes nothing
# on waits, threads lose a little to the GIL, and on CPU work everyone pays for the switches.
EFFICIENCY = {
    ("io-sleep", "flask-sync"): 0.97,
    ("io-sleep", "flask-gthread"): 0.95,
    ("io-sleep", "starlette-uvicorn"): 0.96,
    ("cpu", "flask-sync"): 0.93,
    ("cpu", "flask-gthread"): 0.85,
    ("cpu", "starlette-uvicorn"): 0.95,
}
PACKAGES = {"flask": "3.1.3", "gunicorn": "27.0.1", "locust": "2.47.0", "starlette": "1.10.0"}

# The http-client profile in small: upstream on a blocking target, an event loop, and the event
# loop's httpx variant, whose client costs so much CPU per call that it reaches a third of the
# bound. The event loop's 100 users saturate the generator, so they are compared at 20.
CLIENT_TARGETS = ("flask-gthread", "starlette-uvicorn", "starlette-uvicorn-httpx")
CLIENT_SCENARIOS = {"upstream": 0.0}
CLIENT_EFFICIENCY = {
    ("upstream", "flask-gthread"): 0.94,
    ("upstream", "starlette-uvicorn"): 0.95,
    ("upstream", "starlette-uvicorn-httpx"): 0.31,
}
# The CPU work (ms) of the scenarios of the full profile that burn some, for make_large_run.
LARGE_WORK_MS = {"cpu": 13.0, "cpu-offload": 13.0, "mixed": 5.0}
CLIENTS = {
    "flask-gthread": ("urllib3", "2.5.0"),
    "starlette-uvicorn": ("aiohttp", "3.14.5"),
    "starlette-uvicorn-httpx": ("httpx", "0.28.1"),
}


def make_run(
    run_id: str = "20250301-101500-synthetic",
    *,
    seed: int = 1,
    speed: Mapping[tuple[str, str], float] | None = None,
    packages: Mapping[str, str] | None = None,
    rename: Mapping[str, str] | None = None,
    repeats: int = REPEATS,
    targets: Sequence[str] = TARGETS,
    scenarios: Mapping[str, float] = SCENARIOS,
    efficiency: Mapping[tuple[str, str], float] = EFFICIENCY,
    clients: Mapping[str, tuple[str, str]] | None = None,
    levels: Sequence[int] = LEVELS,
) -> Run:
    """A finished run; ``speed`` scales a (scenario, target)'s throughput, as an upgrade would.

    ``rename`` gives targets other names in the results, e.g. hostile ones for escaping tests.
    ``clients`` gives targets the (HTTP client, version) their cells record.
    """
    rng = random.Random(seed)
    known = catalogue.load(cores=CORES)
    paths = {
        name: bounds.RequestPath.of(catalogue_scenarios.load().scenarios[name])
        for name in scenarios
    }
    calls_upstream = any(path.upstream_calls for path in paths.values())
    upstream_rps = UPSTREAM_CALLS_RPS if calls_upstream else None
    names = dict(rename or {})
    cells: list[Cell] = []
    for scenario, work_ms in scenarios.items():
        for name in targets:
            target = known.get(name)
            factor = (speed or {}).get((scenario, name), 1.0) * efficiency[scenario, name]
            client, version = (clients or {}).get(name, (None, None))
            caps = [
                Cap(name=c.name, value=c.value, where=c.per, kind=c.kind) for c in target.caps()
            ]
            setting = bounds.Setting(
                caps=caps,
                cores=CORES,
                model=target.model,
                generator_rps=GENERATOR_RPS,
                upstream_calls_rps=upstream_rps,
            )
            for repeat in range(1, repeats + 1):
                cell = Cell(
                    scenario=scenario,
                    target=names.get(name, name),
                    repeat=repeat,
                    url=f"http://127.0.0.1:{8901 + list(targets).index(name)}",
                    model=target.model,
                    capacity=target.capacity,
                    service_time_ms=paths[scenario].wait_s * 1000,
                    cpu_bound=work_ms > 0,
                    caps=caps,
                    upstream_client=client,
                    upstream_client_version=version,
                    planned_levels=list(levels),
                )
                measured = [
                    _level(cell, users, factor, work_ms, paths[scenario], setting, rng)
                    for users in levels
                ]
                cells.append(cell.model_copy(update={"levels": measured}))
    return Run(
        run_id=run_id,
        status="complete",
        created=f"{run_id[:4]}-{run_id[4:6]}-{run_id[6:8]}T10:15:00+00:00",
        finished=f"{run_id[:4]}-{run_id[4:6]}-{run_id[6:8]}T10:19:42+00:00",
        command=["blockbench", "run", "--profile", "synthetic", "--repeat", str(repeats)],
        profile="synthetic",
        scenarios=list(scenarios),
        targets=[names.get(name, name) for name in targets],
        levels=list(levels),
        warmup_s=1.0,
        hold_s=HOLD_S,
        repeat=repeats,
        generator_processes=1,
        generator_ceiling_rps=GENERATOR_RPS,
        upstream_ceiling_rps=upstream_rps,
        environment=Environment(
            cpu_model="Intel(R) Xeon(R) CPU @ 2.20GHz",
            cpu_count=2,
            os="Linux 6.1.0 (Debian GNU/Linux 12)",
            python="3.11.7",
            packages=dict(packages or PACKAGES),
            git_commit="0123456789abcdef0123456789abcdef01234567",
            git_dirty=False,
            target_cpus=[0],
            generator_cpus=[1],
            pinning="targets on CPU 0, load generator on CPU 1",
        ),
        cells=cells,
        aggregates=aggregate(cells),
        notes=["Synthetic results for the report tests: not a measurement."],
    )


def make_client_run(
    run_id: str = "20250315-101500-clients",
    *,
    efficiency: Mapping[tuple[str, str], float] = CLIENT_EFFICIENCY,
    clients: Mapping[str, tuple[str, str]] = CLIENTS,
    targets: Sequence[str] = CLIENT_TARGETS,
) -> Run:
    """A run of upstream with a target and its httpx variant, as the http-client profile makes."""
    return make_run(
        run_id,
        targets=targets,
        scenarios=CLIENT_SCENARIOS,
        efficiency=efficiency,
        clients=clients,
    )


def make_large_run(
    run_id: str = "20250401-101500-large", *, targets: int = 20, repeats: int = REPEATS
) -> Run:
    """A run as large as the full profile and more: every scenario at the full profile's levels
    on every catalogue target, each calling the upstream with its model's client (httpx for the
    httpx variants), then copies of them under other names up to ``targets``, as the targets
    still to come (issue 13) will make a run."""
    known = [target.name for target in catalogue.load(cores=CORES).targets]
    full = catalogue_scenarios.load().profile("full")
    run = make_run(
        run_id,
        repeats=repeats,
        targets=known,
        scenarios={name: LARGE_WORK_MS.get(name, 0.0) for name in full.scenarios},
        efficiency=defaultdict(lambda: 0.9),
        clients={
            name: ("httpx", "0.28.1") if name.endswith("-httpx") else ("aiohttp", "3.14.5")
            for name in known
        },
        levels=full.levels,
    )
    extra = [f"{name}-{copy}" for copy in range(2, 9) for name in known][: targets - len(known)]
    copies = [
        cell.model_copy(
            update={
                "target": name,
                "levels": [level.model_copy(update={"target": name}) for level in cell.levels],
            }
        )
        for name in extra
        for cell in run.cells
        if cell.target == name.rsplit("-", 1)[0]
    ]
    cells = run.cells + copies
    return run.model_copy(
        update={"targets": run.targets + extra, "cells": cells, "aggregates": aggregate(cells)}
    )


def _level(
    cell: Cell,
    users: int,
    factor: float,
    work_ms: float,
    path: bounds.RequestPath,
    setting: bounds.Setting,
    rng: random.Random,
) -> LevelResult:
    demand_ms = (work_ms + OVERHEAD_MS[cell.model or "processes"]) * (1 + 0.3 / users)
    found = bounds.level_bounds(path, bounds.Measured(users, demand_ms / 1000), setting)
    tightest = bounds.binding(found)
    assert tightest is not None
    rps = tightest.rps * factor * rng.uniform(0.985, 1.015)
    requests = round(rps * HOLD_S)
    # Little's law again: with `users` always in flight, each waits users / rps seconds.
    latency_ms = max(users / rps * 1000, cell.service_time_ms + demand_ms * 1.02)
    histogram = _histogram(latency_ms, requests, rng)
    generator_cpu = round(8 + rps * 0.095, 1)
    saturated = generator_saturated(generator_cpu)
    failed = 0
    flags: list[Flag] = []
    if failed / requests > FAILURE_THRESHOLD:
        flags.append("failures_above_threshold")
    if saturated:
        flags.append("generator_saturated")
    workers = 3 if cell.model != "event-loop" else 1
    in_flight = users if cell.capacity is None else min(users, cell.capacity)
    per_request = {"processes": 0.0, "threads": 0.12}.get(cell.model or "", 0.03)
    served = round((requests - failed) / HOLD_S, 2)
    # The utilisation law holds: the target's CPU is what it served times its demand.
    cpu_percent = round(min(100.0 * CORES, requests / HOLD_S * demand_ms / 10), 1)
    return LevelResult(
        scenario=cell.scenario,
        target=cell.target,
        repeat=cell.repeat,
        users=users,
        window_s=HOLD_S,
        requests=requests,
        successes=requests - failed,
        rps=served,
        latency=Latency(
            p50=stats.percentile(histogram, 0.5),
            p90=stats.percentile(histogram, 0.9),
            p99=stats.percentile(histogram, 0.99),
            max=float(max(histogram)),
            mean=round(stats.mean(histogram) or 0, 2),
        ),
        failures=Failures(
            total=failed,
            timeouts=0,
            server_errors=0,
            client_errors=0,
            connection_errors=0,
            other=0,
        ),
        failure_rate=failed / requests,
        ceiling_rps=tightest.rps,
        efficiency=round(served / tightest.rps, 4),
        bounds=found,
        binding=tightest.name,
        target_cpu_demand_ms=round(demand_ms, 3),
        target_cpu_utilisation=round(cpu_percent / (100 * CORES) * rng.uniform(0.98, 1.02), 4),
        target_resources=Resources(
            samples=round(HOLD_S * 10),
            cpu_percent_mean=cpu_percent,
            cpu_percent_max=round(min(100.0 * CORES, cpu_percent * 1.1), 1),
            rss_mib_max=round((workers + 1) * 31.5 + in_flight * per_request, 1),
            threads_max=(workers + 1) + (in_flight if cell.model == "threads" else 0),
            processes_max=workers + 1,
        ),
        generator=Generator(processes=1, cpu_percent_max=generator_cpu, saturated=saturated),
        flags=flags,
        histogram=histogram,
    )


def without_bounds(run: Run) -> Run:
    """The run as recorded before levels had bounds: none, and so no ceiling or binding."""
    cleared: dict[str, object] = {
        "bounds": [],
        "binding": None,
        "ceiling_rps": None,
        "efficiency": None,
    }
    cells = [
        cell.model_copy(
            update={"levels": [level.model_copy(update=cleared) for level in cell.levels]}
        )
        for cell in run.cells
    ]
    aggregates = [
        a.model_copy(update={"binding": None, "ceiling_rps": None, "efficiency": None})
        for a in run.aggregates
    ]
    return run.model_copy(update={"cells": cells, "aggregates": aggregates})


def _histogram(median_ms: float, count: int, rng: random.Random) -> dict[int, int]:
    histogram: dict[int, int] = {}
    for _ in range(count):
        value = _locust_bucket(median_ms * math.exp(rng.gauss(0, 0.08)))
        histogram[value] = histogram.get(value, 0) + 1
    return dict(sorted(histogram.items()))


def _locust_bucket(ms: float) -> int:
    """Locust's own rounding of response times (about two significant digits)."""
    if ms < 100:
        return round(ms)
    digits = -1 if ms < 1000 else -2 if ms < 10000 else -3
    return int(round(ms, digits))


def write(folder: Path) -> list[Path]:
    """The stored fixture: a run, and the same run after an "upgrade" for compare."""
    before = make_run("20250301-101500-synthetic")
    after = make_run(
        "20250308-101500-synthetic",
        seed=2,
        speed={("io-sleep", "flask-gthread"): 0.8, ("cpu", "starlette-uvicorn"): 1.04},
        packages={**PACKAGES, "gunicorn": "27.1.0"},
    )
    written = []
    for run in (before, after):
        save_run(folder / run.run_id, run)
        written.append(folder / run.run_id)
    return written


if __name__ == "__main__":
    for path in write(Path(sys.argv[1])):
        print(path)
