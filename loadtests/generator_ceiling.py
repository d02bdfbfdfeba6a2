"""The load generator's own ceiling: users hammering the upstream's zero-wait endpoint.

The upstream answers /delay?ms=0 at once and holds thousands of connections on one event loop,
so whatever rate this reaches is what Locust itself can send here. ``blockbench run`` measures
it once per run and the report shows each level's throughput against it.

    locust -f loadtests/generator_ceiling.py,loadtests/sweep.py --headless \
        -H http://127.0.0.1:8900 GeneratorCeiling
"""

from __future__ import annotations

from locust import FastHttpUser, constant, task


class GeneratorCeiling(FastHttpUser):
    # Closed loop with no pause, like every workload, so the rate is the generator's limit.
    wait_time = constant(0)

    @task
    def zero_wait(self) -> None:
        self.client.get("/delay?ms=0", name="/delay")
