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
from locust.stats import RequestStats

from blockbench import scenarios

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
            log.info("level %d: measuring for %gs", new.level, self.sweep.hold)

    def _record(self, phase: scenarios.Phase) -> None:
        if self.stats_path is None:
            return
        users: int = self.get_current_user_count()  # type: ignore[no-untyped-call]
        record = _level_record(phase, users, self._stats(), self.hold_started, time.time())
        with open(self.stats_path, "a") as out:
            out.write(json.dumps(record) + "\n")

    def _stats(self) -> RequestStats:
        assert self.runner is not None, "Locust attaches a runner before the first tick"
        return self.runner.stats


def _level_record(
    phase: scenarios.Phase, users: int, stats: RequestStats, started: float, ended: float
) -> dict[str, Any]:
    """One level's hold, in the shape of Locust's own --json statistics, so the same reader
    takes both; response_times is Locust's histogram (2 significant digits, in ms)."""
    return {
        "level": phase.level,
        "index": phase.index,
        "users": users,
        "started": started,
        "ended": ended,
        "entries": [entry.serialize() for entry in stats.entries.values() if entry.num_requests],
        "total": stats.total.serialize(),
        "errors": list(stats.serialize_errors().values()),
    }
