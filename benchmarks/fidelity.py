"""Benchmark: how close the harness gets to the Little's-law ceiling where nothing else limits.

Runs io-sleep on the catalogue's first event-loop target (unbounded: ceiling users / 100 ms)
and its first thread-pool target (ceiling min(users, workers x threads) / 100 ms) at every
level of the full profile, and prints each level's efficiency, marking levels where the load
generator was saturated. The target is efficiency >= 0.95 wherever the generator is not
saturated.

    python benchmarks/fidelity.py [--levels 1,10,50,100,250,500,1000] [--hold 5] [--processes 1]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from blockbench.engine import engine, plan
from blockbench.load.selection import Selector
from blockbench.targets import catalogue

# One server whose only ceiling is the users, and one capped by its threads.
KINDS = (Selector(models=("event-loop",)), Selector(models=("threads",)))
GOAL = 0.95


def targets() -> tuple[str, ...]:
    found = catalogue.load(cores=1).targets
    return tuple(kind.pick(found)[0] for kind in KINDS)


# Click's plain help reflows the docstring's paragraphs; rich's keeps its line breaks and wraps
# them again.
app = typer.Typer(add_completion=False, rich_markup_mode=None)


@app.command(help=__doc__)
def main(
    levels: Annotated[str, typer.Option(help="Users per level, comma-separated.")] = (
        "1,10,50,100,250,500,1000"
    ),
    hold: Annotated[float, typer.Option(help="Seconds measured per level.")] = 5.0,
    warmup: Annotated[float, typer.Option(help="Seconds of warm-up per level.")] = 2.0,
    processes: Annotated[int, typer.Option(min=1, help="Locust processes.")] = 1,
    results: Annotated[Path | None, typer.Option(help="Where the run goes (a temp dir).")] = None,
) -> None:
    try:
        users = plan.parse_levels(levels.split(","))
    except plan.PlanError as exc:
        raise typer.BadParameter(str(exc)) from None
    options = engine.RunOptions(
        profile="full",
        scenarios=("io-sleep",),
        targets=targets(),
        levels=users,
        warmup=warmup,
        hold=hold,
        processes=processes,
        results_dir=results or Path(tempfile.mkdtemp()),
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
    app()
