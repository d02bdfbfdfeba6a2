"""The results schema: what one run measured, as written under ``results/<run-id>/``.

Versioned (``schema_version``) and validated on read, because the report, ``compare`` and
``run --resume`` read files that may come from another machine or an older blockbench. The
JSON Schema generated from these models is committed as ``docs/results.schema.json``.

Layout of a run folder:
    run.json                    the Run below, rewritten atomically after every level
    levels/<cell>/<users>.json  one LevelResult per finished level, written atomically
    locust/<cell>/<users>_*.csv Locust's own request and failure tables for that level
    logs/                       the servers' and the load generator's logs
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from blockbench.errors import BlockbenchError
from blockbench.targets.catalogue import CapKind

SCHEMA_VERSION = 1
RUN_FILE = "run.json"
LEVELS_DIR = "levels"
# A level whose failed requests exceed this share is flagged and never shown as throughput.
FAILURE_THRESHOLD = 0.01
# A load generator process above this CPU share can no longer keep its users busy: Locust
# itself warns at 90%.
GENERATOR_CPU_LIMIT = 90.0
# A level that served this share of what the generator itself can send (its ceiling, measured
# against the 0 ms upstream) may have been held back by the generator, whatever its CPU said.
GENERATOR_CEILING_SHARE = 0.8
# The same two rules for the upstream service, so a level it held back is never a result: its
# busiest process at this CPU share, or its call rate at this share of its measured ceiling.
UPSTREAM_CPU_LIMIT = 90.0
UPSTREAM_CEILING_SHARE = 0.8
# PostgreSQL's whole process tree at this share of the CPUs it may use.
DATABASE_CPU_SHARE = 0.9
# The utilisation law (U = X x D) checked with two instruments: the kernel's busy time of the
# target's cores, and throughput times the CPU demand measured from the target's own processes.
# A level where they differ by more than this share has a measurement that is wrong: something
# outside the target ran on its cores, or part of the target was not sampled.
UTILISATION_LAW_TOLERANCE = 0.15
# ... or by more than this much of a core, below which the kernel's tick counters cannot tell.
UTILISATION_LAW_FLOOR = 0.03

Flag = Literal[
    "failures_above_threshold",
    "generator_saturated",
    "near_generator_ceiling",
    "no_successes",
    "upstream_bound",
    "database_bound",
    "utilisation_law_off",
    "target_unsampled",
]
Status = Literal["running", "complete", "partial"]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Latency(Model):
    """Response times of the level's requests, in milliseconds, as Locust recorded them."""

    p50: float | None
    p90: float | None
    p99: float | None
    max: float | None
    mean: float | None


class Failures(Model):
    total: int = 0
    timeouts: int = 0
    server_errors: int = Field(default=0, description="HTTP 5xx answers")
    client_errors: int = Field(default=0, description="HTTP 4xx answers")
    connection_errors: int = Field(default=0, description="refused, reset or closed connections")
    other: int = 0
    # Locust's own error strings with their counts, for the curious.
    messages: dict[str, int] = Field(default_factory=dict)


class Resources(Model):
    """A process tree sampled through the level (psutil): the whole tree, summed per sample."""

    samples: int
    cpu_percent_mean: float | None = Field(description="100 = one core busy")
    cpu_percent_max: float | None
    rss_mib_max: float | None
    threads_max: int | None
    processes_max: int | None


class Generator(Model):
    processes: int
    cpu_percent_max: float | None = Field(description="the busiest generator process")
    saturated: bool
    # Its processes' CPU together, mean over the level (100 = one core), and the CPUs they
    # (and the upstream, started beside them) may use; None in runs recorded before.
    cpu_percent_mean: float | None = None
    cpus: int | None = None


class Service(Model):
    """A service beside the target (the upstream, PostgreSQL) as it was during the level."""

    resources: Resources | None
    busiest_cpu_percent: float | None = Field(description="its busiest single process")
    cpus: int = Field(description="the CPUs it may run on")
    calls_rps: float | None = Field(
        default=None, description="calls per second it served for the target (upstream only)"
    )


BoundKind = Literal["users", "capacity", "pool", "target_cpu", "generator", "upstream", "database"]


class Bound(Model):
    """One resource's limit on a level's throughput (operational analysis: X <= N / R0 and
    X <= 1 / D for each resource). blockbench.engine.bounds computes them."""

    kind: BoundKind
    name: str = Field(description='what limits, in words: "users", "gunicorn --threads", ...')
    rps: float = Field(description="the most requests per second this resource allows")
    detail: str = Field(description="the arithmetic, e.g. '250 users / 100.4 ms'")


class LevelResult(Model):
    scenario: str
    target: str
    repeat: int
    users: int
    window_s: float = Field(description="seconds over which requests were counted")
    requests: int
    successes: int
    rps: float = Field(description="successful responses per second")
    latency: Latency
    failures: Failures
    failure_rate: float
    ceiling_rps: float | None = Field(description="the tightest of the level's bounds")
    efficiency: float | None = Field(description="rps / ceiling_rps")
    # Every bound computed for the level, the tightest first; `binding` names the tightest.
    bounds: list[Bound] = Field(default_factory=list)
    binding: str | None = None
    target_cpu_demand_ms: float | None = Field(
        default=None,
        description="the target's CPU per completed request: its process tree's CPU seconds "
        "in the level / the requests it completed",
    )
    target_cpu_utilisation: float | None = Field(
        default=None,
        description="the busy share of the target's CPUs by the kernel's counters (1 = all)",
    )
    # Successful requests per endpoint path, as sent in the level (the bounds weigh a mixed
    # scenario's requests by it); empty in runs recorded before it was kept.
    mix: dict[str, int] = Field(default_factory=dict)
    target_resources: Resources | None
    generator: Generator
    upstream: Service | None = None
    database: Service | None = None
    flags: list[Flag]
    # Locust's response-time histogram (rounded ms -> count), kept so percentiles can be
    # recomputed and several generator processes merged.
    histogram: dict[int, int]

    @property
    def valid(self) -> bool:
        return not self.flags


class Cap(Model):
    """One concurrency limit on a request's path, as configured for this cell."""

    name: str
    value: int | None = Field(description="None means unbounded")
    where: str
    # Which limit it is, for the bounds; None in runs recorded before bounds had kinds.
    kind: CapKind | None = None


class Cell(Model):
    """One scenario on one target, one repeat: its configuration and its levels."""

    scenario: str
    target: str
    repeat: int
    url: str
    # Given with --target-url: not started by blockbench, so its capacity is the catalogue's.
    external: bool = False
    model: str | None
    capacity: int | None = Field(description="requests in flight at once; None = unbounded")
    service_time_ms: float = Field(
        description="the least time a request waits (sleeps, calls, queries), mean over the "
        "scenario's requests; the bounds add the CPU demand measured on the target"
    )
    cpu_bound: bool
    caps: list[Cap]
    # The client its endpoints called the upstream with, for scenarios that call it.
    upstream_client: str | None = None
    upstream_client_version: str | None = None
    planned_levels: list[int]
    levels: list[LevelResult] = Field(default_factory=list)
    error: str | None = None

    @property
    def missing_levels(self) -> list[int]:
        """Planned levels with no result yet, in the order planned."""
        done = {level.users for level in self.levels}
        return [level for level in self.planned_levels if level not in done]


class Aggregate(Model):
    """A level across repeats: medians, with a bootstrap 95% interval when repeats > 1."""

    scenario: str
    target: str
    users: int
    repeats: int
    valid: bool
    rps: float
    rps_low: float
    rps_high: float
    p50_ms: float | None
    p99_ms: float | None
    efficiency: float | None
    ceiling_rps: float | None
    # The bound that limits the level most often across repeats.
    binding: str | None = None


class Environment(Model):
    cpu_model: str
    cpu_count: int
    os: str
    python: str
    packages: dict[str, str]
    git_commit: str | None
    git_dirty: bool | None
    target_cpus: list[int] | None
    generator_cpus: list[int] | None
    pinning: str


class Source(Model):
    """One run a merged run took cells from (``blockbench merge``): what to run to get them."""

    run_id: str
    scenarios: list[str]
    # The targets it measured those scenarios on (every pair is from this run).
    targets: list[str]
    command: list[str]
    git_commit: str | None
    git_dirty: bool | None
    created: str
    repeat: int


class Run(Model):
    schema_version: int = SCHEMA_VERSION
    run_id: str
    status: Status
    created: str
    finished: str | None = None
    command: list[str]
    profile: str
    scenarios: list[str]
    targets: list[str]
    levels: list[int]
    warmup_s: float
    hold_s: float
    repeat: int
    generator_processes: int
    generator_ceiling_rps: float | None = Field(
        description="req/s the generator reached against the 0 ms upstream"
    )
    upstream_ceiling_rps: float | None = Field(
        default=None,
        description="calls/s the upstream service can serve: its CPUs / its CPU per call",
    )
    upstream_cpu_us_per_call: float | None = None
    # Environment given to every target's app with --app-env, kept so --resume reuses it.
    app_env: dict[str, str] = Field(default_factory=dict)
    environment: Environment
    cells: list[Cell]
    aggregates: list[Aggregate] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    # Set by `blockbench merge`: the runs its cells come from, each with its own command.
    sources: list[Source] = Field(default_factory=list)


def flags_for(
    *,
    successes: int,
    failure_rate: float,
    rps: float,
    generator_cpu: float | None,
    generator_ceiling_rps: float | None,
    upstream: Service | None = None,
    upstream_ceiling_rps: float | None = None,
    database: Service | None = None,
    utilisation: UtilisationLaw | None = None,
    target_unsampled: bool = False,
) -> list[Flag]:
    """Why a level cannot be reported as a result; empty when it can. The one place the
    validity rules live: the engine applies them as it measures, and again when a run ends."""
    flags: list[Flag] = []
    if successes == 0:
        flags.append("no_successes")
    if failure_rate > FAILURE_THRESHOLD:
        flags.append("failures_above_threshold")
    if generator_cpu is not None and generator_cpu >= GENERATOR_CPU_LIMIT:
        flags.append("generator_saturated")
    if generator_ceiling_rps and rps >= GENERATOR_CEILING_SHARE * generator_ceiling_rps:
        flags.append("near_generator_ceiling")
    if upstream is not None and _upstream_bound(upstream, upstream_ceiling_rps):
        flags.append("upstream_bound")
    if database is not None and _share(database) >= DATABASE_CPU_SHARE:
        flags.append("database_bound")
    if utilisation is not None and not utilisation.holds:
        flags.append("utilisation_law_off")
    if target_unsampled:
        # Without the target's CPU there is no CPU bound, nor a utilisation law to check.
        flags.append("target_unsampled")
    return flags


class UtilisationLaw(Model):
    """The utilisation law U = X x D on one level, from two instruments, in cores busy."""

    # U: the kernel's busy time of the target's CPUs over the level.
    kernel_cores: float
    # X x D: throughput times the CPU per request of the target's processes, i.e. the CPU its
    # process tree used over the level.
    target_cores: float

    @property
    def holds(self) -> bool:
        gap = abs(self.kernel_cores - self.target_cores)
        allowed = max(
            UTILISATION_LAW_TOLERANCE * max(self.kernel_cores, self.target_cores),
            UTILISATION_LAW_FLOOR,
        )
        return gap <= allowed

    @classmethod
    def of(cls, level: LevelResult, cores: int) -> UtilisationLaw | None:
        """The law on a recorded level, where both instruments recorded it."""
        resources = level.target_resources
        if (
            level.target_cpu_utilisation is None
            or resources is None
            or resources.cpu_percent_mean is None
        ):
            return None
        return cls(
            kernel_cores=level.target_cpu_utilisation * cores,
            target_cores=resources.cpu_percent_mean / 100,
        )


def _upstream_bound(upstream: Service, ceiling_rps: float | None) -> bool:
    busiest = upstream.busiest_cpu_percent
    if busiest is not None and busiest >= UPSTREAM_CPU_LIMIT:
        return True
    calls = upstream.calls_rps
    return bool(ceiling_rps and calls and calls >= UPSTREAM_CEILING_SHARE * ceiling_rps)


def _share(service: Service) -> float:
    """The service's mean CPU as a share of the CPUs it may use (1.0 = all of them busy)."""
    resources = service.resources
    if resources is None or resources.cpu_percent_mean is None:
        return 0.0
    return resources.cpu_percent_mean / (100 * max(service.cpus, 1))


class ResultsError(BlockbenchError):
    """A results folder or file that cannot be read; says which and why."""


def write_atomically(path: Path, text: str) -> None:
    """Write via a temporary file and rename, so a reader or a crash never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        # mkstemp makes the file private (0600); results are meant to be read and shared.
        os.chmod(temporary, 0o666 & ~_umask())
        with os.fdopen(handle, "w") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def save_run(folder: Path, run: Run) -> None:
    write_atomically(folder / RUN_FILE, run.model_dump_json(indent=2))


def save_level(folder: Path, cell: Cell, level: LevelResult) -> Path:
    path = folder / LEVELS_DIR / cell_key(cell) / f"{level.users}.json"
    write_atomically(path, level.model_dump_json(indent=2))
    return path


def cell_key(cell: Cell) -> str:
    return f"{cell.scenario}__{cell.target}__r{cell.repeat}"


def load_run(folder: Path) -> Run:
    path = folder / RUN_FILE if folder.is_dir() else folder
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ResultsError(
            f"{path} does not exist: is {folder} a blockbench results folder?"
        ) from None
    except (OSError, json.JSONDecodeError) as exc:
        raise ResultsError(f"{path} cannot be read as JSON: {exc}") from exc
    version = data.get("schema_version") if isinstance(data, dict) else None
    if version != SCHEMA_VERSION:
        raise ResultsError(
            f"{path} has results schema version {version!r}; this blockbench reads version "
            f"{SCHEMA_VERSION}. Re-run it, or use the blockbench version that wrote it."
        )
    try:
        return Run.model_validate(data)
    except ValueError as exc:
        raise ResultsError(f"{path} does not match the results schema: {exc}") from exc


def json_schema() -> str:
    return json.dumps(Run.model_json_schema(), indent=2, sort_keys=True) + "\n"
