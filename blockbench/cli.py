"""The ``blockbench`` command line: one subcommand per job, each implemented in its own module."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

# Only what every image has: the bench image runs this CLI without the upstream's uvloop and
# httptools, so the upstream module is imported by its command alone.
from blockbench.apps.settings import DEFAULT_UPSTREAM_HOST, DEFAULT_UPSTREAM_PORT
from blockbench.errors import BlockbenchError

# Exit status of an expected failure, as for a usage error: the input must change.
USER_ERROR = 2


class _Commands(TyperGroup):
    """Every command, run so that an expected failure is one line, not a traceback."""

    # ctx is typer's own vendored click Context, a private type: Any stands for it.
    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except BlockbenchError as exc:
            typer.echo(f"blockbench: {exc}", err=True)
            raise typer.Exit(USER_ERROR) from None


app = typer.Typer(
    cls=_Commands,
    help="Measure when non-blocking (ASGI) Python servers beat blocking (WSGI) ones.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _group() -> None:
    """Measure when non-blocking (ASGI) Python servers beat blocking (WSGI) ones."""


@app.command()
def upstream(
    host: str = typer.Option(DEFAULT_UPSTREAM_HOST, help="Address to listen on."),
    port: int = typer.Option(DEFAULT_UPSTREAM_PORT, help="Port to listen on."),
    processes: int = typer.Option(1, min=1, help="Event-loop processes sharing the port."),
) -> None:
    """Run the slow upstream service (GET /delay?ms=N answers after N ms)."""
    from blockbench.upstream import server as upstream_service

    upstream_service.main(["--host", host, "--port", str(port), "--processes", str(processes)])


CatalogueOption = Annotated[
    Path | None,
    typer.Option(help="A target catalogue file instead of blockbench/targets/targets.toml."),
]


@app.command()
def targets(catalogue: CatalogueOption = None) -> None:
    """List the target catalogue: each target's concurrency model and capacity."""
    from rich.console import Console

    from blockbench.targets import serve as serving

    found, budget = serving.load(catalogue)
    Console().print(serving.catalogue_table(found, budget))


@app.command()
def serve(
    names: Annotated[
        list[str] | None, typer.Argument(metavar="TARGET...", help="Targets to start.")
    ] = None,
    all_targets: Annotated[bool, typer.Option("--all", help="Start every target.")] = False,
    base_port: Annotated[
        int | None,
        typer.Option(
            help="Stable ports: the upstream on it, each target on base + 1 + its position in "
            "the catalogue. Default: free ports."
        ),
    ] = None,
    log_dir: Annotated[Path, typer.Option(help="Where each run's log folder goes.")] = Path(
        ".blockbench/logs"
    ),
    catalogue: CatalogueOption = None,
) -> None:
    """Start targets and the upstream on loopback until Ctrl-C; then stop every process."""
    from blockbench.targets import serve as serving

    found, budget = serving.load(catalogue)
    if bool(names) == all_targets:
        raise serving.ServeError(
            "name the targets to start, or give --all; `blockbench targets` lists them"
        )
    chosen = found.targets if all_targets else found.select(names or [])
    code = serving.serve(found, chosen, budget, base_port=base_port, log_root=log_dir)
    raise typer.Exit(code)


@app.command()
def compose(
    check: Annotated[
        bool, typer.Option("--check", help="Write nothing; fail if a file is out of date.")
    ] = False,
    out: Annotated[
        Path, typer.Option("--out", help="The checkout's root, where the compose files are.")
    ] = Path("."),
    catalogue: CatalogueOption = None,
) -> None:
    """Write docker-compose.yml and its override files from the target catalogue."""
    from blockbench.targets import catalogue as catalogue_file
    from blockbench.targets import compose as generator

    # Compose runs each target with the cores of its container (APP_CPUS), not this machine's.
    found = catalogue_file.load(catalogue, cores=1)
    files = generator.stale(found, out) if check else generator.write(found, out)
    if check and files:
        typer.secho(
            f"out of date: {', '.join(files)}; run `{generator.COMMAND}`", fg="red", err=True
        )
        raise typer.Exit(1)
    if files:
        typer.echo(f"written: {', '.join(files)}")
    else:
        typer.echo(f"up to date: {', '.join(generator.FILES)}")


def _names(values: list[str] | None) -> tuple[str, ...]:
    """Names given as repeated options or comma lists, or both."""
    return tuple(name for value in values or [] for name in value.split(",") if name)


@app.command()
def run(
    profile: Annotated[
        str | None, typer.Option(help="quick (the default), full or tiny: see scenarios.toml.")
    ] = None,
    scenarios: Annotated[
        list[str] | None, typer.Option(help="Only these scenarios (comma list or repeated).")
    ] = None,
    targets: Annotated[
        list[str] | None, typer.Option(help="Only these targets (comma list or repeated).")
    ] = None,
    levels: Annotated[
        str | None, typer.Option(help="Concurrency levels instead of the profile's: 1,10,50.")
    ] = None,
    warmup: Annotated[float | None, typer.Option(help="Seconds of warm-up per level.")] = None,
    hold: Annotated[float | None, typer.Option(help="Seconds measured per level.")] = None,
    repeat: Annotated[int, typer.Option(help="Repeats, interleaved across targets.")] = 1,
    processes: Annotated[int, typer.Option(help="Locust processes driving the load.")] = 1,
    target_url: Annotated[
        list[str] | None,
        typer.Option(help="NAME=URL: measure a server already running (e.g. in compose)."),
    ] = None,
    target_cores: Annotated[
        int | None,
        typer.Option(help="Cores the --target-url servers have (their capacity depends on it)."),
    ] = None,
    upstream_url: Annotated[
        str | None, typer.Option(help="Use this upstream service instead of starting one.")
    ] = None,
    app_env: Annotated[
        list[str] | None,
        typer.Option(help="KEY=VALUE for every target's app, e.g. UPSTREAM_CLIENT=httpx."),
    ] = None,
    database_url: Annotated[
        str | None, typer.Option(help="PostgreSQL for the db scenario (default: $DATABASE_URL).")
    ] = None,
    results_dir: Annotated[Path, typer.Option("--results", help="Where runs are written.")] = Path(
        "results"
    ),
    reports_dir: Annotated[
        Path, typer.Option("--reports", help="Where the report pages are built.")
    ] = Path("reports"),
    resume: Annotated[
        str | None, typer.Option(help="Continue an unfinished run, by its id.")
    ] = None,
    run_id: Annotated[
        str | None, typer.Option(help="Name the run (default: time-profile).")
    ] = None,
    report: Annotated[bool, typer.Option(help="Build the report pages at the end.")] = True,
) -> None:
    """Measure every scenario of a profile on every target, level by level; then report."""
    import sys

    from rich.console import Console

    from blockbench import results
    from blockbench.engine import engine, plan, summary

    console = Console(stderr=True)
    options = engine.RunOptions(
        profile=profile,
        scenarios=_names(scenarios),
        targets=_names(targets),
        levels=plan.parse_levels(_names([levels] if levels else [])),
        warmup=warmup,
        hold=hold,
        repeat=repeat,
        processes=processes,
        target_urls=plan.parse_target_urls(target_url or []),
        target_cores=target_cores,
        upstream_url=upstream_url,
        app_env=plan.parse_app_env(app_env or []),
        database_url=database_url,
        results_dir=results_dir,
        run_id=run_id,
        command=tuple(sys.argv),
    )
    if processes < 1:
        raise plan.PlanError(f"--processes must be 1 or more, got {processes}")
    if target_cores is not None and target_cores < 1:
        raise plan.PlanError(f"--target-cores must be 1 or more, got {target_cores}")
    machine = engine.Engine(options)
    if resume:
        started = results.resume(results_dir, resume)
        folder = results_dir / resume
    else:
        started, folder = machine.new_run()
    console.print(f"Run {started.run_id}: results in {folder}")
    total = machine.estimate(started)
    with engine.Progress(enabled=console.is_terminal, total_s=total, console=console) as bar:
        machine.progress = bar
        outcome = machine.execute(started, folder)
    summary.show(outcome.run, console)
    if report:
        page = machine.build_report(outcome.run, reports_dir)
        if page is not None:
            console.print(f"Report: {page}")
    if outcome.interrupted:
        again = resume or started.run_id
        console.print(f"Interrupted: finished levels are kept; continue with --resume {again}")
        raise typer.Exit(130)
    if any(cell.error for cell in outcome.run.cells):
        raise typer.Exit(1)


ResultsOption = Annotated[
    Path, typer.Option("--results", help="Where the runs are: results/<run-id>/run.json.")
]
OutOption = Annotated[Path, typer.Option("--out", help="Where the report pages go.")]


@app.command()
def report(
    runs: Annotated[
        list[str] | None,
        typer.Argument(metavar="RUN...", help="Run ids or folders. Default: every run."),
    ] = None,
    results_dir: ResultsOption = Path("results"),
    out: OutOption = Path("reports"),
) -> None:
    """Build the static report site: a page per run, and an index of every run with a page."""
    from blockbench.report import site

    page = site.build_site(results_dir, out, runs)
    typer.echo(f"Report: {page}\nIndex:  {out / site.PAGE}")


@app.command()
def merge(
    base: Annotated[
        str, typer.Argument(help="The run to keep, but for the re-measured scenarios.")
    ],
    updates: Annotated[
        list[str], typer.Argument(metavar="RUN...", help="Runs whose scenarios replace base's.")
    ],
    run_id: Annotated[str, typer.Option(help="The merged run's id.")],
    results_dir: ResultsOption = Path("results"),
) -> None:
    """Merge runs: BASE with the scenarios of each RUN measured again; writes a new run."""
    from blockbench import results as stored
    from blockbench.engine import merge as merging
    from blockbench.report import site

    base_folder, *update_folders = site.find_runs(results_dir, [base, *updates])
    folder = results_dir / run_id
    if folder.exists():
        raise stored.ResultsError(f"{folder} exists already; choose another --run-id")
    merged = merging.merge(
        stored.load_run(base_folder),
        [stored.load_run(path) for path in update_folders],
        run_id,
    )
    stored.save_run(folder, merged)
    typer.echo(
        f"Merged run: {folder / stored.RUN_FILE}\nBuild its page: blockbench report {run_id}"
    )


@app.command()
def compare(
    before: Annotated[str, typer.Argument(metavar="RUN_A", help="The run before: id or folder.")],
    after: Annotated[str, typer.Argument(metavar="RUN_B", help="The run after: id or folder.")],
    results_dir: ResultsOption = Path("results"),
    out: OutOption = Path("reports"),
) -> None:
    """Compare two runs level by level; flag changes beyond the spread of their repeats."""
    from rich.console import Console

    from blockbench.report import compare as comparing

    comparison, page = comparing.build_compare(results_dir, out, [before, after])
    Console().print(comparing.table(comparison))
    typer.echo(f"Page: {page}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
