"""StepSweep: a Locust load shape that steps through concurrency levels, each held long enough
for a steady state, after a warm-up that is not counted.

The levels, warm-up and hold are the default profile's (blockbench/load/scenarios.toml), unless:
    BLOCKBENCH_PROFILE=full              another profile's levels, warm-up and hold
    BLOCKBENCH_LEVELS=1,10,50            users at each step, rising
    BLOCKBENCH_WARMUP=2                  seconds at each level before measuring
    BLOCKBENCH_HOLD=10                   seconds measured at each level
    BLOCKBENCH_RAMP=5                    seconds over which a level's users start
    BLOCKBENCH_LEVEL_STATS=levels.jsonl  append each level's statistics there, one JSON line each
    BLOCKBENCH_SLOTS=4                   the requests the target serves at once, if it caps them
A level's rate credits each completion over the span back to the K-th completion before it, K being
the users or, where fewer, the target's slots (see blockbench.load.completions). Its line is
written once K more requests have completed after its hold, usually during the next level's
warm-up; after the last level the users keep running until they have.

Distributed (``--master`` with ``--worker`` processes, which load this file too): the shape runs
on the master and tells the workers, by Locust's custom messages, when each warm-up and hold
begins and ends; each worker measures the hold as a lone process would (its own histogram and
completion-credited rate, on its own clock) and sends its record back. The master writes one
line per worker, marked with "worker" and "workers" (how many lines make the level), once every
worker that was there at the hold's start has sent its own. The master's aggregated statistics
are not used for levels: workers report them only every few seconds (WORKER_REPORT_INTERVAL),
which blurs a hold's edges by as much.
Headless, one workload:
    locust -f loadtests/workloads.py,loadtests/sweep.py --headless -H http://127.0.0.1:8001 Cpu
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import gevent
from locust import LoadTestShape, events
from locust.env import Environment
from locust.event import Events
from locust.rpc import Message
from locust.runners import STATE_MISSING, MasterRunner, Runner, WorkerRunner
from locust.stats import RequestStats

from blockbench.load import scenarios
from blockbench.load.completions import Departures, Hold

log = logging.getLogger("blockbench.sweep")

# How long after its hold a level may wait for the completions its rate needs before the rate is
# given up (the harness then counts completions): three times as long as they should take, at
# least a warm-up and a hold or SETTLE_SECONDS, at most SETTLE_LIMIT_SECONDS.
SETTLE_MARGIN = 3
SETTLE_SECONDS = 10.0
SETTLE_LIMIT_SECONDS = 120.0
# The master's messages to its workers, and theirs back: a level's warm-up (so a worker keeps
# enough completions to reach back over its users), its hold's start and end, and a worker's
# record of it.
WARMUP, HOLD_BEGIN, HOLD_END, LEVEL = (
    "blockbench_warmup", "blockbench_hold_begin", "blockbench_hold_end", "blockbench_level",
)  # fmt: skip
# How long past a worker's own settle limit the master waits for its record before the level is
# given up as missing (a worker that died or lost its connection).
GATHER_MARGIN_SECONDS = 15.0
# How often a worker looks whether a hold has settled.
WORKER_POLL_SECONDS = 0.2


# Locust ships types, but LoadTestShape's own methods are unannotated: hence the ignores.
class StepSweep(LoadTestShape):
    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        # Read when Locust loads the file, so a bad override fails before anything starts, with
        # the message alone rather than a traceback.
        try:
            self.sweep = scenarios.Sweep.from_env()
            self.slots = scenarios.slots_from_env()
        except scenarios.CatalogueError as exc:
            raise SystemExit(f"StepSweep: {exc}") from None
        if self.sweep.arrivals is not None:
            raise SystemExit(
                "StepSweep: this sweep's levels are arrival rates, an open loop; "
                "use loadtests/open_loop.py"
            )
        self.stats_path = os.environ.get(scenarios.LEVEL_STATS_ENV) or None
        self.phase: scenarios.Phase | None = None
        self.departures = Departures(memory=max(self.sweep.levels))
        self.hold: Hold | None = None
        # Levels measured whose records wait for their hold to settle, oldest first.
        self.unsettled: list[tuple[Hold, float, dict[str, Any]]] = []
        self.least_settle_s = max(SETTLE_SECONDS, self.sweep.warmup + self.sweep.hold)
        self.last_level: int | None = None
        self._listening_to: Events | None = None
        # On a master: levels measured on the workers, by index, whose records are still coming.
        self.gathering: dict[int, _Gathering] = {}

    def reset_time(self) -> None:
        # Locust calls this at every start, a restart from the web UI too: sweep from the top.
        super().reset_time()  # type: ignore[no-untyped-call]
        self._write_unsettled(give_up=True)
        self._give_up_gathering(time.time(), every=True)
        if self.hold is not None:
            self.departures.forget(self.hold)
            self.hold = None
        self.phase = None
        self.last_level = None

    def tick(self) -> tuple[int, float] | None:
        phase = self.sweep.phase_at(self.get_run_time())  # type: ignore[no-untyped-call]
        if phase is not None:
            # From the first warm-up on, so the completions before a hold are known.
            self._listen()
        if phase != self.phase:
            self._advance(self.phase, phase)
            self.phase = phase
        self._write_unsettled()
        self._give_up_gathering(time.time())
        if phase is not None:
            self.last_level = phase.level
            return phase.level, self.sweep.spawn_rate(phase.level)
        if (self.unsettled or self.gathering) and self.last_level is not None:
            # The last level's users run on until its rate's last completions have come.
            return self.last_level, self.sweep.spawn_rate(self.last_level)
        return None

    def _advance(self, old: scenarios.Phase | None, new: scenarios.Phase | None) -> None:
        if old is not None and old.stage == "hold":
            self._record(old)
        elif old is not None and (new is None or new.index != old.index):
            # Locust holds back ticks while it spawns users, so a ramp longer than warm-up and
            # hold together skips the hold.
            log.warning("level %d was never measured; give it a longer hold", old.level)
        if new is None:
            log.info("sweep done")
        elif new.stage == "warmup":
            log.info("level %d: warming up for %gs", new.level, self.sweep.warmup)
            if self._master() is not None:
                self._master_send(WARMUP, {"level": new.level})
        else:
            users: int = self.get_current_user_count()  # type: ignore[no-untyped-call]
            master = self._master()
            if master is not None:
                # The master's statistics are not the level's, and are not reset: they run on
                # for the live rate (Locust's current rate, over its last ten seconds).
                # Each worker measures its own share; these are the workers whose records make
                # the level.
                expected = tuple(master.clients)
                self.gathering[new.index] = _Gathering(new.level, expected)
                data = {"index": new.index, "level": new.level, "users": users}
                self._master_send(HOLD_BEGIN, {**data, "slots": self.slots})
                log.info("level %d: measuring for %gs on %d workers", new.level,
                         self.sweep.hold, len(expected))  # fmt: skip
                return
            # Forget the warm-up (and the level before): what follows is this level's result.
            self._stats().reset_all()
            # Past its slots a server completes in turn slot by slot, not user by user: a user's
            # cycle, queueing included, may outlast the hold by far (500 users on 4 workers
            # answering 100 ms waits: 12 s), and spans that long would read the level from
            # requests sent long after it.
            streams = users if self.slots is None else min(users, self.slots)
            self.hold = self.departures.begin(time.time(), streams)
            log.info("level %d: measuring for %gs", new.level, self.sweep.hold)

    def _record(self, phase: scenarios.Phase) -> None:
        gathering = self.gathering.get(phase.index)
        if gathering is not None:
            # The workers measured it: their records come once their holds settle.
            gathering.deadline = time.time() + SETTLE_LIMIT_SECONDS + GATHER_MARGIN_SECONDS
            self._master_send(
                HOLD_END, {"index": phase.index, "least_settle_s": self.least_settle_s}
            )
            return
        hold, self.hold = self.hold, None
        assert hold is not None, "a hold began before it ends"
        users: int = self.get_current_user_count()  # type: ignore[no-untyped-call]
        self.departures.end(hold, time.time())
        if self.stats_path is None:
            self.departures.forget(hold)
            return
        record = _level_record(phase.level, phase.index, users, self._stats(), hold.start, hold.end)
        # The statistics now, the rate once the completions it needs have come.
        self.unsettled.append((hold, hold.end + self._settle_s(hold), record))

    def _settle_s(self, hold: Hold) -> float:
        return _settle_s(hold, self.least_settle_s)

    def _write_unsettled(self, give_up: bool = False) -> None:
        """Write the records whose holds have settled, in order; past its deadline (or when
        ``give_up``) a record goes without a rate."""
        for record in _settled(self.unsettled, self.departures, give_up):
            self._write(record)

    def _write(self, *records: dict[str, Any]) -> None:
        assert self.stats_path is not None, "only recorded levels are written"
        # One write, so a level's lines from several workers appear together.
        with open(self.stats_path, "a") as out:
            out.write("".join(json.dumps(record) + "\n" for record in records))

    def _master(self) -> MasterRunner | None:
        runner = self._runner()
        return runner if isinstance(runner, MasterRunner) else None

    def _master_send(self, kind: str, data: dict[str, Any]) -> None:
        master = self._master()
        assert master is not None, "only a master has workers to tell"
        master.send_message(kind, data)

    def _on_worker_level(self, environment: Environment, msg: Message, **_: Any) -> None:
        """A worker's record of a level: the level is written once every worker's has come."""
        record = json.loads(msg.data["record"])
        gathering = self.gathering.get(int(record["index"]))
        if gathering is None or msg.node_id not in gathering.expected:
            log.warning("a record of level %s from worker %s came too late or unasked; "
                        "it is dropped", record["level"], msg.node_id)  # fmt: skip
            return
        gathering.records[msg.node_id] = record
        if len(gathering.records) < len(gathering.expected):
            return
        del self.gathering[int(record["index"])]
        workers = len(gathering.expected)
        lines = [{**gathering.records[worker], "worker": worker, "workers": workers}
                 for worker in gathering.expected]  # fmt: skip
        if self.stats_path is not None:
            self._write(*lines)

    def _give_up_gathering(self, now: float, every: bool = False) -> None:
        """Levels whose records cannot all come: past their deadline, or a worker is gone."""
        master = self._master()
        for index, gathering in list(self.gathering.items()):
            missing = [worker for worker in gathering.expected if worker not in gathering.records]
            gone = [worker for worker in missing if master is None or _gone(master, worker)]
            if every or gone or now >= gathering.deadline:
                log.warning("level %d: no record came from worker(s) %s; the level is left "
                            "unmeasured", gathering.level, ", ".join(missing))  # fmt: skip
                del self.gathering[index]

    def _listen(self) -> None:
        # Once per process, on the events the runner fires (a test's Environment may have its
        # own), and only by the shape that runs: a shape the web UI offers but nobody picks
        # costs nothing per request.
        events = self._runner().environment.events
        if self._listening_to is not events:
            events.request.add_listener(self.departures.on_request)  # type: ignore[no-untyped-call]
            # A run stopped early (the web UI's stop button, a signal) loses no measured level.
            events.test_stop.add_listener(lambda **_: self._write_unsettled(give_up=True))  # type: ignore[no-untyped-call]
            master = self._master()
            if master is not None and LEVEL not in master.custom_messages:
                master.register_message(LEVEL, self._on_worker_level)
            self._listening_to = events

    def _stats(self) -> RequestStats:
        return self._runner().stats

    def _runner(self) -> Runner:
        assert self.runner is not None, "Locust attaches a runner before the first tick"
        return self.runner


def _gone(master: MasterRunner, worker: str) -> bool:
    """The worker quit, or the master has stopped hearing from it."""
    return worker not in master.clients or master.clients[worker].state == STATE_MISSING


def _settled(
    unsettled: list[tuple[Hold, float, dict[str, Any]]], departures: Departures, give_up: bool
) -> list[dict[str, Any]]:
    """The records whose holds have settled, taken off ``unsettled`` in order, each with its
    rate; past its deadline (or when ``give_up``) a record goes without one."""
    now = time.time()
    done: list[dict[str, Any]] = []
    while unsettled:
        hold, deadline, record = unsettled[0]
        if not (hold.settled or give_up or now >= deadline):
            break
        if not hold.settled:
            log.warning(
                "level %d: %d of the %d completions after the hold its rate needs came; "
                "it is left to a count of completions",
                record["level"], hold.after_end, hold.spacing,
            )  # fmt: skip
        record["rate"] = hold.rate()
        departures.forget(hold)
        unsettled.pop(0)
        done.append(record)
    return done


def _settle_s(hold: Hold, least_s: float) -> float:
    """How long after its end a hold may wait for the completions its rate needs: they come at
    the hold's rate."""
    counted = hold.completed_inside()
    needed_s = hold.spacing * (hold.end - hold.start) / counted if counted else 0.0
    return min(SETTLE_LIMIT_SECONDS, max(least_s, SETTLE_MARGIN * needed_s))


@dataclass
class _Gathering:
    """A level measured on the workers, on the master: the records that have come."""

    level: int
    # The workers there when its hold began, by Locust's client id (host name and a uuid).
    expected: tuple[str, ...]
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    deadline: float = float("inf")


class WorkerLevels:
    """A worker's side of a distributed sweep: each hold the master announces, measured here as
    a lone process measures it, and its record sent to the master once settled."""

    def __init__(self, runner: WorkerRunner) -> None:
        self.runner = runner
        # This worker's requests in the hold alone: Locust's own statistics on a worker are
        # reset each time they are reported to the master.
        self.stats = RequestStats(use_response_times_cache=False)
        self.departures = Departures(memory=1)
        self.measuring: tuple[int, int, Hold] | None = None  # index, level, hold
        self.unsettled: list[tuple[Hold, float, dict[str, Any]]] = []
        runner.register_message(WARMUP, self._on_warmup)
        runner.register_message(HOLD_BEGIN, self._on_hold_begin)
        runner.register_message(HOLD_END, self._on_hold_end)
        events = runner.environment.events
        events.request.add_listener(self._on_request)  # type: ignore[no-untyped-call]
        events.request.add_listener(self.departures.on_request)  # type: ignore[no-untyped-call]
        events.test_stop.add_listener(lambda **_: self._send_unsettled(give_up=True))  # type: ignore[no-untyped-call]
        gevent.spawn(self._poll)

    def _on_warmup(self, environment: Environment, msg: Message, **_: Any) -> None:
        self._remember(int(msg.data["level"]))

    def _remember(self, level: int) -> None:
        # Enough recent completions to reach back over every user of the level from the hold.
        if (self.departures.recent.maxlen or 0) < level:
            self.departures.recent = deque(self.departures.recent, maxlen=level)

    def _on_hold_begin(self, environment: Environment, msg: Message, **_: Any) -> None:
        data = msg.data
        # Without a warm-up, the first news of the level.
        self._remember(int(data["level"]))
        users = self.runner.user_count
        slots = data.get("slots")
        # This worker's part of the target's slots: as its part of the users.
        streams = (
            users
            if slots is None
            else min(users, max(1, round(slots * users / max(data["users"], 1))))
        )
        self.stats.reset_all()
        # On this worker's clock, as its request events are: clocks across machines may differ.
        self.measuring = (
            int(data["index"]),
            int(data["level"]),
            self.departures.begin(time.time(), streams),
        )

    def _on_hold_end(self, environment: Environment, msg: Message, **_: Any) -> None:
        if self.measuring is None or self.measuring[0] != int(msg.data["index"]):
            return  # joined after the hold began: not counted in this level
        index, level, hold = self.measuring
        self.measuring = None
        self.departures.end(hold, time.time())
        users = self.runner.user_count
        record = _level_record(level, index, users, self.stats, hold.start, hold.end)
        if users == 0 and not hold.completed_inside():
            # A worker given no user at this level (fewer users than workers) sent nothing.
            record["rate"] = 0.0
            self.departures.forget(hold)
            self._send(record)
            return
        settle_s = _settle_s(hold, float(msg.data["least_settle_s"]))
        self.unsettled.append((hold, hold.end + settle_s, record))

    def _on_request(self, request_type: str, name: str, response_time: int,
                    response_length: int, exception: Exception | None = None,
                    **_: Any) -> None:  # fmt: skip
        # As Locust's own statistics listener logs them (its response times may be floats).
        if self.measuring is None:
            return
        self.stats.log_request(request_type, name, response_time, response_length)
        if exception is not None:
            self.stats.log_error(request_type, name, exception)

    def _poll(self) -> None:
        while True:
            self._send_unsettled()
            gevent.sleep(WORKER_POLL_SECONDS)

    def _send_unsettled(self, give_up: bool = False) -> None:
        for record in _settled(self.unsettled, self.departures, give_up):
            self._send(record)

    def _send(self, record: dict[str, Any]) -> None:
        # As JSON text: the message's own encoding (msgpack) would not keep the histogram's
        # integer keys as the reader expects them.
        self.runner.send_message(LEVEL, {"record": json.dumps(record)})


def _on_init(environment: Environment, **_: Any) -> None:
    runner = environment.runner
    # Once per worker, however many of its locustfiles import this module.
    if isinstance(runner, WorkerRunner) and HOLD_BEGIN not in runner.custom_messages:
        WorkerLevels(runner)


events.init.add_listener(_on_init)  # type: ignore[no-untyped-call]


def _level_record(
    level: int,
    index: int,
    users: int,
    stats: RequestStats,
    started: float,
    ended: float,
) -> dict[str, Any]:
    """One level's hold, in the shape of Locust's own --json statistics, so the same reader
    takes both; response_times is Locust's histogram (2 significant digits, in ms). Beside
    them: rate, the successful requests per second credited by each request's share of its
    span in the hold (blockbench.load.completions; filled in once the hold settles, null where
    unknown), and mix, the successful requests
    per endpoint path, since a mixed scenario's bound is that of the mix actually sent."""
    entries = [entry for entry in stats.entries.values() if entry.num_requests]
    mix: dict[str, int] = {}
    for entry in entries:
        mix[entry.name] = mix.get(entry.name, 0) + entry.num_requests - entry.num_failures
    return {
        "level": level,
        "index": index,
        "users": users,
        "started": started,
        "ended": ended,
        "entries": [entry.serialize() for entry in entries],
        "total": stats.total.serialize(),
        "errors": list(stats.serialize_errors().values()),
        "rate": None,
        "mix": mix,
    }
