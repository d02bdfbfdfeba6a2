"""The bounds on a level's throughput: operational analysis of a closed system.

A closed-loop load of N users, each request taking at least R0 seconds, cannot complete more
than N / R0 requests per second (Little's law), and no resource with S slots (threads, pool
connections, cores) that each request holds for D seconds lets more than S / D through
(Denning & Buzen's asymptotic bounds: X <= min(N / R0, 1 / D_max)). Every term here is one
resource that can limit a level; the smallest is the level's ceiling, and its name says what
the plateau is.

The target's CPU demand D is measured on the target itself, at the level it limits: its
process tree's CPU seconds over the level divided by the requests it completed (the utilisation
law, D = U / X). It is not a constant: it falls as load rises (one wake-up of an event loop or
a gevent hub serves more requests) and rises past saturation (more sockets to poll), so a
demand taken at one level is not a bound at another.

An open-loop level (an arrival rate) is an open system: nothing but its arrivals limits it, so
its throughput is at most the rate offered, the arrivals scheduled in the hold over the hold.
Little's law still holds for what is in flight, N = X x R: the generator's senders are the most
that can be (a request waits for a free one beyond them, and is counted late), so X <= senders /
R0 is a true bound too, in the place of N / R0. With senders for 2 s of arrivals
(blockbench.load.arrivals) it is 20 times the offered rate for 100 ms requests and never binds
unless the senders were capped; the offered rate, or the target's own limits, bind instead.
Completions are counted in the hold, the arrivals that answer them a service time earlier: at
a rate the target keeps, the two differ by the Poisson noise of one service time's arrivals at
each edge (100 ms in a 5 s hold: a 2% window), so efficiency may read a little over 1 there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from blockbench import formats
from blockbench.apps import contract
from blockbench.load.scenarios import Scenario
from blockbench.results import Bound, BoundKind, Cap, Cell, LevelResult, Run
from blockbench.targets.catalogue import CapKind

# The order terms are listed in, and the tie-break when two allow the same rate: the resource
# a reader can act on first (a pool size before the CPU it runs on).
_ORDER = ("users", "capacity", "pool", "target_cpu", "database", "upstream", "generator")


@dataclass(frozen=True)
class RequestPath:
    """What one request of a scenario holds on its way, averaged over the scenario's mix."""

    # The least time it waits: sleeps, upstream calls in sequence, queries (seconds).
    wait_s: float = 0.0
    # Upstream calls it makes, and how long each holds a pooled connection.
    upstream_calls: float = 0.0
    upstream_call_s: float = 0.0
    # Whether its calls go out at once (fan-out "par"): blocking code then needs a pool task
    # for each.
    parallel_calls: bool = False
    # Seconds it holds a database connection.
    db_hold_s: float = 0.0
    # The share of requests whose CPU work runs in the process pool.
    offloaded: float = 0.0
    # The share of requests that block their thread without yielding (/io/blocking), and
    # for how long: on an event loop that holds the whole loop.
    blocking: float = 0.0
    blocking_s: float = 0.0

    @classmethod
    def of(cls, scenario: Scenario, mix: Mapping[str, int] | None = None) -> RequestPath:
        """The scenario's path, its requests weighted as the catalogue weighs them or, given
        ``mix`` (successful requests per path in a level), as they were actually sent: with
        one user, a mix of 100 ms waits and 12 ms CPU requests drawn at random in 1:9 can
        have a tenth more of the short ones in a level, and so complete more."""
        weights = [request.weight for request in scenario.requests]
        paths = [request.path for request in scenario.requests]
        if mix and len(set(paths)) == len(paths) and sum(mix.get(p, 0) for p in paths) > 0:
            weights = [mix.get(path, 0) for path in paths]
        total = sum(weights)
        wait = calls = call_s = db = offloaded = blocking = blocking_s = 0.0
        parallel = False
        for request, weight in zip(scenario.requests, weights, strict=True):
            share = weight / total
            params = request.params
            ms = int(params.get("ms", 0)) / 1000
            endpoint = request.endpoint
            # /cpu-then-sleep's CPU is not a wait: the target's measured CPU demand counts it.
            if endpoint in (contract.IO_SLEEP, contract.IO_BLOCKING, contract.CPU_THEN_SLEEP):
                wait += share * ms
            if endpoint is contract.IO_BLOCKING:
                blocking += share
                blocking_s = ms
            elif endpoint is contract.IO_UPSTREAM:
                wait += share * ms
                calls += share
                call_s = ms
            elif endpoint in (contract.IO_DB, contract.IO_DB_ROW):
                wait += share * ms
                db += share * ms
            elif endpoint is contract.IO_FANOUT:
                n = int(params["n"])
                parallel = parallel or params["mode"] == "par"
                wait += share * (ms if params["mode"] == "par" else n * ms)
                calls += share * n
                call_s = ms
            elif endpoint is contract.CPU and params["offload"] == "process":
                offloaded += share
        return cls(wait, calls, call_s, parallel, db, offloaded, blocking, blocking_s)


@dataclass(frozen=True)
class Measured:
    """What a level measured that its bounds depend on."""

    users: int
    # The target's CPU seconds per completed request, from its own processes; None when its
    # processes are not ours to sample (a --target-url target).
    cpu_demand_s: float | None
    # PostgreSQL's CPU seconds per request and the CPUs it may use, where it was sampled.
    database_demand_s: float | None = None
    database_cpus: int | None = None
    # The load generator's CPU seconds per request, the upstream's added where it shares the
    # generator's CPUs, and how many CPUs those are.
    generator_demand_s: float | None = None
    generator_cpus: int | None = None
    # An open-loop level: ``users`` are then its senders, and this its offered arrivals.
    offered: Offered | None = None


@dataclass(frozen=True)
class Offered:
    """An open-loop level's arrivals: those scheduled in its hold, and the nominal rate."""

    scheduled: int
    window_s: float
    rate_rps: float


@dataclass(frozen=True)
class Setting:
    """What the run and the cell configured: the target's slots, cores and the services'
    measured ceilings."""

    caps: Sequence[Cap]
    cores: int
    # The concurrency model (catalogue.Model): on an event loop a call that does not yield
    # holds every request of its worker.
    model: str | None
    generator_rps: float | None
    upstream_calls_rps: float | None


def level_bounds(path: RequestPath, measured: Measured, setting: Setting) -> list[Bound]:
    """Every bound on the level's throughput, the tightest first."""
    demand = measured.cpu_demand_s
    least = path.wait_s + (demand or 0.0)
    slots = _Slots(setting.caps)
    bounds: list[Bound] = []

    def add(kind: str, name: str, rps: float, detail: str) -> None:
        bounds.append(Bound(kind=kind, name=name, rps=round(rps, 2), detail=detail))  # type: ignore[arg-type]

    latency = _least_latency(path, demand)
    offered = measured.offered
    # In flight at most the users, or an open loop's senders (Little's law; see above).
    noun = "user" if offered is None else "sender"
    if least > 0:
        who = _counted(measured.users, noun)
        add("users", f"{noun}s", measured.users / least, f"{who} / {latency}")
    if offered is not None and offered.window_s > 0:
        add(
            "users",
            "offered rate",
            offered.scheduled / offered.window_s,
            f"{offered.scheduled} arrivals in the {offered.window_s:g} s hold "
            f"({formats.rps(offered.rate_rps)} req/s offered)",
        )
    model = slots.model()
    if model is not None and least > 0:
        name, capacity = model
        add("capacity", name, capacity / least, f"{capacity} in flight / {latency}")
    loops = slots.event_loops(setting.model)
    if path.blocking and loops:
        # A sleep that does not yield holds the event loop's one thread: each worker's loop
        # serves one such request at a time, whatever its concurrency (a2wsgi's threads too
        # wait on their process's one loop).
        hold = path.blocking * path.blocking_s
        add(
            "capacity",
            "event loop blocked by a sync call",
            loops / hold,
            f"{_counted(loops, 'event loop')} / {formats.ms(hold * 1000)} blocked per request",
        )
    if path.upstream_calls:
        hold = path.upstream_calls * path.upstream_call_s
        for name, total in slots.pools("http_pool"):
            add("pool", name, total / hold, _held(total, "connection", hold))
        if path.parallel_calls:
            for name, total in slots.pools("fanout_pool"):
                add("pool", name, total / hold, _held(total, "task", hold))
    if path.db_hold_s:
        hold = path.db_hold_s
        kinds: tuple[CapKind, ...] = ("db_pool", "max_connections")
        for kind in kinds:
            for name, total in slots.pools(kind):
                add("pool", name, total / hold, _held(total, "connection", hold))
    if path.offloaded and demand:
        hold = path.offloaded * demand
        for name, total in slots.pools("process_pool"):
            add("pool", name, total / hold, f"{total} processes / {formats.ms(hold * 1000)} of CPU")
    if demand:
        what = "of CPU per request, measured on the target"
        bounds.append(_cpu_term("target_cpu", "target CPU", setting.cores, "core", demand, what))
    if measured.database_demand_s and measured.database_cpus:
        cpus, used = measured.database_cpus, measured.database_demand_s
        bounds.append(_cpu_term("database", "PostgreSQL CPU", cpus, "CPU", used, "per request"))
    calls = path.upstream_calls
    if setting.upstream_calls_rps and calls:
        add(
            "upstream",
            "upstream service",
            setting.upstream_calls_rps / calls,
            f"{formats.rps(setting.upstream_calls_rps)} calls/s / {calls:g} per request",
        )
    if measured.generator_demand_s and measured.generator_cpus:
        cpus, used = measured.generator_cpus, measured.generator_demand_s
        what = "of Locust's (and the upstream's) CPU per request"
        bounds.append(_cpu_term("generator", "load generator CPU", cpus, "CPU", used, what))
    if setting.generator_rps:
        add(
            "generator",
            "load generator",
            setting.generator_rps,
            "the most it sent to an upstream answering at once",
        )
    return sorted(bounds, key=lambda bound: (bound.rps, _ORDER.index(bound.kind)))


def binding(bounds: Sequence[Bound]) -> Bound | None:
    """The tightest bound: the one that names what limits the level."""
    return bounds[0] if bounds else None


def efficiency(rps: float, bounds: Sequence[Bound]) -> float | None:
    tightest = binding(bounds)
    return rps / tightest.rps if tightest and tightest.rps > 0 else None


def cpu_demand_s(level: LevelResult) -> float | None:
    """The target's CPU seconds per completed request at this level, from its process tree."""
    resources = level.target_resources
    if resources is None or resources.cpu_percent_mean is None or level.rps <= 0:
        return None
    # Every completed request used CPU, a failed one too.
    completed = level.rps * level.requests / level.successes if level.successes else 0.0
    return resources.cpu_percent_mean / 100 / completed if completed > 0 else None


def database_demand_s(level: LevelResult) -> tuple[float | None, int | None]:
    database = level.database
    if database is None or database.resources is None or level.rps <= 0:
        return None, None
    mean = database.resources.cpu_percent_mean
    if mean is None:
        return None, None
    return mean / 100 / level.rps, database.cpus


def generator_demand_s(level: LevelResult) -> float | None:
    """The CPU seconds per request of the generator's CPUs: Locust's processes and, where it
    was sampled beside them, the upstream service."""
    used = level.generator.cpu_percent_mean
    if used is None or level.rps <= 0:
        return None
    upstream = level.upstream
    if upstream is not None and upstream.resources and upstream.resources.cpu_percent_mean:
        used += upstream.resources.cpu_percent_mean
    return used / 100 / level.rps


def for_level(run: Run, cell: Cell, level: LevelResult, scenario: Scenario) -> list[Bound]:
    """The bounds of a recorded level, from what it and its run recorded."""
    db_demand, db_cpus = database_demand_s(level)
    open_loop = level.open_loop
    measured = Measured(
        level.users if open_loop is None else open_loop.senders,
        cpu_demand_s(level),
        db_demand,
        db_cpus,
        generator_demand_s(level),
        level.generator.cpus,
        None
        if open_loop is None
        else Offered(open_loop.scheduled, level.window_s, open_loop.offered_rps),
    )
    path = RequestPath.of(scenario, level.mix)
    return level_bounds(path, measured, setting_for(run, cell))


def setting_for(run: Run, cell: Cell) -> Setting:
    return Setting(
        caps=cell.caps,
        cores=target_cores(run),
        model=cell.model,
        generator_rps=run.generator_ceiling_rps,
        upstream_calls_rps=run.upstream_ceiling_rps,
    )


def target_cores(run: Run) -> int:
    """The cores the run's targets had: the CPUs they were pinned to."""
    # Unpinned (a platform that cannot pin): the targets had every CPU.
    return len(run.environment.target_cpus or []) or run.environment.cpu_count


def _cpu_term(
    kind: BoundKind, name: str, cpus: int, noun: str, demand_s: float, what: str
) -> Bound:
    """A CPU's bound: its CPUs over the CPU seconds each request costs it."""
    detail = f"{_counted(cpus, noun)} / {formats.ms(demand_s * 1000)} {what}"
    return Bound(kind=kind, name=name, rps=round(cpus / demand_s, 2), detail=detail)


def _counted(number: int, noun: str) -> str:
    return f"{number} {noun}{'s' if number != 1 else ''}"


def _least_latency(path: RequestPath, demand: float | None) -> str:
    parts = []
    if path.wait_s:
        parts.append(f"{formats.ms(path.wait_s * 1000)} waiting")
    if demand:
        parts.append(f"{formats.ms(demand * 1000)} of CPU")
    return " + ".join(parts) or "0 ms"


def _held(total: int, noun: str, hold: float) -> str:
    return f"{total} {noun}s / {formats.ms(hold * 1000)} held per request"


# Caps recorded before they had kinds, recognised by the names the catalogue gave them.
_KIND_BY_NAME: tuple[tuple[str, CapKind], ...] = (
    ("server workers", "workers"),
    ("upstream HTTP pool", "http_pool"),
    ("fan-out", "fanout_pool"),
    ("database pool", "db_pool"),
    ("CPU process pool", "process_pool"),
    ("PostgreSQL max_connections", "max_connections"),
)


def in_flight(caps: Sequence[Cap]) -> int | None:
    """The most requests the target's concurrency model serves at once; None where it sets no
    limit (an event loop)."""
    model = _Slots(caps).model()
    return None if model is None else model[1]


def cap_kind(cap: Cap) -> CapKind | None:
    if cap.kind is not None:
        return cap.kind
    if cap.where == "worker":
        return "model"
    for prefix, kind in _KIND_BY_NAME:
        if cap.name.startswith(prefix):
            return kind
    return None


class _Slots:
    """The cell's caps as slots for the whole target: per-process sizes times its workers."""

    def __init__(self, caps: Sequence[Cap]) -> None:
        self._caps = [(cap_kind(cap), cap) for cap in caps]

    def workers(self) -> int:
        for kind, cap in self._caps:
            if kind == "workers" and cap.value:
                return cap.value
        return 1

    def model(self) -> tuple[str, int] | None:
        """The concurrency model's own limit: workers x (1 | threads | connections)."""
        for kind, cap in self._caps:
            if kind == "model" and cap.value is not None:
                one_each = cap.name.startswith("one request per worker")
                name = "worker processes" if one_each else cap.name
                return name, cap.value * self.workers()
        return None

    def event_loops(self, model: str | None) -> int:
        """The event loops the async endpoints run on, one per worker where they share one;
        runs recorded before the cap existed say so by their model alone."""
        loops = sum(total for _, total in self.pools("event_loop"))
        if not loops and model == "event-loop":
            return self.workers()
        return loops

    def pools(self, wanted: CapKind) -> list[tuple[str, int]]:
        found = []
        for kind, cap in self._caps:
            if kind != wanted or cap.value is None:
                continue
            per = self.workers() if cap.where in ("process", "worker") else 1
            found.append((cap.name, cap.value * per))
        return found
