"""OpenSweep: a Locust load shape whose levels are arrival rates, an open loop. Requests leave at
scheduled times (Poisson or constant spacing, seeded) whether or not earlier ones have answered,
and each answer's latency counts from the time it was due, not from when it could be sent: a
server that stalls is sent as much as before and its queue shows in the latency, where a closed
loop's users would wait instead (coordinated omission).

One scheduler greenlet per process puts each intended time on a queue when it falls due; the
senders, users of the scenario's own workload class whose tasks first take the next intended
time off that queue, send. There are enough of them (blockbench.load.arrivals.senders_for) that
one is free whenever a request falls due, unless the server holds them all: a send that leaves
after its time records how late, and the harness flags the level if too many did.

The sweep (levels as rates, warm-up, hold, arrivals) comes from the environment as for StepSweep
(loadtests/sweep.py), with BLOCKBENCH_ARRIVALS=poisson|constant, BLOCKBENCH_SEED and, to see
what too few senders do, BLOCKBENCH_SENDERS (per process). Each level's
line (BLOCKBENCH_LEVEL_STATS) is written once every request due in its hold has answered, or
SETTLE_SECONDS after the hold, when those still out count as unfinished. Headless:
    BLOCKBENCH_PROFILE=open-loop locust -f loadtests/workloads.py,loadtests/open_loop.py \\
        --headless -H http://127.0.0.1:8001 IoSleepOpen
"""

from __future__ import annotations

import functools
import json
import logging
import os
import random
import time
import types
from collections.abc import Callable
from typing import Any

import gevent
import gevent.queue
import workloads
from locust import LoadTestShape, TaskSet, constant
from locust.event import Events
from locust.runners import Runner
from locust.stats import StatsError

from blockbench.load import arrivals, scenarios

log = logging.getLogger("blockbench.open_loop")

# How long after its hold a level waits for the answers due in it. Past the 10 s corrected p99
# at which the harness stops a sweep (blockbench.results.validity.SATURATION_P99_MS), so a level
# that slow is seen as that slow, and no longer: the next levels run meanwhile.
SETTLE_SECONDS = 15.0
clock = time.perf_counter


class Driver:
    """This process's open loop: the queue of due times, the requests out, each level's tally."""

    def __init__(
        self, sweep: scenarios.Sweep, seed: int, stats_path: str | None, senders: int | None
    ) -> None:
        assert sweep.arrivals is not None, "an open-loop sweep has arrivals"
        self.sweep = sweep
        self.kind: scenarios.Arrivals = sweep.arrivals
        self.rng = random.Random(seed)
        self.stats_path = stats_path
        self.senders = senders
        self.due: gevent.queue.Queue[float] = gevent.queue.Queue()
        self.in_flight = 0
        self.tallies: list[arrivals.Tally] = []
        self.scheduler: gevent.Greenlet | None = None
        # perf_counter -> time.time(), for the level lines (the harness samples on the wall clock).
        self.wall_offset = time.time() - clock()

    def start(self, t0: float) -> None:
        windows = arrivals.windows(self.sweep.levels, t0, self.sweep.warmup, self.sweep.hold)
        self.tallies = [
            arrivals.Tally(w, self.kind, arrivals.senders_for(w.rate, self.senders))
            for w in windows
        ]
        # Its own list: written levels leave self.tallies while the schedule runs on.
        self.scheduler = gevent.spawn(self._schedule, list(zip(windows, self.tallies, strict=True)))

    def stop(self) -> None:
        if self.scheduler is not None:
            self.scheduler.kill(block=False)
            self.scheduler = None

    def _schedule(self, levels: list[tuple[arrivals.Window, arrivals.Tally]]) -> None:
        for window, tally in levels:
            schedule = arrivals.Schedule(window.rate, self.kind, self.rng)
            for intended in schedule.times(window.start, window.end):
                delay = intended - clock()
                if delay > 0:
                    gevent.sleep(delay)
                # Late (the loop was busy), it is still due: it goes at once, and its sender
                # records how late.
                tally.due(intended)
                self.due.put(intended)

    def take(self) -> tuple[float, float]:
        """Wait for the next due time; it and when it was taken."""
        intended = self.due.get()
        taken = clock()
        self.in_flight += 1
        for tally in self.tallies:
            tally.sent(intended, taken, self.in_flight)
        return intended, taken

    def on_request(
        self,
        *,
        name: str,
        response_time: float,
        exception: Exception | None = None,
        context: dict[str, Any] | None = None,
        **_: object,
    ) -> None:
        if not context or "intended" not in context:
            return  # not one of ours
        ended = clock()
        error = None if exception is None else StatsError.parse_error(exception)
        for tally in self.tallies:
            tally.answered(
                intended=context["intended"],
                taken=context["taken"],
                ended=ended,
                service_ms=response_time,
                name=name,
                error=error,
            )

    def write_settled(self, give_up: bool = False) -> None:
        """Write the levels whose answers are in (or overdue), in order."""
        now = clock()
        while self.tallies and now >= self.tallies[0].window.end:
            tally = self.tallies[0]
            if not (tally.settled or give_up or now >= tally.window.end + SETTLE_SECONDS):
                return
            if not tally.settled:
                log.warning(
                    "level %d: %d requests due in the hold unanswered after %gs",
                    tally.window.rate, sum(tally.pending.values()), SETTLE_SECONDS,
                )  # fmt: skip
            tally.close(now)
            self.tallies.pop(0)
            if self.stats_path is not None:
                w = tally.window
                record = tally.record(w.hold + self.wall_offset, w.end + self.wall_offset)
                with open(self.stats_path, "a") as out:
                    out.write(json.dumps(record) + "\n")

    @property
    def unwritten(self) -> bool:
        return bool(self.tallies)


# The process's one open loop, made by the shape when the run starts; senders find it here.
DRIVER: Driver | None = None


def _driver() -> Driver:
    assert DRIVER is not None, "OpenSweep starts the open loop before any sender runs"
    return DRIVER


class OpenSweep(LoadTestShape):
    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        try:
            self.sweep = scenarios.Sweep.from_env()
            self.seed = arrivals.seed_from(os.environ)
            self.senders = arrivals.senders_from(os.environ)
        except scenarios.CatalogueError as exc:
            raise SystemExit(f"OpenSweep: {exc}") from None
        if self.sweep.arrivals is None:
            raise SystemExit(
                "OpenSweep: this sweep's levels are users, not arrival rates; set "
                f"{scenarios.ARRIVALS_ENV}=poisson (or constant), or use loadtests/sweep.py"
            )
        self.stats_path = os.environ.get(scenarios.LEVEL_STATS_ENV) or None
        self._listening_to: Events | None = None

    def reset_time(self) -> None:
        super().reset_time()  # type: ignore[no-untyped-call]
        global DRIVER
        _give_up()
        DRIVER = None

    def tick(self) -> tuple[int, float] | None:
        global DRIVER
        if DRIVER is None:
            DRIVER = Driver(self.sweep, self.seed, self.stats_path, self.senders)
            DRIVER.start(self.start_time)
            self._listen()
        DRIVER.write_settled()
        # The level's senders from its warm-up on (the last level's while its answers come):
        # the previous level's, enough for 2 s of its rate, cover the tick it takes to spawn
        # them. Never more, so a level has the senders it records.
        phase = self.sweep.phase_at(self.get_run_time())  # type: ignore[no-untyped-call]
        if phase is not None:
            rate = phase.level
        elif DRIVER.unwritten:
            rate = self.sweep.levels[-1]
        else:
            return None
        senders = arrivals.senders_for(rate, self.senders)
        return senders, self.sweep.spawn_rate(senders)

    def _listen(self) -> None:
        events = self._runner().environment.events
        if self._listening_to is not events:
            events.request.add_listener(lambda **kw: _driver().on_request(**kw))  # type: ignore[no-untyped-call]
            events.test_stop.add_listener(lambda **_: _give_up())  # type: ignore[no-untyped-call]
            self._listening_to = events

    def _runner(self) -> Runner:
        assert self.runner is not None, "Locust attaches a runner before the first tick"
        return self.runner


def _give_up() -> None:
    # A run stopped early loses no level measured.
    if DRIVER is not None:
        DRIVER.stop()
        DRIVER.write_settled(give_up=True)


def _on_schedule(task: Callable[..., Any]) -> Callable[[Any], None]:
    """``task`` as a sender runs it: first the next due time, then the workload's own task."""

    @functools.wraps(task)
    def send(user: Any) -> None:
        driver = _driver()
        user.intended, user.taken = driver.take()
        try:
            task(user)
        finally:
            driver.in_flight -= 1

    return send


def _function(task: TaskSet | Callable[..., Any]) -> Callable[..., Any]:
    # The workloads' tasks are functions (loadtests/workloads.py), never nested TaskSets.
    if isinstance(task, TaskSet):
        raise TypeError(f"an open loop sends functions' requests, not a TaskSet's: {task!r}")
    return task


def _context(user: Any) -> dict[str, Any]:
    # Locust adds it to each request's event: the listener reads the due time there.
    return {"intended": user.intended, "taken": user.taken}


def sender_class(workload: type[workloads.ScenarioUser]) -> type[workloads.ScenarioUser]:
    """``workload``'s tasks unchanged, each waiting for its due time first, in a class of their
    own: a subclass of ``workload`` would run its tasks unwrapped too (Locust gathers a class's
    tasks from its bases)."""
    namespace = {
        "scenario": workload.scenario,
        "tasks": [_on_schedule(_function(task)) for task in workload.tasks],
        # The queue is the wait: a sender asks for its next time as soon as it is free.
        "wait_time": constant(0),
        "context": _context,
        "__doc__": f"{workload.__doc__} Sent at scheduled arrival times (an open loop).",
        "__module__": __name__,
    }
    name = arrivals.sender_class_name(workload.__name__)
    cls = types.new_class(
        name, (workloads.ScenarioUser,), exec_body=lambda ns: ns.update(namespace)
    )
    assert issubclass(cls, workloads.ScenarioUser)
    return cls


SENDER_CLASSES = {cls.__name__: cls for cls in map(sender_class, workloads.USER_CLASSES.values())}
# Locust finds user classes among a locustfile's globals.
globals().update(SENDER_CLASSES)
