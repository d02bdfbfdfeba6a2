"""StepSweep: a Locust load shape that steps through concurrency levels, each held long enough
for a steady state, after a warm-up that is not counted.

The levels, warm-up and hold are the default profile's in blockbench/scenarios.toml, unless set:
    BLOCKBENCH_PROFILE=full              another profile's levels, warm-up and hold
    BLOCKBENCH_LEVELS=1,10,50            users at each step, rising
    BLOCKBENCH_WARMUP=2                  seconds at each level before measuring
    BLOCKBENCH_HOLD=10                   seconds measured at each level
    BLOCKBENCH_LEVEL_STATS=levels.jsonl  append each level's statistics there, one JSON line each
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

from blockbench import scenarios
from blockbench.completions import CompletionCounter

log = logging.getLogger("blockbench.sweep")


# Locust ships types, but LoadTestShape's own methods are unannotated: hence the ignores.
class StepSweep(LoadTestShape):
    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        # Read when Locust loads the file, so a bad override fails before anything starts, with
        # the message alone rather than a traceback.
        try:
            self.sweep = scenarios.Sweep.from_env()
        except scenarios.CatalogueError as exc:
            raise SystemExit(f"StepSweep: {exc}") from None
        self.stats_path = os.environ.get(scenarios.LEVEL_STATS_ENV) or None
        self.phase: scenarios.Phase | None = None
        self.hold_started = 0.0
        self.completions = CompletionCounter()
        self._listening_to: Events | None = None

    def reset_time(self) -> None:
        # Locust calls this at every start, a restart from the web UI too: sweep from the top.
        super().reset_time()  # type: ignore[no-untyped-call]
        self.phase = None

    def tick(self) -> tuple[int, float] | None:
        phase = self.sweep.phase_at(self.get_run_time())  # type: ignore[no-untyped-call]
        if phase != self.phase:
            self._advance(self.phase, phase)
            self.phase = phase
        if phase is None:
            return None
        return phase.level, max(phase.level / scenarios.RAMP_SECONDS, 1.0)

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
            self.hold_started = time.time()
            self._listen()
            self.completions.start(self.hold_started)
            log.info("level %d: measuring for %gs", new.level, self.sweep.hold)

    def _record(self, phase: scenarios.Phase) -> None:
        ended = time.time()
        self.completions.stop()
        if self.stats_path is None:
            return
        users: int = self.get_current_user_count()  # type: ignore[no-untyped-call]
        rate = self._rate(ended - self.hold_started)
        record = _level_record(phase, users, self._stats(), self.hold_started, ended, rate)
        with open(self.stats_path, "a") as out:
            out.write(json.dumps(record) + "\n")

    def _listen(self) -> None:
        # Once per process, on the events the runner fires (a test's Environment may have its
        # own), and only by the shape that runs: a shape the web UI offers but nobody picks
        # costs nothing per request.
        events = self._runner().environment.events
        if self._listening_to is not events:
            events.request.add_listener(self.completions.on_request)  # type: ignore[no-untyped-call]
            self._listening_to = events

    def _rate(self, hold_s: float) -> float | None:
        # A master's users run on its workers: no request event fires here to count.
        if isinstance(self._runner(), MasterRunner):
            return None
        return self.completions.rate(hold_s)

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
    rate: float | None,
) -> dict[str, Any]:
    """One level's hold, in the shape of Locust's own --json statistics, so the same reader
    takes both; response_times is Locust's histogram (2 significant digits, in ms). Beside
    them: rate, the successful requests per second counted over whole intervals between
    completions (blockbench.completions; null where unknown), and mix, the successful requests
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
        "rate": rate,
        "mix": mix,
    }
