"""The run engine: for each scenario and target, start the target, drive its levels with
Locust, and record every level the moment it finishes.

A level is written atomically as soon as it is measured and run.json is rewritten after it, so
Ctrl-C, a crashed target or a crashed generator keeps everything finished so far, and
``--resume`` continues with exactly what is missing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Literal
from urllib.parse import urlsplit

import psycopg

from blockbench import results
from blockbench.apps import contract, upstream_clients
from blockbench.engine import environment, levels, plan
from blockbench.engine.progress import Progress
from blockbench.engine.sampler import TreeSampler
from blockbench.errors import BlockbenchError
from blockbench.load import distributed, loadgen, scenarios
from blockbench.results import bounds, judging, validity
from blockbench.targets import catalogue, database, launch, pinning, services, supervisor
from blockbench.upstream import calibration as upstream_calibration

__all__ = ["Engine", "EngineError", "Outcome", "Progress", "RunOptions"]

REPO = loadgen.REPO
GENERATOR_CEILING_SWEEP = scenarios.Sweep(levels=(64,), warmup=1.0, hold=3.0)
UPSTREAM, DATABASE = "upstream", "database"
_POLL_S = 0.25
# How long a measured target may take to stop before it is killed. Asked to stop, servers drain
# what they hold: uvicorn and gunicorn finish every request in flight, and a2wsgi's queue at
# 1,000 users of 500 ms requests is 50 s of work; 1,000 queued requests of 2 ms CPU still 2 s.
# Its clients are gone by then and nothing of it is measured, so the drain only delayed the next
# cell (by 20 s with the default 10 s grace; 4 s with 2 s, on half of the map profile's cells).
TARGET_STOP_S = 0.5
# Descriptors a generator or target process uses beside its connections: files, pipes, logs.
OPEN_FILES_MARGIN = 256
# A level whose utilisation law does not hold was disturbed: something outside the target ran on
# its cores (another job, a hypervisor's neighbour), so its figures are not the target's. Such a
# level is measured once more on a fresh start of the target; a second disturbance is kept, and
# flagged, as measured. The disturbed attempt moves to DISTURBED_DIR, never silently dropped.
DISTURBANCE_FLAGS: frozenset[results.Flag] = frozenset({"utilisation_law_off"})
DISTURBED_ATTEMPTS = 2
DISTURBED_DIR = "disturbed"
Generator = Literal["processes", "distributed"]
DEFAULT_GENERATOR: Generator = "processes"
_LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


class EngineError(BlockbenchError):
    """A run that cannot start or go on; the message says why and what to do."""


@dataclass(frozen=True)
class RunOptions:
    profile: str | None = None
    scenarios: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()
    levels: tuple[int, ...] = ()
    warmup: float | None = None
    hold: float | None = None
    repeat: int = 1
    # Locust processes (--generator processes), or the master's local workers (distributed);
    # None: 1 process, or one worker per CPU the generator may use.
    processes: int | None = None
    generator: Generator = DEFAULT_GENERATOR
    # Distributed only: where the master listens (HOST:PORT) and how many workers it waits for
    # besides its own, started elsewhere with `blockbench worker`.
    master_bind: str | None = None
    remote_workers: int = 0
    join_timeout_s: int = distributed.JOIN_TIMEOUT_S
    target_urls: Mapping[str, str] = field(default_factory=dict)
    # The cores the --target-url servers run on (a container's CPU limit); their capacity is
    # counted from it. None: the local CPU budget's.
    target_cores: int | None = None
    upstream_url: str | None = None
    # Extra app environment for every target (--app-env), e.g. UPSTREAM_CLIENT.
    app_env: Mapping[str, str] = field(default_factory=dict)
    database_url: str | None = None
    results_dir: Path = Path("results")
    run_id: str | None = None
    measure_generator: bool = True
    command: tuple[str, ...] = ()


@dataclass
class Outcome:
    run: results.Run
    folder: Path
    interrupted: bool


class _Stop(Exception):
    """SIGTERM, turned into an exception so the run ends like on Ctrl-C."""


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop()


@contextlib.contextmanager
def _sigterm_stops() -> Iterator[None]:
    previous = signal.signal(signal.SIGTERM, _raise_stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def new_run_id(profile: str) -> str:
    return f"{dt.datetime.now(dt.UTC):%Y%m%d-%H%M%S}-{profile}"


class Engine:
    def __init__(self, options: RunOptions, progress: Progress | None = None) -> None:
        self.options = options
        self.progress = progress or Progress(enabled=False)
        self.budget = pinning.budget()
        self.open_files_limit = environment.raise_open_files_limit()
        self._catalogue = catalogue.load(cores=options.target_cores or self.budget.cores)
        self.targets = self._catalogue.with_env(options.app_env)
        self.scenarios = scenarios.load()
        # Each machine whose workers sent measured levels, with how many (distributed mode).
        self._worker_hosts: dict[str, int] = {}

    # -- planning -------------------------------------------------------------------------

    def new_run(self) -> tuple[results.Run, Path]:
        options = self.options
        only_targets = list(options.targets) or list(options.target_urls)
        steps = plan.steps(
            self.scenarios,
            self.targets.targets,
            profile=options.profile,
            only_scenarios=options.scenarios,
            only_targets=only_targets,
            levels=options.levels,
            warmup=options.warmup,
            hold=options.hold,
            repeat=options.repeat,
        )
        for name in dict.fromkeys(step.target for step in steps):
            catalogue.check_settings(self.targets.get(name), f"--app-env for {name}")
        profile = self.scenarios.profile(options.profile)
        run_id = options.run_id or new_run_id(profile.name)
        folder = options.results_dir / run_id
        if folder.exists():
            raise EngineError(f"{folder} exists already; choose another run id or --resume it")
        generator = self._load_generator(steps)
        cells = [self._cell(step) for step in steps]
        run = results.Run(
            run_id=run_id,
            status="running",
            created=now(),
            command=list(options.command),
            profile=profile.name,
            scenarios=list(dict.fromkeys(step.scenario.name for step in steps)),
            targets=list(dict.fromkeys(step.target for step in steps)),
            levels=sorted({level for step in steps for level in step.sweep.levels}),
            warmup_s=steps[0].sweep.warmup,
            hold_s=steps[0].sweep.hold,
            repeat=options.repeat,
            generator_processes=generator.local,
            load_generator=generator,
            generator_ceiling_rps=None,
            app_env=dict(options.app_env),
            environment=self._environment(),
            cells=cells,
            notes=self._notes(max(level for step in steps for level in step.sweep.levels)),
        )
        results.save_run(folder, run)
        return run, folder

    def _load_generator(self, steps: list[plan.Step]) -> results.LoadGenerator:
        """How the run's load is sent, from the options, refused where it cannot work."""
        options = self.options
        if options.generator == "processes":
            if options.master_bind or options.remote_workers:
                raise EngineError("--master-bind and --remote-workers need --generator distributed")
            return results.LoadGenerator(mode="processes", local=options.processes or 1)
        if any(step.sweep.arrivals is not None for step in steps):
            # Each process schedules its own share of the arrivals in its own load shape; a
            # master's workers have no such shape, so they would send nothing on time.
            raise EngineError(
                "open-loop levels (a profile with arrivals) run with --generator processes; "
                "a distributed generator sends closed-loop levels only"
            )
        bind = None
        if options.master_bind is not None:
            bind = distributed.parse_address(options.master_bind, "--master-bind")
        local = options.processes or max(1, len(self.budget.rest))
        # Checked here, before the run's folder is made.
        distributed.Swarm(local, options.remote_workers, bind, options.join_timeout_s)
        if options.remote_workers:
            self._check_reachable(steps)
        return results.LoadGenerator(
            mode="distributed",
            local=local,
            remote_workers=options.remote_workers,
            master_bind=str(bind) if bind else None,
        )

    def _check_reachable(self, steps: list[plan.Step]) -> None:
        """Remote workers send their requests from another machine: to targets and an upstream
        this machine's loopback does not offer them."""
        for step in steps:
            url = self.options.target_urls.get(step.target)
            if url is None or urlsplit(url).hostname in _LOOPBACK_HOSTS:
                raise EngineError(
                    f"remote workers cannot reach {step.target} "
                    f"({'started here on loopback' if url is None else url}): give every target "
                    "as --target-url NAME=URL at an address they reach (see docs/distributed.md)"
                )
        upstream = self.options.upstream_url
        if self.options.measure_generator and (
            upstream is None or urlsplit(upstream).hostname in _LOOPBACK_HOSTS
        ):
            raise EngineError(
                "the generator's ceiling is measured against the upstream service, which remote "
                "workers must reach: give --upstream-url at an address they reach (e.g. run "
                "`blockbench upstream --host 0.0.0.0` on this machine; see docs/distributed.md)"
            )

    def _swarm(self, run: results.Run) -> distributed.Swarm | None:
        """The run's master and workers, or None where it runs independent processes."""
        generator = run.load_generator
        if generator is None or generator.mode == "processes":
            return None
        bind = generator.master_bind
        return distributed.Swarm(
            generator.local,
            generator.remote_workers,
            distributed.parse_address(bind, "--master-bind") if bind else None,
            self.options.join_timeout_s,
        )

    def _with_worker_hosts(self, run: results.Run) -> results.Run:
        generator = run.load_generator
        if generator is None or generator.mode == "processes" or not self._worker_hosts:
            return run
        hosts = dict(generator.worker_hosts)
        for host, count in self._worker_hosts.items():
            hosts[host] = max(count, hosts.get(host, 0))
        generator = generator.model_copy(update={"worker_hosts": dict(sorted(hosts.items()))})
        return run.model_copy(update={"load_generator": generator})

    def _cell(self, step: plan.Step) -> results.Cell:
        target = self.targets.get(step.target)
        wait = bounds.RequestPath.of(step.scenario).wait_s
        cpu_bound = all(request.endpoint is contract.CPU for request in step.scenario.requests)
        caps = [
            results.Cap(name=c.name, value=c.value, where=c.per, kind=c.kind) for c in target.caps()
        ]
        client = target.upstream_client() if "upstream" in step.scenario.dependencies else None
        return results.Cell(
            scenario=step.scenario.name,
            target=step.target,
            repeat=step.repeat,
            url=self.options.target_urls.get(step.target, ""),
            external=step.target in self.options.target_urls,
            model=target.model,
            capacity=target.capacity,
            service_time_ms=round(wait * 1000, 3),
            cpu_bound=cpu_bound,
            caps=caps,
            upstream_client=client.name if client else None,
            upstream_client_version=upstream_clients.version(client) if client else None,
            planned_levels=list(step.sweep.levels),
        )

    def _environment(self) -> results.Environment:
        commit, dirty = environment.git_state(REPO)
        return results.Environment(
            cpu_model=environment.cpu_model(),
            cpu_count=environment.cpu_count(),
            os=environment.os_description(),
            python=sys.version.split()[0],
            packages=environment.packages(),
            git_commit=commit,
            git_dirty=dirty,
            target_cpus=list(self.budget.cpus),
            generator_cpus=list(self.budget.rest),
            pinning=self.budget.describe(),
            open_files_limit=self.open_files_limit,
        )

    def _notes(self, highest: int) -> list[str]:
        notes = []
        if self.options.target_urls:
            cores = self.options.target_cores or self.budget.cores
            notes.append(
                "Targets given by --target-url were not started by blockbench: their capacity "
                f"is the catalogue's for {cores} core(s), which assumes they run with the "
                "catalogue's settings on that many cores."
            )
        if highest + OPEN_FILES_MARGIN > self.open_files_limit:
            notes.append(
                f"The open-files limit is {self.open_files_limit} (its hard limit allows no "
                f"more), below the {highest} connections of the highest level and the "
                f"{OPEN_FILES_MARGIN} its processes need beside them: levels near it may fail "
                "with refused connections that are this machine's limit, not the server's. "
                "Raise it (ulimit -Hn, or LimitNOFILE for a service) to measure them."
            )
        generator = self.options.generator
        if generator == "distributed" and self.options.remote_workers:
            notes.append(
                "The load came from a Locust master with workers on other machines too: only "
                "this machine's Locust processes were sampled, so the generator-saturation flag "
                "speaks for them alone."
            )
        if not self.budget.rest:
            notes.append(
                "Only one CPU: the load generator shares it with the targets, so generator "
                "and target compete; read the generator's CPU column."
            )
        return notes

    def estimate(self, run: results.Run) -> float:
        """Seconds the rest of ``run`` should take, for the progress display."""
        steps = [
            plan.Step(
                self.scenarios.scenario(cell.scenario),
                cell.target,
                cell.repeat,
                self._remaining_sweep(run, cell),
            )
            for cell in run.cells
            if cell.missing_levels
        ]
        extra = {}
        if run.generator_ceiling_rps is None and self.options.measure_generator:
            extra["generator"] = plan.LOCUST_START_SECONDS + GENERATOR_CEILING_SWEEP.seconds
        return plan.estimate_seconds(steps, extra)

    def _remaining_sweep(self, run: results.Run, cell: results.Cell) -> scenarios.Sweep:
        """The cell's sweep through the levels it has not measured yet, with the run's timing."""
        return plan.sweep_for(
            self.scenarios.profile(run.profile),
            self.scenarios.scenario(cell.scenario),
            cell.missing_levels,
            run.warmup_s,
            run.hold_s,
        )

    def build_report(self, run: results.Run, reports_dir: Path) -> Path | None:
        """The run's report page, if the report builder is installed."""
        try:
            from blockbench.report import site
        except ImportError:
            return None
        return site.build_site(self.options.results_dir, reports_dir, [run.run_id])

    # -- running --------------------------------------------------------------------------

    def execute(self, run: results.Run, folder: Path) -> Outcome:
        """Run every cell still missing levels; always leaves a valid run.json behind."""
        interrupted = False
        # A resumed run measures its targets with the app environment it started with.
        self.targets = self._catalogue.with_env(run.app_env)
        try:
            # Every process started for the run is entered in this stack (a cell's in one of
            # its own), whose close stops them in reverse order: at the end, on an error, and
            # on Ctrl-C or SIGTERM.
            with contextlib.ExitStack() as stack:
                stack.enter_context(_sigterm_stops())
                sampler = stack.enter_context(TreeSampler(cpus=self.budget.cpus))
                deployment = self._deployment(run, folder, sampler, stack)
                # The harness and the database keep off the targets' cores, so the kernel's
                # busy time of those cores is the targets' alone (the utilisation-law check).
                database = [deployment.database.pid] if deployment.database else []
                stack.enter_context(pinning.off_the_targets(self.budget, database))
                if self.options.measure_generator and run.generator_ceiling_rps is None:
                    run = self._measure_generator(run, folder, deployment.upstream_url, sampler)
                    run = self._with_worker_hosts(run)
                if deployment.upstream is not None and run.upstream_ceiling_rps is None:
                    run = self._measure_upstream(run, deployment.upstream)
                run = self._with_caps(run, deployment.database_url)
                results.save_run(folder, run)
                for index in range(len(run.cells)):
                    run = self._measure_cell(run, folder, index, sampler, deployment)
                    run = self._with_worker_hosts(run)
                    results.save_run(folder, run)
        except (KeyboardInterrupt, _Stop):
            interrupted = True
            run = results.load_run(folder)  # everything saved so far, no half-measured level
        rules = environment.blockbench_commit(REPO)
        run = judging.finish(run, interrupted=interrupted, rules=rules, finished=now())
        results.save_run(folder, run)
        return Outcome(run, folder, interrupted)

    def _deployment(
        self, run: results.Run, folder: Path, sampler: TreeSampler, stack: contextlib.ExitStack
    ) -> _Deployment:
        """The upstream service (started here unless given) and the database; both are
        sampled, where their processes can be found, so a level they held back is flagged."""
        needs: set[scenarios.Dependency] = set()
        for name in run.scenarios:
            needs |= self.scenarios.scenario(name).dependencies
        database_url = self.options.database_url or os.environ.get("DATABASE_URL") or None
        if "database" in needs and database_url is None:
            embedded = self._embedded_database(run, folder)
            # Entered first, so stopped last: after every target that holds connections to it.
            stack.callback(embedded.stop)
            database_url = embedded.url
        postgres = None
        if database_url is not None and "database" in needs:
            postgres = services.find_database(database_url)
            if postgres is not None:
                sampler.watch(DATABASE, postgres.pid)
                stack.callback(sampler.forget, DATABASE)
        if self.options.upstream_url:
            return _Deployment(self.options.upstream_url, database_url, None, postgres)
        # One process per CPU it may use: the upstream shares them with the load generator.
        upstream = launch.start_upstream(
            supervisor.free_port(),
            self.budget,
            folder / "logs",
            processes=services.upstream_processes(self.budget),
        )
        stack.callback(upstream.stop)
        sampler.watch(UPSTREAM, upstream.pid)
        stack.callback(sampler.forget, UPSTREAM)
        return _Deployment(upstream.url, database_url, upstream, postgres)

    def _embedded_database(self, run: results.Run, folder: Path) -> database.EmbeddedDatabase:
        """No DATABASE_URL: a private PostgreSQL with connections for the db cells' pools (one
        target runs at a time)."""
        scenario = self.scenarios.scenario
        cells = [cell for cell in run.cells if "database" in scenario(cell.scenario).dependencies]
        if any(cell.external for cell in cells):
            raise EngineError(
                "the db scenario on a --target-url target needs the PostgreSQL that target "
                "uses: set DATABASE_URL (or --database-url) to it"
            )
        pools = max(database.pool_connections(self.targets.get(cell.target)) for cell in cells)
        self.progress.phase("starting a private PostgreSQL (no DATABASE_URL is set)")
        return database.start(
            max_connections=database.max_connections([pools]),
            log_path=folder / "logs" / "postgres.log",
            budget=self.budget,
        )

    def _measure_upstream(
        self, run: results.Run, upstream: supervisor.ManagedProcess
    ) -> results.Run:
        """The upstream's ceiling: the calls/s its CPUs allow, from its CPU per call."""
        needs_upstream = any(
            "upstream" in self.scenarios.scenario(name).dependencies for name in run.scenarios
        )
        if not needs_upstream:
            return run
        self.progress.phase("measuring the upstream service's own ceiling")
        try:
            per_call = upstream_calibration.measure_cpu_per_call(upstream.url, [upstream.pid])
        except upstream_calibration.CalibrationError as exc:
            raise EngineError(f"the upstream's ceiling could not be measured: {exc}") from exc
        cpus = services.upstream_cpus(self.budget)
        return run.model_copy(
            update={
                "upstream_cpu_us_per_call": round(per_call * 1e6, 2),
                "upstream_ceiling_rps": round(cpus / per_call, 1) if per_call > 0 else None,
            }
        )

    def _with_caps(self, run: results.Run, database_url: str | None) -> results.Run:
        """Adds PostgreSQL's max_connections, read from the live server, to the db cells."""
        if database_url is None:
            return run
        try:
            with psycopg.connect(database_url, connect_timeout=5) as conn:
                row = conn.execute("SHOW max_connections").fetchone()
        except psycopg.Error as exc:
            raise EngineError(f"cannot reach the database at DATABASE_URL: {exc}") from exc
        assert row is not None
        cap = results.Cap(
            name="PostgreSQL max_connections",
            value=int(row[0]),
            where="database",
            kind="max_connections",
        )
        cells = [
            cell.model_copy(update={"caps": [*cell.caps, cap]})
            if "database" in self.scenarios.scenario(cell.scenario).dependencies
            and cap not in cell.caps
            else cell
            for cell in run.cells
        ]
        return run.model_copy(update={"cells": cells})

    def _measure_generator(
        self, run: results.Run, folder: Path, upstream_url: str, sampler: TreeSampler
    ) -> results.Run:
        self.progress.phase("measuring the load generator's own ceiling")
        locust = loadgen.LocustRun(
            "GeneratorCeiling",
            upstream_url,
            GENERATOR_CEILING_SWEEP,
            folder / "locust" / "generator-ceiling",
            processes=run.generator_processes,
            budget=self.budget,
            locustfiles=(loadgen.CEILING_LOCUSTFILE, loadgen.LOCUSTFILES[1]),
            swarm=self._swarm(run),
        )
        records = self._drive(locust, sampler, lambda record: None)
        if not records:
            raise EngineError(
                f"the generator ceiling could not be measured: "
                f"{locust.failure() or 'Locust reported no level'}"
            )
        record = records[0]
        rps = record.rate_rps or (record.requests - record.failures) / record.window_s
        return run.model_copy(update={"generator_ceiling_rps": round(rps, 1)})

    def _run_cell(
        self,
        run: results.Run,
        folder: Path,
        index: int,
        sampler: TreeSampler,
        deployment: _Deployment,
    ) -> results.Cell:
        cell = run.cells[index]
        key = results.cell_key(cell)
        scenario = self.scenarios.scenario(cell.scenario)
        sweep = self._remaining_sweep(run, cell)
        self.progress.cell(index, len(run.cells), cell, sweep)
        target = self.targets.get(cell.target)
        server: supervisor.ManagedProcess | None = None
        url = self.options.target_urls.get(cell.target) or (cell.url if cell.external else None)
        with contextlib.ExitStack() as stack:
            if url is None:
                try:
                    server = self._start_target(target, folder / "logs" / key, deployment)
                except supervisor.StartupError as exc:
                    self.progress.warn(str(exc))
                    return cell.model_copy(update={"error": str(exc)})
                stack.callback(server.stop, TARGET_STOP_S)
                url = server.url
                sampler.watch(key, server.pid)
                stack.callback(sampler.forget, key)
            cell = cell.model_copy(update={"url": url})
            locust = loadgen.LocustRun(
                scenario.workload,
                url,
                sweep,
                folder / "locust" / key,
                processes=run.generator_processes,
                budget=self.budget,
                slots=bounds.in_flight(cell.caps),
                swarm=self._swarm(run),
            )

            saturated: list[results.LevelResult] = []

            def record(level: loadgen.LevelRecord) -> None:
                nonlocal cell
                sampled = self._sampled(cell, level, sampler, locust, scenario, deployment)
                result = levels.level_result(run, cell, scenario, level, sampled)
                results.save_level(folder, cell, result)
                cell = cell.model_copy(update={"levels": [*cell.levels, result]})
                results.save_run(folder, _replace_cell(run, index, cell))
                self.progress.level(result)
                if validity.past_saturation(result):
                    saturated.append(result)

            self._drive(locust, sampler, record, server, stop=lambda: bool(saturated))
            # Asked before the stack stops it: once stopped, no server is running.
            died = server is not None and not server.running()
        missing = cell.missing_levels
        if missing and saturated:
            # Higher rates would only queue more onto a server this far behind.
            cell = cell.model_copy(update={"skipped_past_saturation": missing})
            self.progress.warn(
                f"{cell.scenario} on {cell.target}: {saturated[0].users} req/s is far past "
                f"saturation; levels {missing} skipped"
            )
        elif missing:
            why = locust.failure() or (
                f"{cell.target} stopped answering; see logs/{key}/"
                if died
                else "the load generator reported no result for them"
            )
            cell = cell.model_copy(update={"error": f"levels {missing} missing: {why}"})
            self.progress.warn(f"{cell.scenario} on {cell.target}: {cell.error}")
        return cell

    def _measure_cell(
        self,
        run: results.Run,
        folder: Path,
        index: int,
        sampler: TreeSampler,
        deployment: _Deployment,
    ) -> results.Run:
        """Measure the cell's missing levels, and once more those a disturbance spoiled."""
        # A resumed run keeps what it finished before, flags and all: only levels measured here
        # may be measured again.
        kept = {level.users for level in run.cells[index].levels}
        for attempt in range(1, DISTURBED_ATTEMPTS + 1):
            if not run.cells[index].missing_levels:
                break
            cell = self._run_cell(run, folder, index, sampler, deployment)
            run = _replace_cell(run, index, cell)
            results.save_run(folder, run)
            disturbed = [level for level in _disturbed(cell) if level.users not in kept]
            if not disturbed or cell.error or attempt == DISTURBED_ATTEMPTS:
                break
            run = self._set_aside(run, folder, index, disturbed, attempt)
            results.save_run(folder, run)
        # Levels measured again come last: put them back in the order planned.
        cell = run.cells[index]
        order = {users: place for place, users in enumerate(cell.planned_levels)}
        levels = sorted(cell.levels, key=lambda level: order.get(level.users, len(order)))
        if levels != cell.levels:
            run = _replace_cell(run, index, cell.model_copy(update={"levels": levels}))
            results.save_run(folder, run)
        return run

    def _set_aside(
        self,
        run: results.Run,
        folder: Path,
        index: int,
        disturbed: list[results.LevelResult],
        attempt: int,
    ) -> results.Run:
        """Move a cell's disturbed levels out of the run, files and all, so they are measured
        again; the run's notes say which and why."""
        cell = run.cells[index]
        key = results.cell_key(cell)
        aside = folder / DISTURBED_DIR / key / f"attempt-{attempt}"
        aside.mkdir(parents=True, exist_ok=True)
        for level in disturbed:
            measured = folder / results.LEVELS_DIR / key / f"{level.users}.json"
            if measured.exists():
                measured.replace(aside / measured.name)
        # Locust's own files of the attempt, which the next attempt would overwrite.
        for name in ("locust", "logs"):
            if (folder / name / key).exists():
                (folder / name / key).replace(aside / name)
        users = ", ".join(str(level.users) for level in disturbed)
        note = (
            f"{cell.scenario} on {cell.target}: level(s) {users} measured again (attempt "
            f"{attempt + 1}): the utilisation law did not hold, so something outside the target "
            f"ran on its cores; the disturbed attempt is kept in {DISTURBED_DIR}/{key}/"
        )
        self.progress.warn(note)
        kept = [level for level in cell.levels if level not in disturbed]
        cells = list(run.cells)
        cells[index] = cell.model_copy(update={"levels": kept})
        return run.model_copy(update={"cells": cells, "notes": [*run.notes, note]})

    def _start_target(
        self, target: catalogue.Target, log_dir: Path, deployment: _Deployment
    ) -> supervisor.ManagedProcess:
        env = {"UPSTREAM_URL": deployment.upstream_url}
        if deployment.database_url:
            env["DATABASE_URL"] = deployment.database_url
        return launch.start_target(
            target, port=supervisor.free_port(), budget=self.budget, log_dir=log_dir, env=env
        )

    def _drive(
        self,
        locust: loadgen.LocustRun,
        sampler: TreeSampler,
        on_level: Callable[[loadgen.LevelRecord], None],
        server: supervisor.ManagedProcess | None = None,
        stop: Callable[[], bool] = lambda: False,
    ) -> list[loadgen.LevelRecord]:
        """Run Locust to the end of its sweep, handing over each level as it completes.

        Stops early, keeping what was measured, if the target dies or ``stop`` says so.
        """
        records: list[loadgen.LevelRecord] = []
        with contextlib.ExitStack() as stack:
            # Entered before the start, so a start that fails half-way stops what it started.
            stack.callback(locust.stop)
            locust.start()
            for number, pid in enumerate(locust.pids):
                sampler.watch(f"generator-{number}", pid)
                stack.callback(sampler.forget, f"generator-{number}")
            while True:
                finished = not locust.running()
                for level in locust.collect():
                    records.append(level)
                    on_level(level)
                if finished or stop():
                    break
                if server is not None and not server.running():
                    break
                self.progress.tick(locust.live_rps())
                time.sleep(_POLL_S)
        for host, count in distributed.joined_hosts(sorted(locust.workers_seen)).items():
            self._worker_hosts[host] = max(count, self._worker_hosts.get(host, 0))
        return records

    def _sampled(
        self,
        cell: results.Cell,
        level: loadgen.LevelRecord,
        sampler: TreeSampler,
        locust: loadgen.LocustRun,
        scenario: scenarios.Scenario,
        deployment: _Deployment,
    ) -> levels.Sampled:
        """What the sampler saw of the level's processes, for levels.level_result."""
        start, end = level.started, level.ended
        generators = [f"generator-{number}" for number in range(len(locust.pids))]
        used = [sampler.summary(name, start, end) for name in generators]
        target = sampler.summary(results.cell_key(cell), start, end)

        def service(name: str, cpus: int) -> levels.ServiceSample:
            return levels.ServiceSample(
                sampler.summary(name, start, end), sampler.busiest(name, start, end), cpus
            )

        upstream = database = None
        if "upstream" in scenario.dependencies and deployment.upstream is not None:
            upstream = service(UPSTREAM, services.upstream_cpus(self.budget))
        if "database" in scenario.dependencies and deployment.database is not None:
            database = service(DATABASE, deployment.database.cpus)
        return levels.Sampled(
            generator_busiest=[sampler.busiest(name, start, end) for name in generators],
            generator_means=[summary.cpu_percent_mean if summary else None for summary in used],
            # Locust and the upstream share the CPUs the targets leave.
            generator_cpus=services.upstream_cpus(self.budget),
            target=target,
            target_cpus_busy=sampler.cpus_busy(start, end) if target is not None else None,
            upstream=upstream,
            database=database,
        )


@dataclass(frozen=True)
class _Deployment:
    """What the targets of a run call, and the processes behind it where the run has them."""

    upstream_url: str
    database_url: str | None
    # The upstream service, where the run started it (not given by --upstream-url).
    upstream: supervisor.ManagedProcess | None
    # PostgreSQL's processes, where they could be found (to sample them).
    database: services.Database | None


def _disturbed(cell: results.Cell) -> list[results.LevelResult]:
    """The cell's levels flagged only for a disturbance from outside the target, which a new
    attempt may not meet; a level flagged for anything the target or the load did is kept."""
    return [level for level in cell.levels if level.flags and set(level.flags) <= DISTURBANCE_FLAGS]


def _replace_cell(run: results.Run, index: int, cell: results.Cell) -> results.Run:
    cells = list(run.cells)
    cells[index] = cell
    return run.model_copy(update={"cells": cells})
