"""Walks StepSweep through a simulated clock and prints what it did, as JSON.

Run by test_shape.py in a child process: importing locust monkey-patches the whole process
with gevent, which the test process must not be.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "loadtests"))

from locust.env import Environment
from sweep import StepSweep
from workloads import USER_CLASSES


class ClockedSweep(StepSweep):
    """StepSweep on a clock the probe sets, instead of the wall clock."""

    now = 0.0

    def get_run_time(self) -> float:
        return self.now


def main(times: list[float]) -> None:
    shape = ClockedSweep()
    env = Environment(user_classes=[USER_CLASSES["IoSleep"]], shape_class=shape)
    env.create_local_runner()
    seen: list[dict[str, Any]] = []
    for now in times:
        shape.now = now
        tick = shape.tick()
        # One request per tick, so the statistics show which ticks each level counted; fired as
        # Locust's users fire it, so every listener (the shape's per-user count too) sees it.
        env.events.request.fire(  # type: ignore[no-untyped-call]
            request_type="GET",
            name="/io/sleep",
            response_time=100,
            response_length=10,
            exception=None,
            context={},
            start_time=time.time() - 0.1,
        )
        seen.append({"now": now, "tick": tick, "requests": env.stats.total.num_requests})
    shape.reset_time()
    shape.now = 0.0
    seen.append({"now": "restart", "tick": shape.tick()})
    print(json.dumps(seen))


if __name__ == "__main__":
    main([float(arg) for arg in sys.argv[1:]])
