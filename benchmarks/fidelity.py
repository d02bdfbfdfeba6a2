"""Benchmark: how close the harness gets to the Little's-law ceiling where nothing else limits.

Runs io-sleep on the catalogue's first event-loop target (unbounded: ceiling users / 100 ms)
and its first thread-pool target (ceiling min(users, workers x threads) / 100 ms) at every
level of the full profile, and prints each level's efficiency, marking levels where the load
generator was saturated. The target is efficiency >= 0.95 wherever the generator is not
saturated.

    python benchmarks/fidelity.py [--levels 1,10,50,100,250,500,1000] [--hold 5] [--processes 1]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

from blockbench.engine import engine
from blockbench.load.selection import Selector
from blockbench.targets import catalogue

# One server whose only ceiling is the users, and one capped by its threads.
KINDS = (Selector(models=("event-loop",)), Selector(models=("threads",)))
GOAL = 0.95


def targets() -> tuple[str, ...]:
    found = catalogue.load(cores=1).targets
    return tuple(kind.pick(found)[0] for kind in KINDS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--levels", default="1,10,50,100,250,500,1000")
    parser.add_argument("--hold", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--results", type=Path, default=Path(tempfile.mkdtemp()))
    args = parser.parse_args()
    options = engine.RunOptions(
        profile="full",
        scenarios=("io-sleep",),
        targets=targets(),
        levels=tuple(int(level) for level in args.levels.split(",")),
        warmup=args.warmup,
        hold=args.hold,
        processes=args.processes,
        results_dir=args.results,
        run_id="fidelity",
        command=tuple(sys.argv),
    )
    console = Console()
    machine = engine.Engine(options)
    run, folder = machine.new_run()
    with engine.Progress(total_s=machine.estimate(run), console=console) as progress:
        machine.progress = progress
        run = machine.execute(run, folder).run
    table = Table(title=f"io-sleep fidelity (results in {folder})")
    for column in ("target", "users", "req/s", "ceiling", "efficiency", "generator CPU", "verdict"):
        table.add_column(column, justify="left" if column == "target" else "right")
    for cell in run.cells:
        for level in cell.levels:
            saturated = level.generator.saturated
            ok = level.efficiency is not None and level.efficiency >= GOAL
            verdict = "generator saturated" if saturated else ("ok" if ok else "BELOW GOAL")
            table.add_row(
                cell.target,
                str(level.users),
                f"{level.rps:.1f}",
                f"{level.ceiling_rps or 0:.1f}",
                f"{level.efficiency or 0:.3f}",
                f"{level.generator.cpu_percent_max or 0:.0f}%",
                verdict,
            )
    console.print(table)
    console.print(f"Generator ceiling: {run.generator_ceiling_rps} req/s")


if __name__ == "__main__":
    main()
