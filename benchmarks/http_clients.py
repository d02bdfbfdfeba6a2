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

import argparse
import platform
import re
import sys
import tempfile
from pathlib import Path

from rich.console import Console

from blockbench import results
from blockbench.apps import upstream_clients
from blockbench.engine import engine, environment
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


def measure(target: str, client: str, args: argparse.Namespace, console: Console) -> results.Run:
    options = engine.RunOptions(
        scenarios=("upstream",),
        targets=(target,),
        levels=tuple(int(level) for level in args.levels.split(",")),
        warmup=args.warmup,
        hold=args.hold,
        app_env={"UPSTREAM_CLIENT": client},
        results_dir=args.results,
        run_id=f"{target}--{client}",
        measure_generator=False,
        command=tuple(sys.argv),
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--levels", default="10,50,250,1000")
    parser.add_argument("--hold", type=float, default=3.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--only", default="", help="targets to measure, comma-separated")
    parser.add_argument("--results", type=Path, default=Path(tempfile.mkdtemp()))
    parser.add_argument("--write", type=Path, help="Markdown file to put the table in")
    args = parser.parse_args()
    only = [name for name in args.only.split(",") if name]
    console = Console(stderr=True)
    runs = {
        (target, client): measure(target, client, args, console)
        for target, context in targets().items()
        if not only or target in only
        for client in CANDIDATES[context]
    }
    levels = [int(level) for level in args.levels.split(",")]
    command = "python benchmarks/http_clients.py " + " ".join(sys.argv[1:])
    text = document(runs, levels, command.strip())
    print(text)
    if args.write:
        write_between_markers(args.write, text)


if __name__ == "__main__":
    main()
