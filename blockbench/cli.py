"""The ``blockbench`` command line: one subcommand per job, each implemented in its own module."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup

# Only what every image has: the bench image runs this CLI without the upstream's uvloop and
# httptools, so the upstream module is imported by its command alone.
from blockbench.apps.settings import DEFAULT_UPSTREAM_HOST, DEFAULT_UPSTREAM_PORT
from blockbench.errors import BlockbenchError

# Exit status of an expected failure, as for a usage error: the input must change.
USER_ERROR = 2
# Where pages go unless told: blockbench.report.site.LOCAL_SITE (a test keeps the two equal),
# not imported, so that the command line loads without the report's packages.
LOCAL_SITE = Path("results/site")


class _Commands(TyperGroup):
    """Every command, run so that an expected failure is one line, not a traceback."""

    # ctx is typer's own vendored click Context, a private type: Any stands for it.
    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except BlockbenchError as exc:
            _fail(str(exc))
        except typer.TyperException as exc:
            # A value the command line's parser refused (typer's click UsageError, a private
            # type): one line that names the option, not a usage box. Anything else typer
            # raises (a request for help) goes on as it would.
            usage = getattr(exc, "ctx", None)
            if type(exc).__name__ == "NoArgsIsHelpError" or not hasattr(exc, "format_message"):
                raise
            where = f" (see {usage.command_path} --help)" if usage is not None else ""
            _fail(f"{exc.format_message()}{where}")


class _Argument(TyperArgument):
    """An argument named in help by its metavar alone (RUN..., TARGET...), as options are,
    without typer's type label ("<list[str]>")."""

    def display_type_rich(self, ctx: Any) -> str | None:
        return None


class _Command(TyperCommand):
    """A command whose arguments are shown as :class:`_Argument` shows them."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            if type(param) is TyperArgument:
                # typer builds its own TyperArgument and takes no class for one: re-class it.
                param.__class__ = _Argument


def _fail(message: str) -> None:
    typer.echo(f"blockbench: {message}", err=True)
    raise typer.Exit(USER_ERROR)


app = typer.Typer(
    cls=_Commands,
    help="Measure when non-blocking (ASGI) Python servers beat blocking (WSGI) ones.",
    no_args_is_help=True,
    add_completion=False,
    # Plain help: each option with its metavar (SECONDS, NAME=URL), not a type label in a box,
    # and within 80 columns.
    rich_markup_mode=None,
)


# What a run id may be: it names a folder, so a plain name, never a path.
_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def _run_id(value: str | None) -> str | None:
    if value is not None and not _RUN_ID.fullmatch(value):
        raise typer.BadParameter(
            f"takes a name of letters, digits, '.', '_' and '-' (a folder of --results); "
            f"got {value!r}"
        )
    return value


def _warmup(value: float | None) -> float | None:
    return _seconds(value, allow_zero=True)


def _hold(value: float | None) -> float | None:
    return _seconds(value, allow_zero=False)


def _seconds(value: float | None, *, allow_zero: bool) -> float | None:
    # The catalogue's rule (whole seconds, and no NaN nor infinity), imported only when used so
    # that the command line loads without the harness's packages.
    from blockbench.load.scenarios import seconds_problem

    problem = None if value is None else seconds_problem(value, allow_zero=allow_zero)
    if problem:
        raise typer.BadParameter(problem)
    return value


def _url(value: str | None, schemes: tuple[str, ...], example: str) -> str | None:
    if value is None:
        return None
    parts = urlsplit(value)
    try:
        parts.port  # noqa: B018 - a port out of range raises here
    except ValueError:
        parts = parts._replace(netloc="")
    if parts.scheme not in schemes or not parts.hostname:
        raise typer.BadParameter(f"takes a URL like {example}; got {value!r}")
    return value


def _http_url(value: str | None) -> str | None:
    return _url(value, ("http", "https"), "http://127.0.0.1:8900")


def _database_url(value: str | None) -> str | None:
    return _url(value, ("postgresql", "postgres"), "postgresql://bench:bench@127.0.0.1:5432/bench")


_GENERATORS = ("processes", "distributed")


def _generator(value: str) -> str:
    if value not in _GENERATORS:
        raise typer.BadParameter(f"takes {' or '.join(_GENERATORS)}; got {value!r}")
    return value


def _master_bind(value: str | None) -> str | None:
    from blockbench.load import distributed

    if value is not None:
        try:
            distributed.parse_address(value, "--master-bind")
        except distributed.DistributedError as exc:
            raise typer.BadParameter(str(exc).removeprefix("--master-bind: ")) from None
    return value


@app.callback()
def _group() -> None:
    """Measure when non-blocking (ASGI) Python servers beat blocking (WSGI) ones."""


@app.command(cls=_Command)
def upstream(
    host: str = typer.Option(DEFAULT_UPSTREAM_HOST, metavar="HOST", help="Address to listen on."),
    port: int = typer.Option(
        DEFAULT_UPSTREAM_PORT, min=1, max=65535, metavar="PORT", help="Port to listen on."
    ),
    processes: int = typer.Option(
        1, min=1, metavar="N", help="Event-loop processes sharing the port."
    ),
) -> None:
    """Run the slow upstream service (GET /delay?ms=N answers after N ms)."""
    from blockbench.upstream import server as upstream_service

    upstream_service.main(["--host", host, "--port", str(port), "--processes", str(processes)])


CatalogueOption = Annotated[
    Path | None,
    typer.Option(
        metavar="FILE", help="A target catalogue file instead of blockbench/targets/targets.toml."
    ),
]


@app.command(cls=_Command)
def targets(catalogue: CatalogueOption = None) -> None:
    """List the target catalogue: each target's concurrency model and capacity."""
    from rich.console import Console

    from blockbench.targets import serve as serving

    found, budget = serving.load(catalogue)
    console = Console()
    console.print(serving.catalogue_view(found, budget, console.width))


@app.command(cls=_Command)
def serve(
    names: Annotated[
        list[str] | None, typer.Argument(metavar="TARGET", help="Targets to start.")
    ] = None,
    all_targets: Annotated[bool, typer.Option("--all", help="Start every target.")] = False,
    base_port: Annotated[
        int | None,
        typer.Option(
            metavar="PORT",
            help="Stable ports: the upstream on it, each target on base + 1 + its position in "
            "the catalogue. Default: free ports.",
        ),
    ] = None,
    log_dir: Annotated[
        Path, typer.Option(metavar="DIR", help="Where each run's log folder goes.")
    ] = Path(".blockbench/logs"),
    catalogue: CatalogueOption = None,
) -> None:
    """Start targets and the upstream on loopback until Ctrl-C; then stop every process.

    \b
    Examples:
      blockbench targets                               # the names to give
      blockbench serve NAME NAME
      blockbench serve --all --base-port 8100
    """
    from blockbench.targets import serve as serving

    found, budget = serving.load(catalogue)
    if bool(names) == all_targets:
        raise serving.ServeError(
            "name the targets to start, or give --all; `blockbench targets` lists them"
        )
    chosen = found.targets if all_targets else found.select(names or [])
    code = serving.serve(found, chosen, budget, base_port=base_port, log_root=log_dir)
    raise typer.Exit(code)


@app.command(cls=_Command)
def compose(
    check: Annotated[
        bool, typer.Option("--check", help="Write nothing; fail if the file is out of date.")
    ] = False,
    out: Annotated[
        Path,
        typer.Option(
            "--out", metavar="DIR", help="The checkout's root, where docker-compose.yml is."
        ),
    ] = Path("."),
    host_network: Annotated[
        Path | None,
        typer.Option(
            "--host-network",
            metavar="PATH",
            help="Write instead, to PATH, the stack with every service on the host's network "
            "(loopback only; e.g. .blockbench/docker-compose.host.yml, which git ignores).",
        ),
    ] = None,
    catalogue: CatalogueOption = None,
) -> None:
    """Write docker-compose.yml, or its host-network variant, from the target catalogue."""
    from blockbench.targets import catalogue as catalogue_file
    from blockbench.targets import compose as generator

    # Compose runs each target with the cores of its container (APP_CPUS), not this machine's.
    found = catalogue_file.load(catalogue, cores=1)
    path = host_network or out / generator.FILE
    act = generator.stale if check else generator.write
    changed = act(found, path, host_network=host_network is not None)
    if check and changed:
        command = generator.HOST_NETWORK_COMMAND if host_network else generator.COMMAND
        typer.secho(f"out of date: {path}; run `{command}`", fg="red", err=True)
        raise typer.Exit(1)
    typer.echo(f"{'written' if changed else 'up to date'}: {path}")


def _names(values: list[str] | None) -> tuple[str, ...]:
    """Names given as repeated options or comma lists, or both."""
    return tuple(name for value in values or [] for name in value.split(",") if name)


@app.command(cls=_Command)
def run(
    profile: Annotated[
        str | None,
        typer.Option(metavar="NAME", help="quick (the default), full or tiny: see scenarios.toml."),
    ] = None,
    scenarios: Annotated[
        list[str] | None,
        typer.Option(metavar="NAME,...", help="Only these scenarios (comma list or repeated)."),
    ] = None,
    targets: Annotated[
        list[str] | None,
        typer.Option(metavar="NAME,...", help="Only these targets (comma list or repeated)."),
    ] = None,
    levels: Annotated[
        str | None,
        typer.Option(
            metavar="USERS,...", help="Concurrency levels instead of the profile's: 1,10,50."
        ),
    ] = None,
    warmup: Annotated[
        float | None,
        typer.Option(
            metavar="SECONDS",
            callback=_warmup,
            help="Warm-up per level, whole seconds (0 or more).",
        ),
    ] = None,
    hold: Annotated[
        float | None,
        typer.Option(
            metavar="SECONDS", callback=_hold, help="Measured per level, whole seconds (1 or more)."
        ),
    ] = None,
    repeat: Annotated[
        int, typer.Option(min=1, metavar="N", help="Repeats, interleaved across targets.")
    ] = 1,
    generator: Annotated[
        str,
        typer.Option(
            metavar="MODE",
            callback=_generator,
            help="processes: independent Locust processes, each with a share of the users; "
            "distributed: a Locust master with workers (docs/distributed.md).",
        ),
    ] = "processes",
    processes: Annotated[
        int | None,
        typer.Option(
            min=1,
            metavar="N",
            help="Locust processes, or the master's local workers (default: 1 process, or one "
            "worker per CPU the load generator may use).",
        ),
    ] = None,
    master_bind: Annotated[
        str | None,
        typer.Option(
            metavar="HOST:PORT",
            callback=_master_bind,
            help="distributed: where the master listens for workers (default: loopback, a "
            "free port), e.g. 0.0.0.0:5557 for workers on other machines.",
        ),
    ] = None,
    remote_workers: Annotated[
        int,
        typer.Option(
            min=0,
            metavar="N",
            help="distributed: workers the master waits for besides its own, started with "
            "`blockbench worker --master HOST:PORT` on other machines.",
        ),
    ] = 0,
    join_timeout: Annotated[
        int,
        typer.Option(
            min=1,
            metavar="SECONDS",
            help="distributed: how long the master waits for every worker to join.",
        ),
    ] = 60,
    target_url: Annotated[
        list[str] | None,
        typer.Option(
            metavar="NAME=URL", help="Measure a server already running (e.g. in compose)."
        ),
    ] = None,
    target_cores: Annotated[
        int | None,
        typer.Option(
            min=1,
            metavar="N",
            help="Cores the --target-url servers have (their capacity depends on it).",
        ),
    ] = None,
    upstream_url: Annotated[
        str | None,
        typer.Option(
            metavar="URL",
            callback=_http_url,
            help="Use this upstream service instead of starting one.",
        ),
    ] = None,
    app_env: Annotated[
        list[str] | None,
        typer.Option(
            metavar="KEY=VALUE", help="For every target's app, e.g. UPSTREAM_CLIENT=httpx."
        ),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            metavar="URL",
            callback=_database_url,
            help="PostgreSQL for the db scenario (default: $DATABASE_URL, else a private one).",
        ),
    ] = None,
    results_dir: Annotated[
        Path, typer.Option("--results", metavar="DIR", help="Where runs are written.")
    ] = Path("results"),
    reports_dir: Annotated[
        Path,
        typer.Option(
            "--reports", metavar="DIR", help="Where the report pages are built (git-ignored)."
        ),
    ] = LOCAL_SITE,
    resume: Annotated[
        str | None,
        typer.Option(metavar="RUN_ID", callback=_run_id, help="Continue an unfinished run."),
    ] = None,
    run_id: Annotated[
        str | None,
        typer.Option(
            metavar="RUN_ID", callback=_run_id, help="Name the run (default: time-profile)."
        ),
    ] = None,
    report: Annotated[bool, typer.Option(help="Build the report pages at the end.")] = True,
) -> None:
    """Measure every scenario of a profile on every target, level by level; then report.

    \b
    Examples:
      blockbench run                                   # the quick profile
      blockbench run --profile full --repeat 3
      blockbench run --scenarios io-sleep --levels 1,10,50 --hold 5
      blockbench run --resume 20261128-101500-quick    # after Ctrl-C
      blockbench run --generator distributed           # a master, local workers
    """
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
        generator="distributed" if generator == "distributed" else "processes",
        master_bind=master_bind,
        remote_workers=remote_workers,
        join_timeout_s=join_timeout,
        target_urls=plan.parse_target_urls(target_url or []),
        target_cores=target_cores,
        upstream_url=upstream_url,
        app_env=plan.parse_app_env(app_env or []),
        database_url=database_url,
        results_dir=results_dir,
        run_id=run_id,
        command=tuple(sys.argv),
    )
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


@app.command(cls=_Command)
def worker(
    master: Annotated[
        str,
        typer.Option(
            metavar="HOST[:PORT]",
            help="The master to join: the machine running `blockbench run --generator "
            "distributed --master-bind ...`, as this one reaches it (port default 5557).",
        ),
    ],
    processes: Annotated[
        int | None,
        typer.Option(min=1, metavar="N", help="Worker processes (default: one per CPU)."),
    ] = None,
) -> None:
    """Send load for a run on another machine: Locust workers that join its master.

    Each cell of a run has a master of its own, which ends its workers when its sweep ends;
    each worker is started again at once and joins the next, until Ctrl-C. The master names
    the workload and the target; this machine needs the repository installed and must reach
    the master's port and the targets' URLs. See docs/distributed.md.

    \b
    Examples:
      blockbench worker --master 10.0.0.5              # port 5557
      blockbench worker --master 10.0.0.5:6000 --processes 4
    """
    from blockbench.load import distributed, loadgen
    from blockbench.targets import pinning

    address = distributed.parse_address(master, "--master")
    distributed.resolve(address)
    count = processes or len(pinning.available_cpus())
    try:
        distributed.serve_workers(address, count, root=loadgen.REPO, announce=typer.echo)
    except KeyboardInterrupt:
        typer.echo("workers stopped")


ResultsOption = Annotated[
    Path,
    typer.Option("--results", metavar="DIR", help="Where the runs are: results/<run-id>/run.json."),
]
OutOption = Annotated[
    Path, typer.Option("--out", metavar="DIR", help="Where the report pages go (git-ignored).")
]


@app.command(cls=_Command)
def report(
    runs: Annotated[
        list[str] | None,
        typer.Argument(metavar="RUN", help="Run ids or folders. Default: every run."),
    ] = None,
    results_dir: ResultsOption = Path("results"),
    out: OutOption = LOCAL_SITE,
) -> None:
    """Build the local report site: a page per run, and an index of every run with a page.

    \b
    Examples:
      blockbench report                                # every run in results/
      blockbench report 20261128-101500-quick
    """
    from blockbench.report import site

    page = site.build_site(results_dir, out, runs)
    typer.echo(f"Report: {page}\nIndex:  {out / site.PAGE}")


@app.command(cls=_Command)
def publish(
    runs: Annotated[
        list[str], typer.Argument(metavar="RUN", help="Run ids or folders to publish.")
    ],
    results_dir: ResultsOption = Path("results"),
    site_dir: Annotated[
        Path, typer.Option("--site", metavar="DIR", help="The published site (committed).")
    ] = Path("reports"),
) -> None:
    """Copy runs' pages into the published site (reports/) and rebuild its index from the
    runs published there. The one command that writes into the checkout.

    \b
    Example:
      blockbench publish 20261128-full-2core && git add reports/
    """
    from blockbench.report import site

    for page in site.publish(results_dir, site_dir, runs):
        typer.echo(f"Published: {page}")
    typer.echo(f"Index:     {site_dir / site.PAGE}")


@app.command(cls=_Command)
def merge(
    base: Annotated[
        str,
        typer.Argument(metavar="BASE", help="The run to keep, but for the re-measured scenarios."),
    ],
    updates: Annotated[
        list[str], typer.Argument(metavar="RUN", help="Runs whose scenarios replace base's.")
    ],
    run_id: Annotated[
        str, typer.Option(metavar="RUN_ID", callback=_run_id, help="The merged run's id.")
    ],
    results_dir: ResultsOption = Path("results"),
) -> None:
    """Merge runs: BASE with the scenarios of each RUN measured again; writes a new run.

    \b
    Example:
      blockbench merge 20261128-full 20261128-io-again --run-id 20261128-merged
    """
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


@app.command(cls=_Command)
def compare(
    before: Annotated[str, typer.Argument(metavar="RUN_A", help="The run before: id or folder.")],
    after: Annotated[str, typer.Argument(metavar="RUN_B", help="The run after: id or folder.")],
    results_dir: ResultsOption = Path("results"),
    out: OutOption = LOCAL_SITE,
) -> None:
    """Compare two runs level by level; flag changes beyond the spread of their repeats.

    \b
    Example:
      blockbench compare 20261128-101500-quick reports/runs/20261127-090000-quick
    """
    from rich.console import Console

    from blockbench.report import compare as comparing

    comparison, page = comparing.build_compare(results_dir, out, [before, after])
    Console().print(comparing.table(comparison))
    typer.echo(f"Page: {page}")


def main() -> None:
    # The same name in every message however it was started (python -m blockbench.cli too).
    app(prog_name="blockbench")


if __name__ == "__main__":
    main()
