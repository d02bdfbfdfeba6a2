"""An open-loop level's arrivals and what one Locust process measures of them, without gevent:
the schedule of intended send times, how many senders keep it, and each level's tally.

loadtests/open_loop.py drives it inside Locust: a scheduler greenlet puts each intended time on
a queue when it falls due, idle senders take them and send, and the request listener hands each
answer here with its intended time. Latency counts from the intended time (corrected: what a
user arriving then waits) and from the actual send (the server's service time); the gap between
the two (how late each send left) is recorded too, and the harness judges it
(blockbench.results.validity), so the rule lives with the other validity rules.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from hdrh.histogram import HdrHistogram

from blockbench.load import hdr
from blockbench.load.scenarios import SEED_ENV, Arrivals, CatalogueError

# Enough senders for every request of a level to take this long, queueing included, before the
# schedule has to wait for one (Little's law: in flight = rate x latency): twice the 1 s
# objective the open-loop profile reads, so a level is kept on schedule up to and past the
# objective, and falls behind (flagged) only once far beyond it.
SENDER_SECONDS = 2.0
# At least this many, so a low rate's Poisson bursts find a sender free.
MIN_SENDERS = 10
# At most this many per Locust process: each is a greenlet with its own connection, and a
# server that needs more is queueing seconds of work (the sweep stops there anyway).
MAX_SENDERS = 2000
# The seed of every schedule, so a run's arrivals can be drawn again; each process adds its
# index, since identical streams superposed would not be a Poisson process.
DEFAULT_SEED = 20261128


# Overrides senders_for with a fixed number per process: for showing what too few do.
SENDERS_ENV = "BLOCKBENCH_SENDERS"


def senders_for(rate: float, fixed: int | None = None) -> int:
    """The senders a process keeps for ``rate`` requests per second (``fixed``, if given)."""
    if fixed is not None:
        return fixed
    return min(MAX_SENDERS, max(MIN_SENDERS, math.ceil(rate * SENDER_SECONDS)))


def senders_from(env: Mapping[str, str]) -> int | None:
    """BLOCKBENCH_SENDERS, or None for senders_for's choice."""
    raw = (env.get(SENDERS_ENV) or "").strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise CatalogueError(f"{SENDERS_ENV} must be a whole number, 1 or more; got {raw!r}")
    return int(raw)


def sender_class_name(workload: str) -> str:
    """The Locust class that sends ``workload``'s requests on a schedule: IoSleep -> IoSleepOpen."""
    return f"{workload}Open"


@dataclass
class Schedule:
    """Intended send times at ``rate`` per second: exponential gaps (a Poisson process) or
    equal ones, from a seeded generator."""

    rate: float
    arrivals: Arrivals
    rng: random.Random

    def gap(self) -> float:
        if self.arrivals == "constant":
            return 1.0 / self.rate
        return self.rng.expovariate(self.rate)

    def times(self, start: float, end: float) -> Iterator[float]:
        """Every intended time in [start, end); none at a rate of 0."""
        if self.rate <= 0:
            return
        # A Poisson process has no arrival at its start; constant spacing begins half a gap in,
        # so that levels laid end to end keep one spacing.
        at = start + (self.gap() if self.arrivals == "poisson" else 0.5 / self.rate)
        while at < end:
            yield at
            at += self.gap()


@dataclass(frozen=True)
class Window:
    """One level on the sweep's clock: its arrivals from ``start``, measured in [hold, end)."""

    index: int
    rate: int
    start: float
    hold: float
    end: float

    def holds(self, at: float) -> bool:
        return self.hold <= at < self.end


def windows(rates: tuple[int, ...], t0: float, warmup: float, hold: float) -> list[Window]:
    """The sweep's levels on one clock from ``t0``: each a warm-up then a hold, end to end."""
    step = warmup + hold
    return [
        Window(i, rate, t0 + i * step, t0 + i * step + warmup, t0 + (i + 1) * step)
        for i, rate in enumerate(rates)
    ]


@dataclass
class Tally:
    """What one process measured of one level.

    Latency (corrected, service, lateness) belongs to the requests *due* in the hold, however
    long they take: the point of an open loop. Throughput, failures and the mix belong to the
    requests *completed* in the hold, as a closed level counts them, since a saturated server's
    answers in the hold are to arrivals from before it."""

    window: Window
    arrivals: Arrivals
    senders: int
    corrected: HdrHistogram = field(default_factory=hdr.new)
    service: HdrHistogram = field(default_factory=hdr.new)
    lateness: HdrHistogram = field(default_factory=hdr.new)
    scheduled: int = 0
    # Of those, sent so far: the others were still waiting for a sender.
    taken: int = 0
    # Due in the hold and not answered yet, by intended time.
    pending: Counter[float] = field(default_factory=Counter)
    in_flight_max: int = 0
    requests: int = 0
    failures: int = 0
    response_times: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    mix: Counter[str] = field(default_factory=Counter)
    unfinished: int = 0

    def due(self, intended: float) -> None:
        """An arrival was scheduled at ``intended``; counted if it falls in the hold."""
        if self.window.holds(intended):
            self.scheduled += 1
            self.pending[intended] += 1

    def sent(self, intended: float, at: float, in_flight: int) -> None:
        """The request due at ``intended`` left at ``at`` with ``in_flight`` outstanding (this
        one included)."""
        if self.window.holds(at):
            self.in_flight_max = max(self.in_flight_max, in_flight)
        if self.window.holds(intended):
            self.taken += 1
            hdr.record_ms(self.lateness, max(0.0, (at - intended) * 1000))

    def answered(
        self,
        *,
        intended: float,
        taken: float,
        ended: float,
        service_ms: float,
        name: str,
        error: str | None,
    ) -> None:
        """The answer to a request due at ``intended``, sent at ``taken``, seen at ``ended``
        (all on one clock, seconds) that the server took ``service_ms`` to give."""
        if self.window.holds(intended) and self.pending[intended] > 0:
            self.pending[intended] -= 1
            if not self.pending[intended]:
                del self.pending[intended]
            late_ms = max(0.0, (taken - intended) * 1000)
            if error is None:
                hdr.record_ms(self.service, service_ms)
                hdr.record_ms(self.corrected, late_ms + service_ms)
        if self.window.holds(ended):
            self.requests += 1
            self.response_times[bucket_ms(service_ms)] += 1
            if error is None:
                self.mix[name] += 1
            else:
                self.failures += 1
                self.errors[error] += 1

    @property
    def settled(self) -> bool:
        """Every request due in the hold has been answered."""
        return not self.pending

    def close(self, now: float) -> None:
        """Give up on the requests due in the hold and still unanswered at ``now``: each counts
        in the corrected latency as the time it has waited so far, a lower bound, and as
        unfinished, so its level says its percentiles are at least that."""
        for intended, count in self.pending.items():
            self.unfinished += count
            for _ in range(count):
                hdr.record_ms(self.corrected, max(0.0, (now - intended) * 1000))
        self.pending.clear()

    def record(self, started: float, ended: float) -> dict[str, Any]:
        """The level's JSON line, in the shape blockbench.load.loadgen.parse_record reads:
        Locust's own --json names for the counts, and ``open_loop`` beside them."""
        errors = [{"error": error, "occurrences": n} for error, n in sorted(self.errors.items())]
        return {
            "level": self.window.rate,
            "index": self.window.index,
            "users": self.senders,
            "started": started,
            "ended": ended,
            "total": {
                "num_requests": self.requests,
                "num_failures": self.failures,
                "response_times": {str(ms): n for ms, n in sorted(self.response_times.items())},
            },
            "errors": errors,
            "rate": None,
            "mix": dict(self.mix),
            "open_loop": {
                "arrivals": self.arrivals,
                "offered_rps": self.window.rate,
                "senders": self.senders,
                "scheduled": self.scheduled,
                "sent": self.taken,
                "unfinished": self.unfinished,
                "max_in_flight": self.in_flight_max,
                "corrected": hdr.encode(self.corrected),
                "service": hdr.encode(self.service),
                "lateness": hdr.encode(self.lateness),
            },
        }


def bucket_ms(ms: float) -> int:
    """Locust's rounding of a response time for its histogram (2 significant digits), so an
    open level's histogram reads like a closed one's."""
    if ms < 100:
        return round(ms)
    if ms < 1000:
        return int(round(ms, -1))
    if ms < 10000:
        return int(round(ms, -2))
    return int(round(ms, -3))


def seed_from(env: Mapping[str, str]) -> int:
    """BLOCKBENCH_SEED, or the default seed."""
    raw = (env.get(SEED_ENV) or "").strip()
    if not raw:
        return DEFAULT_SEED
    if not raw.isdigit():
        raise CatalogueError(f"{SEED_ENV} must be a whole number, 0 or more; got {raw!r}")
    return int(raw)
