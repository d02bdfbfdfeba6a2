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
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import psycopg

from blockbench import results
from blockbench.apps import contract, upstream_clients
from blockbench.engine import bounds, environment, plan
from blockbench.engine.progress import Progress
from blockbench.errors import BlockbenchError
from blockbench.load import loadgen, scenarios, stats
from blockbench.targets import catalogue, database, launch, pinning, services, supervisor
from blockbench.upstream import calibration as upstream_calibration

__all__ = ["Engine", "EngineError", "Outcome", "Progress", "RunOptions", "resume"]
from blockbench.engine.sampler import TreeSampler

REPO = loadgen.REPO
GENERATOR_CEILING_SWEEP = scenarios.Sweep(levels=(64,), warmup=1.0, hold=3.0)
UPSTREAM, DATABASE = "upstream", "database"
_POLL_S = 0.25


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
    processes: int = 1
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
        self._catalogue = catalogue.load(cores=options.target_cores or self.budget.cores)
        self.targets = self._catalogue.with_env(options.app_env)
        self.scenarios = scenarios.load()
        self.children: list[supervisor.Child] = []
        # The services beside the targets, while a run has them (sampled under these names).
        self._upstream: supervisor.ManagedProcess | None = None
        self._database: services.Database | None = None

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
            generator_processes=options.processes,
            generator_ceiling_rps=None,
            app_env=dict(options.app_env),
            environment=self._environment(),
            cells=cells,
            notes=self._notes(),
        )
        results.save_run(folder, run)
        return run, folder

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
        )

    def _notes(self) -> list[str]:
        notes = []
        if self.options.target_urls:
            cores = self.options.target_cores or self.budget.cores
            notes.append(
                "Targets given by --target-url were not started by blockbench: their capacity "
                f"is the catalogue's for {cores} core(s), which assumes they run with the "
                "catalogue's settings on that many cores."
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
            with (
                _sigterm_stops(),
                TreeSampler(cpus=self.budget.cpus) as sampler,
                self._services(run, folder, sampler) as urls,
                # The harness and the database keep off the targets' cores, so the kernel's
                # busy time of those cores is the targets' alone (the utilisation-law check).
                pinning.off_the_targets(
                    self.budget, [self._database.pid] if self._database else []
                ),
            ):
                upstream_url, database_url = urls
                if self.options.measure_generator and run.generator_ceiling_rps is None:
                    run = self._measure_generator(run, folder, upstream_url, sampler)
                if self._upstream is not None and run.upstream_ceiling_rps is None:
                    run = self._measure_upstream(run, self._upstream)
                run = self._with_caps(run, database_url)
                results.save_run(folder, run)
                for index, cell in enumerate(run.cells):
                    if not cell.missing_levels:
                        continue
                    cell = self._run_cell(run, folder, index, sampler, upstream_url, database_url)
                    run = _replace_cell(run, index, cell)
                    results.save_run(folder, run)
        except (KeyboardInterrupt, _Stop):
            interrupted = True
            run = results.load_run(folder)  # everything saved so far, no half-measured level
        finally:
            self._stop_children()
        run = _finish(run, folder, interrupted)
        return Outcome(run, folder, interrupted)

    @contextlib.contextmanager
    def _services(
        self, run: results.Run, folder: Path, sampler: TreeSampler
    ) -> Iterator[tuple[str, str | None]]:
        """The upstream service (started here unless given) and the database URL; both are
        sampled, where their processes can be found, so a level they held back is flagged."""
        needs: set[scenarios.Dependency] = set()
        for name in run.scenarios:
            needs |= self.scenarios.scenario(name).dependencies
        database_url = self.options.database_url or os.environ.get("DATABASE_URL") or None
        embedded = None
        if "database" in needs and database_url is None:
            embedded = self._embedded_database(run, folder)
            database_url = embedded.url
        if database_url is not None and "database" in needs:
            self._database = services.find_database(database_url)
            if self._database is not None:
                sampler.watch(DATABASE, self._database.pid)
        try:
            yield self._upstream_url(folder, sampler), database_url
        finally:
            self._database = None
            if embedded is not None:
                embedded.stop()
            if self._upstream is not None:
                sampler.forget(UPSTREAM)
                self._stop(self._upstream)
                self._upstream = None

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

    def _upstream_url(self, folder: Path, sampler: TreeSampler) -> str:
        """The given upstream's URL, or one started here (kept in ``_upstream``, sampled)."""
        if self.options.upstream_url:
            return self.options.upstream_url
        # One process per CPU it may use: the upstream shares them with the load generator.
        upstream = launch.start_upstream(
            supervisor.free_port(),
            self.budget,
            folder / "logs",
            processes=services.upstream_processes(self.budget),
        )
        self.children.append(upstream)
        self._upstream = upstream
        sampler.watch(UPSTREAM, upstream.pid)
        return upstream.url

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
        upstream_url: str,
        database_url: str | None,
    ) -> results.Cell:
        cell = run.cells[index]
        key = results.cell_key(cell)
        scenario = self.scenarios.scenario(cell.scenario)
        sweep = self._remaining_sweep(run, cell)
        self.progress.cell(index, len(run.cells), cell, sweep)
        target = self.targets.get(cell.target)
        server: supervisor.ManagedProcess | None = None
        url = self.options.target_urls.get(cell.target) or (cell.url if cell.external else None)
        if url is None:
            try:
                server = self._start_target(target, folder / "logs" / key,
                                            upstream_url, database_url)  # fmt: skip
            except supervisor.StartupError as exc:
                self.progress.warn(str(exc))
                return cell.model_copy(update={"error": str(exc)})
            url = server.url
            sampler.watch(key, server.pid)
        cell = cell.model_copy(update={"url": url})
        locust = loadgen.LocustRun(
            scenario.workload,
            url,
            sweep,
            folder / "locust" / key,
            processes=run.generator_processes,
            budget=self.budget,
            slots=bounds.in_flight(cell.caps),
        )

        def record(level: loadgen.LevelRecord) -> None:
            nonlocal cell
            result = self._level_result(run, cell, level, sampler, locust)
            results.save_level(folder, cell, result)
            cell = cell.model_copy(update={"levels": [*cell.levels, result]})
            results.save_run(folder, _replace_cell(run, index, cell))
            self.progress.level(result)

        try:
            self._drive(locust, sampler, record, server)
        finally:
            if server is not None:
                sampler.forget(key)
                self._stop(server)
        missing = cell.missing_levels
        if missing:
            why = locust.failure() or (
                f"{cell.target} stopped answering; see logs/{key}/"
                if server is not None and not server.running()
                else "the load generator reported no result for them"
            )
            cell = cell.model_copy(update={"error": f"levels {missing} missing: {why}"})
            self.progress.warn(f"{cell.scenario} on {cell.target}: {cell.error}")
        return cell

    def _start_target(
        self,
        target: catalogue.Target,
        log_dir: Path,
        upstream_url: str,
        database_url: str | None,
    ) -> supervisor.ManagedProcess:
        env = {"UPSTREAM_URL": upstream_url}
        if database_url:
            env["DATABASE_URL"] = database_url
        server = launch.start_target(
            target, port=supervisor.free_port(), budget=self.budget, log_dir=log_dir, env=env
        )
        self.children.append(server)
        return server

    def _drive(
        self,
        locust: loadgen.LocustRun,
        sampler: TreeSampler,
        on_level: Callable[[loadgen.LevelRecord], None],
        server: supervisor.ManagedProcess | None = None,
    ) -> list[loadgen.LevelRecord]:
        """Run Locust to the end of its sweep, handing over each level as it completes.

        Stops early, keeping what was measured, if the target dies.
        """
        locust.start()
        self.children.extend(locust.children)
        for number, pid in enumerate(locust.pids):
            sampler.watch(f"generator-{number}", pid)
        records: list[loadgen.LevelRecord] = []
        try:
            while True:
                finished = not locust.running()
                for level in locust.collect():
                    records.append(level)
                    on_level(level)
                if finished:
                    break
                if server is not None and not server.running():
                    break
                self.progress.tick(locust.live_rps())
                time.sleep(_POLL_S)
        finally:
            for number in range(len(locust.pids)):
                sampler.forget(f"generator-{number}")
            for child in locust.children:
                self._stop(child)
        return records

    def _level_result(
        self,
        run: results.Run,
        cell: results.Cell,
        level: loadgen.LevelRecord,
        sampler: TreeSampler,
        locust: loadgen.LocustRun,
    ) -> results.LevelResult:
        histogram = level.histogram
        successes = level.requests - level.failures
        window = max(level.window_s, 1e-9)
        # Each request credited with the share of its cycle in the hold (Locust's sweep shape):
        # a count over the window is off by the requests in hand at each edge.
        rps = level.rate_rps if level.rate_rps is not None else successes / window
        failure_rate = level.failures / level.requests if level.requests else 0.0
        names = [f"generator-{n}" for n in range(len(locust.pids))]
        busiest = [sampler.busiest(name, level.started, level.ended) for name in names]
        generator_cpu = max((b for b in busiest if b is not None), default=None)
        used = [sampler.summary(name, level.started, level.ended) for name in names]
        means = [u.cpu_percent_mean for u in used if u and u.cpu_percent_mean is not None]
        scenario = self.scenarios.scenario(cell.scenario)
        resources = sampler.summary(results.cell_key(cell), level.started, level.ended)
        measured = results.LevelResult(
            scenario=cell.scenario,
            target=cell.target,
            repeat=cell.repeat,
            users=level.level,
            window_s=round(level.window_s, 3),
            requests=level.requests,
            successes=successes,
            rps=round(rps, 2),
            latency=results.Latency(
                p50=stats.percentile(histogram, 0.50),
                p90=stats.percentile(histogram, 0.90),
                p99=stats.percentile(histogram, 0.99),
                max=float(max(histogram)) if histogram else None,
                mean=_rounded(stats.mean(histogram)),
            ),
            failures=loadgen.classify(level.errors),
            failure_rate=round(failure_rate, 5),
            ceiling_rps=None,
            efficiency=None,
            mix=dict(level.mix),
            # The kernel's view of the target's cores, where the target is ours: a target
            # given by URL may run anywhere.
            target_cpu_utilisation=(
                _rounded(sampler.cpus_busy(level.started, level.ended), 4)
                if resources is not None
                else None
            ),
            target_resources=resources,
            generator=results.Generator(
                processes=len(locust.pids),
                cpu_percent_max=_rounded(generator_cpu, 1),
                saturated=generator_cpu is not None
                and generator_cpu >= results.GENERATOR_CPU_LIMIT,
                cpu_percent_mean=_rounded(sum(means), 1) if len(means) == len(names) else None,
                # Locust and the upstream share the CPUs the targets leave.
                cpus=services.upstream_cpus(self.budget),
            ),
            upstream=self._service_during(UPSTREAM, sampler, level, scenario, rps),
            database=self._service_during(DATABASE, sampler, level, scenario, rps),
            flags=[],
            histogram=histogram,
        )
        return judge(run, cell, measured, scenario)

    def _service_during(
        self,
        name: str,
        sampler: TreeSampler,
        level: loadgen.LevelRecord,
        scenario: scenarios.Scenario,
        rps: float,
    ) -> results.Service | None:
        """The upstream or the database during ``level``, if the scenario uses it and its
        processes are known."""
        if name == UPSTREAM:
            if "upstream" not in scenario.dependencies or self._upstream is None:
                return None
            cpus = services.upstream_cpus(self.budget)
            calls: float | None = rps * bounds.RequestPath.of(scenario).upstream_calls
        else:
            if "database" not in scenario.dependencies or self._database is None:
                return None
            cpus, calls = self._database.cpus, None
        return results.Service(
            resources=sampler.summary(name, level.started, level.ended),
            busiest_cpu_percent=_rounded(sampler.busiest(name, level.started, level.ended), 1),
            cpus=cpus,
            calls_rps=_rounded(calls, 1),
        )

    def _stop(self, child: supervisor.Child) -> None:
        child.stop()
        with contextlib.suppress(ValueError):
            self.children.remove(child)

    def _stop_children(self) -> None:
        for child in reversed(self.children):
            child.stop()
        self.children.clear()


def _rounded(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def _replace_cell(run: results.Run, index: int, cell: results.Cell) -> results.Run:
    cells = list(run.cells)
    cells[index] = cell
    return run.model_copy(update={"cells": cells})


def aggregate(cells: Sequence[results.Cell]) -> list[results.Aggregate]:
    """Each (scenario, target, users) across repeats: medians and a bootstrap interval.

    Only valid levels count; where no repeat was valid the aggregate says so (valid=False)
    and carries the invalid numbers for the report to grey out, never to rank.
    """
    groups: dict[tuple[str, str, int], list[results.LevelResult]] = {}
    for cell in cells:
        for level in cell.levels:
            groups.setdefault((cell.scenario, cell.target, level.users), []).append(level)
    aggregates = []
    for (scenario, target, users), levels in groups.items():
        valid = [level for level in levels if level.valid]
        chosen = valid or levels
        middle, low, high = stats.median_interval([level.rps for level in chosen])
        aggregates.append(
            results.Aggregate(
                scenario=scenario,
                target=target,
                users=users,
                repeats=len(chosen),
                valid=bool(valid),
                rps=round(middle, 2),
                rps_low=round(low, 2),
                rps_high=round(high, 2),
                p50_ms=_median([level.latency.p50 for level in chosen]),
                p99_ms=_median([level.latency.p99 for level in chosen]),
                efficiency=_median([level.efficiency for level in chosen]),
                ceiling_rps=_median([level.ceiling_rps for level in chosen]),
                binding=_most_common([level.binding for level in chosen]),
            )
        )
    return aggregates


def _most_common(values: Sequence[str | None]) -> str | None:
    present = [value for value in values if value is not None]
    return statistics.mode(present) if present else None


def _median(values: Sequence[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return round(statistics.median(present), 4) if present else None


def judge(
    run: results.Run, cell: results.Cell, level: results.LevelResult, scenario: scenarios.Scenario
) -> results.LevelResult:
    """The level with its bounds and its validity flags computed from what it measured: the
    engine applies this as it measures, and again (revalidate) when a run ends."""
    found = bounds.for_level(run, cell, level, scenario)
    tightest = bounds.binding(found)
    demand = bounds.cpu_demand_s(level)
    level = level.model_copy(
        update={
            "bounds": found,
            "binding": tightest.name if tightest else None,
            "ceiling_rps": tightest.rps if tightest else None,
            "efficiency": _rounded(bounds.efficiency(level.rps, found), 4),
            "target_cpu_demand_ms": _rounded(demand * 1000 if demand else None, 3),
        }
    )
    flags = results.flags_for(
        successes=level.successes,
        failure_rate=level.failure_rate,
        rps=level.rps,
        generator_cpu=level.generator.cpu_percent_max,
        generator_ceiling_rps=run.generator_ceiling_rps,
        upstream=level.upstream,
        upstream_ceiling_rps=run.upstream_ceiling_rps,
        database=level.database,
        utilisation=results.UtilisationLaw.of(level, bounds.target_cores(run)),
        # A target the harness started is sampled; one given by URL may run anywhere.
        target_unsampled=not cell.external and level.target_resources is None,
    )
    return level.model_copy(update={"flags": flags})


def revalidate(run: results.Run) -> results.Run:
    """Apply the current bounds and validity rules to every stored level, saying so if that
    changes any. A run recorded by an older blockbench is then judged like a new one."""
    catalogue = scenarios.load()
    changed = 0
    cells = []
    for cell in run.cells:
        scenario = catalogue.scenario(cell.scenario)
        levels = []
        for level in cell.levels:
            judged = judge(run, cell, level, scenario)
            if judged != level:
                changed += 1
            levels.append(judged)
        cells.append(cell.model_copy(update={"levels": levels}))
    if not changed:
        return run
    note = (
        f"Bounds and validity re-computed with the rules of blockbench "
        f"{environment.blockbench_commit(REPO)}: {changed} level(s) changed."
    )
    return run.model_copy(update={"cells": cells, "notes": [*run.notes, note]})


def _finish(run: results.Run, folder: Path, interrupted: bool) -> results.Run:
    run = revalidate(run)
    complete = not interrupted and not any(cell.missing_levels for cell in run.cells)
    run = run.model_copy(
        update={
            "status": "complete" if complete else "partial",
            "finished": now(),
            "aggregates": aggregate(run.cells),
        }
    )
    results.save_run(folder, run)
    return run


def resume(results_dir: Path, run_id: str) -> results.Run:
    folder = results_dir / run_id
    if not folder.is_dir():
        known = sorted(p.name for p in results_dir.glob("*/") if (p / results.RUN_FILE).exists())
        raise EngineError(
            f"no run {run_id!r} in {results_dir}; the runs there: {', '.join(known) or 'none'}"
        )
    run = results.load_run(folder)
    return run.model_copy(update={"status": "running"})
