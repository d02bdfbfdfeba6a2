"""One Locust user class per scenario of the catalogue (blockbench/load/scenarios.toml), built
from its data so no path or parameter is typed twice.

Run one at a fixed number of users, headless:
    locust -f loadtests/workloads.py --headless -u 50 -r 50 -t 30s -H http://127.0.0.1:8001 IoSleep
or with the step sweep and the web UI's class picker: see locustfile.py.
"""

from __future__ import annotations

import gc
import os
import random
import types
from collections.abc import Callable
from typing import Any, ClassVar

import gevent
from locust import FastHttpUser, constant, events, tag

from blockbench.load import scenarios


class ScenarioUser(FastHttpUser):
    """Sends its scenario's requests, one after the other, as fast as the server answers."""

    abstract = True
    scenario: ClassVar[scenarios.Scenario]

    # A closed loop: each user sends its next request as soon as the last one returns, so the
    # number of users is the number of requests in flight, which is the concurrency level a
    # sweep sets. The price is coordinated omission: while a server stalls, its users wait
    # instead of sending, so a stall shows as one slow request per user, not as the many an
    # open stream of arrivals would have queued behind it. Latency percentiles are what these
    # users waited and understate an open-model tail; throughput per level is unaffected.
    wait_time = constant(0)
    # Locust's defaults, set here on purpose: a server that takes 20 s to answer is slow, not
    # failed, and must count as slow. Only past a minute does a request count as a failure.
    network_timeout = 60.0
    connection_timeout = 60.0

    def on_start(self) -> None:
        # Locust starts a level's new users in batches, once a second (floor(spawn rate) at a
        # time). A sweep that ramps over seconds asks for a spread start, so each user waits a
        # random part of that second first: 1,000 users started together send their requests
        # in a wave every cycle, and a wave of long waits keeps its shape for the whole level.
        if _spread_start():
            gevent.sleep(random.uniform(0.0, LOCUST_DISPATCH_STEP_S))


# Locust's users dispatcher starts its batches this far apart (locust/dispatch.py).
LOCUST_DISPATCH_STEP_S = 1.0


def _spread_start() -> bool:
    try:
        ramp = float(os.environ.get(scenarios.RAMP_ENV, "0"))
    except ValueError:
        return False
    return ramp >= LOCUST_DISPATCH_STEP_S


def _sender(request: scenarios.Request) -> Callable[[ScenarioUser], None]:
    url = request.url

    # Named by its endpoint's path, so Locust's statistics group requests by endpoint (mixed
    # shows its waits and its CPU work apart); tagged with the endpoint's name for --tags.
    @tag(request.endpoint.name)
    def send(user: ScenarioUser) -> None:
        user.client.get(url, name=request.path)

    # The web UI's class picker lists a class's tasks by name.
    send.__name__ = send.__qualname__ = f"GET {url}"
    return send


def user_class(scenario: scenarios.Scenario) -> type[ScenarioUser]:
    tasks = {_sender(request): request.weight for request in scenario.requests}
    namespace = {
        "tasks": tasks,
        "scenario": scenario,
        "__doc__": scenario.explanation,
        "__module__": __name__,
    }
    # new_class, unlike type(), goes through Locust's metaclass, which turns tasks into a list.
    cls = types.new_class(
        scenario.workload, (ScenarioUser,), exec_body=lambda ns: ns.update(namespace)
    )
    assert issubclass(cls, ScenarioUser)
    return cls


def _catalogue() -> scenarios.Catalogue:
    try:
        return scenarios.load()
    except scenarios.CatalogueError as exc:
        # Locust would print a traceback; the message alone says what to fix.
        raise SystemExit(f"loadtests/workloads.py: {exc}") from None


_CATALOGUE = _catalogue()
USER_CLASSES: dict[str, type[ScenarioUser]] = {
    scenario.workload: user_class(scenario) for scenario in _CATALOGUE.scenarios.values()
}
# The web UI's class picker lists the named scenarios, not the decision map's 20 cells
# (MapWait20Cpu0p5, ...), which a reader runs as a profile; here they stay, for the engine and
# for `locust -f loadtests/workloads.py ... MapWait20Cpu0p5`.
WEB_UI_CLASSES: dict[str, type[ScenarioUser]] = {
    scenario.workload: USER_CLASSES[scenario.workload]
    for scenario in _CATALOGUE.scenarios.values()
    if scenario.name not in _CATALOGUE.map_scenarios
}
# Locust finds user classes among a locustfile's module globals.
globals().update(USER_CLASSES)


def _freeze_the_users(**_: Any) -> None:
    # The generator's own pauses are not the server's latency. Its users and their connections
    # live for the whole run, and CPython's full collections walk every object that lives: at
    # 10,000 users a collection held Locust's one core for a whole 0.5 s sample (100% CPU at a
    # 34% mean), stalling every user and adding its length to the response times in flight.
    # Frozen once all are started, they are left out of every later collection; what the
    # requests themselves allocate is collected as before.
    gc.collect()
    gc.freeze()


events.spawning_complete.add_listener(_freeze_the_users)  # type: ignore[no-untyped-call]
