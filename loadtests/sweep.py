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
Headless, one workload:
    locust -f loadtests/workloads.py,loadtests/sweep.py --headless -H http://127.0.0.1:8001 Cpu
"""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Any

from locust import LoadTestShape
from locust.event import Events
from locust.runners import MasterRunner, Runner
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

    def reset_time(self) -> None:
        # Locust calls this at every start, a restart from the web UI too: sweep from the top.
        super().reset_time()  # type: ignore[no-untyped-call]
        self._write_unsettled(give_up=True)
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
        if phase is not None:
            self.last_level = phase.level
            return phase.level, self.sweep.spawn_rate(phase.level)
        if self.unsettled and self.last_level is not None:
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
        else:
            # Forget the warm-up (and the level before): what follows is this level's result.
            self._stats().reset_all()
            users: int = self.get_current_user_count()  # type: ignore[no-untyped-call]
            # Past its slots a server completes in turn slot by slot, not user by user: a user's
            # cycle, queueing included, may outlast the hold by far (500 users on 4 workers
            # answering 100 ms waits: 12 s), and spans that long would read the level from
            # requests sent long after it.
            streams = users if self.slots is None else min(users, self.slots)
            self.hold = self.departures.begin(time.time(), streams)
            log.info("level %d: measuring for %gs", new.level, self.sweep.hold)

    def _record(self, phase: scenarios.Phase) -> None:
        hold, self.hold = self.hold, None
        assert hold is not None, "a hold began before it ends"
        users: int = self.get_current_user_count()  # type: ignore[no-untyped-call]
        self.departures.end(hold, time.time())
        if self.stats_path is None:
            self.departures.forget(hold)
            return
        record = _level_record(phase, users, self._stats(), hold.start, hold.end)
        if isinstance(self._runner(), MasterRunner):
            # A master's users run on its workers: no request event fires here to credit.
            self.departures.forget(hold)
            self._write(record)
            return
        # The statistics now, the rate once the completions it needs have come.
        self.unsettled.append((hold, hold.end + self._settle_s(hold), record))

    def _settle_s(self, hold: Hold) -> float:
        # The completions needed come at the hold's rate.
        counted = hold.completed_inside()
        needed_s = hold.spacing * (hold.end - hold.start) / counted if counted else 0.0
        return min(SETTLE_LIMIT_SECONDS, max(self.least_settle_s, SETTLE_MARGIN * needed_s))

    def _write_unsettled(self, give_up: bool = False) -> None:
        """Write the records whose holds have settled, in order; past its deadline (or when
        ``give_up``) a record goes without a rate."""
        now = time.time()
        while self.unsettled:
            hold, deadline, record = self.unsettled[0]
            if not (hold.settled or give_up or now >= deadline):
                return
            if not hold.settled:
                log.warning(
                    "level %d: %d of the %d completions after the hold its rate needs came; "
                    "it is left to a count of completions",
                    record["level"], hold.after_end, hold.spacing,
                )  # fmt: skip
            record["rate"] = hold.rate()
            self.departures.forget(hold)
            self.unsettled.pop(0)
            self._write(record)

    def _write(self, record: dict[str, Any]) -> None:
        assert self.stats_path is not None, "only recorded levels are written"
        with open(self.stats_path, "a") as out:
            out.write(json.dumps(record) + "\n")

    def _listen(self) -> None:
        # Once per process, on the events the runner fires (a test's Environment may have its
        # own), and only by the shape that runs: a shape the web UI offers but nobody picks
        # costs nothing per request.
        events = self._runner().environment.events
        if self._listening_to is not events:
            events.request.add_listener(self.departures.on_request)  # type: ignore[no-untyped-call]
            # A run stopped early (the web UI's stop button, a signal) loses no measured level.
            events.test_stop.add_listener(lambda **_: self._write_unsettled(give_up=True))  # type: ignore[no-untyped-call]
            self._listening_to = events

    def _stats(self) -> RequestStats:
        return self._runner().stats

    def _runner(self) -> Runner:
        assert self.runner is not None, "Locust attaches a runner before the first tick"
        return self.runner


def _level_record(
    phase: scenarios.Phase,
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
        "level": phase.level,
        "index": phase.index,
        "users": users,
        "started": started,
        "ended": ended,
        "entries": [entry.serialize() for entry in entries],
        "total": stats.total.serialize(),
        "errors": list(stats.serialize_errors().values()),
        "rate": None,
        "mix": mix,
    }
