"""The results schema: what one run measured, as the engine writes it and the report reads it.

Versioned (``schema_version``) and validated on read (blockbench.results.store), because the
report, ``compare`` and ``run --resume`` read files that may come from another machine or an
older blockbench. The JSON Schema generated from these models is committed as
``docs/results.schema.json``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from blockbench.targets.catalogue import CapKind

SCHEMA_VERSION = 1

Flag = Literal[
    "failures_above_threshold",
    "generator_saturated",
    "near_generator_ceiling",
    "no_successes",
    "upstream_bound",
    "database_bound",
    "utilisation_law_off",
    "target_unsampled",
    "schedule_fell_behind",
]
# How an open-loop level spaces its arrivals: exponential gaps (a Poisson process) or equal ones.
Arrivals = Literal["poisson", "constant"]
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


class Percentiles(Model):
    """Latency percentiles of an open-loop level from an HDR histogram (3 significant digits),
    in milliseconds, over its successful requests."""

    count: int
    p50: float
    p90: float
    p99: float
    p999: float
    max: float


class OpenLoop(Model):
    """An open-loop level: requests sent at scheduled arrival times whether or not earlier ones
    have answered, so a stalled server is not sent fewer (no coordinated omission)."""

    arrivals: Arrivals
    offered_rps: float = Field(description="the arrival rate scheduled, requests per second")
    senders: int = Field(description="the concurrent senders that keep the schedule")
    scheduled: int = Field(description="sends due in the hold")
    late: int = Field(
        description="sends that left later than the schedule allows (no sender was free): "
        "the schedule waited on the server"
    )
    max_in_flight: int = Field(description="the most requests outstanding at once")
    unfinished: int = Field(
        default=0,
        description="requests due in the hold still unanswered when the level was written; "
        "counted in the corrected latency at the time they had waited, so its percentiles "
        "are then lower bounds",
    )
    # From each request's intended send time (what a user arriving then would see), and from
    # the moment it was actually sent (the server's service time); None with no success.
    corrected: Percentiles | None
    service: Percentiles | None
    # The corrected histogram, HdrHistogram's compressed base64 encoding, so the generator's
    # processes merge exactly and any percentile can be read again.
    hdr: str | None = None


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
    # validity.generator_saturated(cpu_percent_max): the rule its flag follows too.
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
    X <= 1 / D for each resource). blockbench.results.bounds computes them."""

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
    # An open-loop level (an arrival rate, `users` is then the rate's whole req/s): its schedule
    # and its latency from the intended send time; None for a closed-loop level.
    open_loop: OpenLoop | None = None

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
    # Planned open-loop levels not run because a lower one was already far past saturation
    # (validity.past_saturation): higher rates would only queue more on a server that is not
    # answering. Not missing, not failed: the lower level's result says why.
    skipped_past_saturation: list[int] = Field(default_factory=list)

    @property
    def missing_levels(self) -> list[int]:
        """Planned levels with no result yet and not skipped, in the order planned."""
        done = {level.users for level in self.levels} | set(self.skipped_past_saturation)
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
    # The open-files limit the run's processes inherited (raised to the hard limit where it was
    # lower): each connection in flight takes one at the generator and one at the target.
    open_files_limit: int | None = None


class LoadGenerator(Model):
    """How Locust sent the load: independent processes each walking the sweep with a share of
    the users, or a master with workers (Locust's distributed mode) that measure their shares
    of each hold and send them to the master."""

    mode: Literal["processes", "distributed"]
    # The Locust processes started on this machine: the processes, or the master's workers.
    local: int
    remote_workers: int = 0
    master_bind: str | None = Field(
        default=None, description="host:port the master listened on; None: loopback"
    )
    worker_hosts: dict[str, int] = Field(
        default_factory=dict,
        description="each machine whose workers sent measured levels, with how many workers",
    )


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
    # None in runs from before distributed mode: processes.
    load_generator: LoadGenerator | None = None
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


def rounded(value: float | None, digits: int = 2) -> float | None:
    """A measured number as the results store it: to the digits its instruments resolve."""
    return None if value is None else round(value, digits)
