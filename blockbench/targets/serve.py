"""``blockbench serve``: the upstream service and catalogue targets on loopback, until stopped.

Each server runs under blockbench.targets.supervisor (its own process group, pinned to the
targets' CPU budget), logs to a file in a run folder, and is stopped with everything it forked
on Ctrl-C, SIGTERM or SIGHUP. A target that fails to start is reported with its log; the others
go on.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType

from rich.console import Console, Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from blockbench.errors import BlockbenchError
from blockbench.targets import catalogue as catalogue_file
from blockbench.targets import database, pinning, services, supervisor
from blockbench.targets.catalogue import Catalogue, Target
from blockbench.targets.launch import start_target, start_upstream, stop_all
from blockbench.targets.pinning import CpuBudget

LOG_ROOT = Path(".blockbench/logs")
# Written into the run folder once everything is up: URLs, pids and logs, for scripts and tests.
MANIFEST = "serve.json"
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_WATCH_INTERVAL = 0.5
_PORT_LIMIT = 65535


class ServeError(BlockbenchError):
    """``serve`` cannot start at all (ports taken, upstream down); the message says why."""


class Stop(BaseException):
    """A stop signal arrived. BaseException, so no ``except Exception`` on the way swallows it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@dataclass(frozen=True)
class Ports:
    upstream: int
    targets: Mapping[str, int]


@dataclass
class Served:
    """What one ``serve`` started, and what failed; the manifest is this, as JSON."""

    run_dir: Path
    budget: CpuBudget
    upstream: supervisor.ManagedProcess | None = None
    # The private PostgreSQL started when DATABASE_URL is not set.
    database: database.EmbeddedDatabase | None = None
    running: dict[str, supervisor.ManagedProcess] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)

    def processes(self) -> list[supervisor.ManagedProcess]:
        started = list(self.running.values())
        return [*started, self.upstream] if self.upstream is not None else started


def load(path: Path | None = None) -> tuple[Catalogue, CpuBudget]:
    """The catalogue sized for this machine's target CPU budget."""
    budget = pinning.budget()
    return catalogue_file.load(path, cores=budget.cores), budget


def plan_ports(catalogue: Catalogue, targets: Sequence[Target], base_port: int | None) -> Ports:
    """Free loopback ports, or with ``base_port`` stable ones: upstream there, then each target
    at base_port + 1 + its position in the catalogue, whichever targets are started."""
    if base_port is None:
        free: list[int] = []
        while len(free) < len(targets) + 1:  # the OS may hand the same free port out twice
            if (port := supervisor.free_port()) not in free:
                free.append(port)
        return Ports(
            free[0], {target.name: port for target, port in zip(targets, free[1:], strict=True)}
        )
    ports = Ports(base_port, {t.name: base_port + 1 + catalogue.index(t.name) for t in targets})
    wanted = {"upstream": ports.upstream, **ports.targets}
    for name, port in wanted.items():
        if not 1024 <= port <= _PORT_LIMIT:
            raise ServeError(
                f"--base-port {base_port} puts {name} on port {port}; choose a base port from "
                f"1024 to {_PORT_LIMIT - len(catalogue.targets) - 1}"
            )
        if supervisor.port_is_bound(port):
            raise ServeError(
                f"port {port} (for {name}) is already in use on {supervisor.LOOPBACK}; stop what "
                f"holds it (ss -ltnp 'sport = :{port}') or choose another --base-port"
            )
    return ports


def run_dir(root: Path = LOG_ROOT) -> Path:
    """A new folder for this run's logs, named by when it started."""
    stamp = time.strftime("serve-%Y%m%d-%H%M%S")
    root.mkdir(parents=True, exist_ok=True)
    path, n = root / stamp, 1
    while True:
        try:
            path.mkdir()
            return path
        except FileExistsError:  # two runs in the same second
            n += 1
            path = root / f"{stamp}-{n}"


@contextlib.contextmanager
def stop_signals() -> Iterator[None]:
    """Turn SIGINT, SIGTERM and SIGHUP into ``Stop``, once.

    The first signal ignores all three from then on, so a second Ctrl-C cannot interrupt the
    shutdown halfway and leave servers behind.
    """

    def handler(signum: int, frame: FrameType | None) -> None:
        for sig in _STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        raise Stop(signum)

    previous = {sig: signal.signal(sig, handler) for sig in _STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def serve(
    catalogue: Catalogue,
    targets: Sequence[Target],
    budget: CpuBudget,
    *,
    base_port: int | None = None,
    log_root: Path = LOG_ROOT,
    console: Console | None = None,
) -> int:
    """Start the upstream and ``targets``, serve until a stop signal, stop everything.

    Returns the exit code: 0 when every target ran, 1 when any failed to start or died.
    """
    console = console or Console()
    ports = plan_ports(catalogue, targets, base_port)
    served = Served(run_dir(log_root), budget)
    console.print(f"[dim]{budget.describe()}; logs in {served.run_dir}[/dim]")
    with stop_signals():
        try:
            _start_everything(served, targets, ports, console)
            if not served.running:
                console.print("[red]No target started; nothing to serve.[/red]")
                return 1
            _write_manifest(served, targets)
            console.print(served_table(served, targets))
            console.print("Press Ctrl-C to stop them all.")
            _watch(served, console)
        except Stop as stop:
            console.print(f"\n{stop} received: stopping every server started ...")
        finally:
            _shutdown(served, console)
    return 1 if served.failed else 0


def _start_everything(
    served: Served, targets: Sequence[Target], ports: Ports, console: Console
) -> None:
    try:
        served.upstream = start_upstream(
            ports.upstream,
            served.budget,
            served.run_dir,
            processes=services.upstream_processes(served.budget),
        )
    except supervisor.StartupError as exc:
        raise ServeError(f"the upstream service did not start: {exc}") from None
    env = {"UPSTREAM_URL": served.upstream.url}
    if database_url := _database_url(served, targets, console):
        env["DATABASE_URL"] = database_url
    for target in targets:
        console.print(f"starting {target.name} ...", end=" ")
        port = ports.targets[target.name]
        try:
            process = start_target(
                target, port=port, budget=served.budget, log_dir=served.run_dir, env=env
            )
        except supervisor.StartupError as exc:
            console.print("[red]failed[/red]")
            _report(console, f"{target.name} failed to start:", str(exc))
            served.failed[target.name] = str(exc)
            continue
        console.print(f"[green]up[/green] at {process.url}")
        served.running[target.name] = process


def _database_url(served: Served, targets: Sequence[Target], console: Console) -> str | None:
    """DATABASE_URL, or a private PostgreSQL with room for every target's pools at once."""
    if url := os.environ.get("DATABASE_URL"):
        return url
    connections = database.max_connections(database.pool_connections(t) for t in targets)
    console.print("starting a private PostgreSQL (DATABASE_URL is not set) ...", end=" ")
    try:
        served.database = database.start(
            max_connections=connections,
            log_path=served.run_dir / "postgres.log",
            budget=served.budget,
        )
    except database.DatabaseError as exc:
        console.print("[red]failed[/red]")
        _report(console, "/io/db will answer 503:", str(exc))
        return None
    console.print(f"[green]up[/green] at {served.database.url}")
    return served.database.url


def _watch(served: Served, console: Console) -> None:
    """Wait for a stop signal; report any target that dies meanwhile, with its log."""
    while served.running:
        time.sleep(_WATCH_INTERVAL)
        for name, process in list(served.running.items()):
            if not process.running():
                message = (
                    f"{name} exited with code {process.popen.returncode}; its log "
                    f"({process.log_path}) ends:\n{supervisor.log_tail(process.log_path)}"
                )
                _report(console, f"{name} died:", message)
                served.failed[name] = message
                process.stop()  # whatever it forked may still run
                del served.running[name]
    console.print("[red]Every target has exited; stopping.[/red]")


def _report(console: Console, headline: str, details: str) -> None:
    """An error headline, then the details (a quoted log) exactly as they are: no markup, no
    highlighting, no wrapping, so that the log lines read as they were written."""
    console.print(headline, style="red")
    console.print(details, markup=False, highlight=False, soft_wrap=True)


def _shutdown(served: Served, console: Console) -> None:
    processes = served.processes()
    bound = stop_all(processes)
    if served.database is not None:  # after the targets, so their pools never see it go
        served.database.stop()
    if bound:
        ports = ", ".join(str(port) for port in bound)
        console.print(f"[red]Ports still bound after stopping: {ports}[/red]")
    elif processes:
        console.print(f"Stopped {len(processes)} servers; their ports are free.")


def _write_manifest(served: Served, targets: Sequence[Target]) -> None:
    by_name = {target.name: target for target in targets}

    def entry(process: supervisor.ManagedProcess) -> dict[str, object]:
        return {"url": process.url, "pid": process.pid, "log": str(process.log_path)}

    manifest = {
        "budget": {**asdict(served.budget), "cores": served.budget.cores},
        "upstream": entry(served.upstream) if served.upstream else None,
        "database": {
            "url": served.database.url,
            "pid": served.database.pid,
            "log": str(served.database.child.log_path),
            "max_connections": served.database.max_connections,
        }
        if served.database
        else None,
        "targets": {
            name: {
                **entry(process),
                "model": by_name[name].model,
                "capacity": by_name[name].capacity,
                "command": process.command,
                "caps": [asdict(cap) for cap in by_name[name].caps()],
            }
            for name, process in served.running.items()
        },
        "failed": served.failed,
    }
    path = served.run_dir / MANIFEST
    path.write_text(json.dumps(manifest, indent=2) + "\n")


def _capacity(target: Target) -> str:
    return "unbounded" if target.capacity is None else str(target.capacity)


def served_table(served: Served, targets: Sequence[Target]) -> Table:
    table = Table(title="blockbench serve", caption=f"logs: {served.run_dir}/TARGET.log")
    for column in ("target", "model", "capacity", "URL"):
        table.add_column(column, no_wrap=True)
    if served.upstream is not None:
        table.add_row("upstream", "", "", served.upstream.url)
    if served.database is not None:
        table.add_row("PostgreSQL", "", "", served.database.url)
    for target in targets:
        process = served.running.get(target.name)
        url = process.url if process else "[red]failed to start[/red]"
        table.add_row(target.name, target.model, _capacity(target), url)
    return table


# Narrower than this, the catalogue's table wraps each explanation to a word per line.
_TABLE_WIDTH = 140


def catalogue_view(catalogue: Catalogue, budget: CpuBudget, width: int) -> RenderableType:
    """The catalogue as ``blockbench targets`` prints it: a table where it fits ``width``,
    a listing of a few lines per target where it does not (80 columns, a pipe)."""
    if width >= _TABLE_WIDTH:
        return catalogue_table(catalogue, budget)
    lines: list[RenderableType] = [Text(f"Targets ({catalogue.source})", style="italic")]
    for target in catalogue.targets:
        lines += [
            Text(""),
            Text.assemble(
                (target.name, "bold"), f" · {target.model} · capacity {_capacity_sum(target)}"
            ),
            Padding(Text.from_markup(f"{target.server}; {_sizes(target)}"), (0, 0, 0, 4)),
            Padding(Text(target.explanation, style="dim"), (0, 0, 0, 4)),
        ]
    lines += [Text(""), Text(budget.describe(), style="italic")]
    return Group(*lines)


def catalogue_table(catalogue: Catalogue, budget: CpuBudget) -> Table:
    """The catalogue as one table, for a wide terminal."""
    table = Table(title=f"Targets ({catalogue.source})", caption=budget.describe())
    for column in ("target", "model", "capacity"):
        table.add_column(column, no_wrap=True)
    table.add_column("server, sizes and explanation", ratio=1)
    for target in catalogue.targets:
        about = f"[bold]{target.server}[/bold]; {_sizes(target)}\n{target.explanation}"
        table.add_row(target.name, target.model, _capacity_sum(target), about)
    return table


def _capacity_sum(target: Target) -> str:
    capacity = _capacity(target)
    if target.capacity is not None:
        capacity = f"{target.workers} × {target.per_worker} = {capacity}"
    return capacity


def _sizes(target: Target) -> str:
    sizes = f"workers {target.workers_rule}"
    if target.bounded_by:
        sizes += f", {target.per_worker} per worker ({target.bounded_by})"
    return sizes
