"""Benchmark: which HTTP client each concurrency model should call the upstream with.

Each candidate client is called from the real app endpoint (/io/upstream?ms=100, the upstream
scenario) on the real target of its model, pinned like every run, at 10, 50, 250 and 1,000
requests in flight: successful req/s, the share of the ceiling, and the target's CPU per request
(its whole process tree's CPU over the level / requests served; each request is one call, so the
differences between rows of one model are the clients' own cost). The cheapest client of each
model that a well-informed user would pick is its default (blockbench/apps/upstream_clients.py).

    python benchmarks/http_clients.py [--levels 10,50,250,1000] [--hold 3]
        [--write docs/http-clients.md]

Prints a Markdown table (with the versions); --write puts it in a file between the markers
<!-- http-clients:begin --> and <!-- http-clients:end -->, leaving the rest of the file as it is.
"""

from __future__ import annotations

import dataclasses
import platform
import re
import sys
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from blockbench import results
from blockbench.apps import upstream_clients
from blockbench.engine import engine, environment, plan
from blockbench.load.selection import Selector
from blockbench.targets import catalogue

# Where a client runs, and every client that can run there.
CANDIDATES: dict[upstream_clients.Context, tuple[str, ...]] = {
    "async": ("aiohttp", "httpx-aiohttp", "httpx"),
    "threads": ("urllib3", "requests", "httpx", "pycurl"),
    "gevent": ("geventhttpclient", "urllib3", "requests", "httpx"),
}
MODEL: dict[upstream_clients.Context, str] = {
    "async": "event loop",
    "threads": "OS threads",
    "gevent": "gevent",
}
# The targets the http-client profile sets beside their httpx variants: one per context.
BASES = Selector(tags=("http-client",))
BEGIN, END = "<!-- http-clients:begin -->", "<!-- http-clients:end -->"


def targets() -> dict[str, upstream_clients.Context]:
    """For each context, the first base of the http-client profile whose endpoints run there."""
    found = catalogue.load(cores=1)
    chosen: dict[upstream_clients.Context, str] = {}
    for name in BASES.pick(found.targets):
        target = found.get(name)
        if target.variant_of is None:
            chosen.setdefault(target.upstream_context, name)
    missing = [context for context in CANDIDATES if context not in chosen]
    if missing:
        raise SystemExit(f"no base target tagged http-client runs in context {missing[0]!r}")
    return {chosen[context]: context for context in CANDIDATES}


def measure(target: str, client: str, shared: engine.RunOptions, console: Console) -> results.Run:
    """One client on one target, with the options every measurement shares."""
    options = dataclasses.replace(
        shared, targets=(target,), app_env={"UPSTREAM_CLIENT": client}, run_id=f"{target}--{client}"
    )
    machine = engine.Engine(options)
    run, folder = machine.new_run()
    with engine.Progress(total_s=machine.estimate(run), console=console) as progress:
        machine.progress = progress
        return machine.execute(run, folder).run


def cpu_us_per_request(level: results.LevelResult) -> float | None:
    cpu = level.target_resources.cpu_percent_mean if level.target_resources else None
    if cpu is None or level.rps <= 0:
        return None
    return cpu / 100 / level.rps * 1e6


def cell_text(level: results.LevelResult) -> str:
    cpu = cpu_us_per_request(level)
    text = f"{level.rps:,.0f} ({level.efficiency or 0:.2f}) · {cpu:,.0f} µs" if cpu else "—"
    if level.flags:
        text += " ⚠ " + ", ".join(flag.replace("_", " ") for flag in level.flags)
    return text


def table(runs: dict[tuple[str, str], results.Run], levels: list[int]) -> str:
    header = ["model", "client", "version", *[f"{level} in flight" for level in levels]]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for (target, client), run in runs.items():
        by_users = {level.users: level for cell in run.cells for level in cell.levels}
        context = catalogue.load(cores=1).get(target).upstream_context
        default = upstream_clients.DEFAULTS[context] == client
        name = f"**{client}** (default)" if default else client
        cells = [cell_text(by_users[lv]) if lv in by_users else "—" for lv in levels]
        version = run.cells[0].upstream_client_version or "?"
        lines.append("| " + " | ".join([MODEL[context], name, version, *cells]) + " |")
    return "\n".join(lines)


def document(runs: dict[tuple[str, str], results.Run], levels: list[int], command: str) -> str:
    any_run = next(iter(runs.values()))
    env = any_run.environment
    packages = ", ".join(
        f"{name} {version}"
        for name, version in sorted(env.packages.items())
        if name in {"starlette", "flask", "uvicorn", "gunicorn", "gevent", "uvloop", "httptools"}
    )
    return "\n".join(
        [
            f"Measured with `{command}` at commit `{environment.git_state(engine.REPO)[0]}`",
            f"on {env.cpu_model} ({env.cpu_count} CPUs; {env.pinning}), {platform.system()},",
            f"Python {env.python}; {packages}. Warm-up {any_run.warmup_s:g} s and hold",
            f"{any_run.hold_s:g} s per level, one run (quote ratios, not absolute times).",
            "",
            "Each cell: successful req/s (share of the ceiling, users / 100 ms) · the target's",
            "CPU per request, whose differences within a model are the clients' own cost.",
            "⚠ marks a level that is not a result (see the flag).",
            "",
            table(runs, levels),
        ]
    )


def write_between_markers(path: Path, text: str) -> None:
    current = path.read_text() if path.exists() else f"{BEGIN}\n{END}\n"
    if BEGIN not in current or END not in current:
        raise SystemExit(f"{path} has no {BEGIN} ... {END} markers to write between")
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.DOTALL)
    path.write_text(pattern.sub(lambda _: f"{BEGIN}\n{text}\n{END}", current))


# Click's plain help reflows the docstring's paragraphs; rich's keeps its line breaks and wraps
# them again.
app = typer.Typer(add_completion=False, rich_markup_mode=None)


@app.command(help=__doc__)
def main(
    levels: Annotated[str, typer.Option(help="Requests in flight per level, comma-separated.")] = (
        "10,50,250,1000"
    ),
    hold: Annotated[float, typer.Option(help="Seconds measured per level.")] = 3.0,
    warmup: Annotated[float, typer.Option(help="Seconds of warm-up per level.")] = 1.0,
    only: Annotated[str, typer.Option(help="Targets to measure, comma-separated.")] = "",
    results: Annotated[Path | None, typer.Option(help="Where the runs go (a temp dir).")] = None,
    write: Annotated[Path | None, typer.Option(help="Markdown file to put the table in.")] = None,
) -> None:
    try:
        users = plan.parse_levels(levels.split(","))
    except plan.PlanError as exc:
        raise typer.BadParameter(str(exc)) from None
    shared = engine.RunOptions(
        scenarios=("upstream",),
        levels=users,
        warmup=warmup,
        hold=hold,
        results_dir=results or Path(tempfile.mkdtemp()),
        measure_generator=False,
        command=tuple(sys.argv),
    )
    chosen = [name for name in only.split(",") if name]
    console = Console(stderr=True)
    runs = {
        (target, client): measure(target, client, shared, console)
        for target, context in targets().items()
        if not chosen or target in chosen
        for client in CANDIDATES[context]
    }
    command = "python benchmarks/http_clients.py " + " ".join(sys.argv[1:])
    text = document(runs, list(users), command.strip())
    print(text)
    if write:
        write_between_markers(write, text)


if __name__ == "__main__":
    app()
