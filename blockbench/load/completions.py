"""A closed loop's throughput over a hold, free of the edge error of counting completions in it.

Counting the completions inside a window is off by the requests in hand at each edge: one user
with 400 ms requests completes 12 or 13 times in a 5 s hold (12.5 cycles), and threads that
all hold 400 ms requests finish in bunches, so the count moves by a whole bunch (32 threads:
±4%) with where the edges fall.

Here each successful completion is credited with one request spread evenly over the time since
the K-th completion before it; the credit inside the hold, over its length, is the rate. At every
instant K such spans overlap, one per "stream" of completions when the users or a server's slots
complete periodically, so the credits tile the time line: the rate is exact for users in lockstep
or in bunches and for any number of slots up to K answering in turn, in any phase, and it needs
nothing but when each request ended.

K is the number of users, or the server's slots where it serves fewer at once: then the users
queue, and it is the slots that complete in turn. K completions span one cycle of a stream
(Little's law: K / throughput), so the credit smooths the rate over about one cycle, and a
user's cycle, queueing included, may be far longer than the hold (500 users on 4 workers
answering 100 ms waits: 12 s), when a slot's is one service time.

The spans across the hold's end close after it: a hold is settled once K more completions have
come (one cycle later, while the next level runs). If they do not come by a deadline, no rate is
given and the harness falls back to counting.

Standard library only: the Locust shape (loadtests/sweep.py) feeds it Locust's request events,
and the tests check its arithmetic without importing Locust.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from dataclasses import dataclass, field


@dataclass(slots=True)
class Hold:
    """One level's measured window, and the completions around it that its rate needs."""

    start: float
    # How many completions back each one's span reaches: the users, or fewer if fewer
    # completions came before the hold.
    spacing: int
    # The ``spacing`` completions before the hold, then every one since: (end, succeeded).
    completions: list[tuple[float, bool]] = field(default_factory=list)
    end: float = math.inf
    after_end: int = 0

    @property
    def ended(self) -> bool:
        return self.end < math.inf

    @property
    def settled(self) -> bool:
        """The hold has ended and each span across its end has closed."""
        return self.ended and self.after_end >= self.spacing

    def add(self, end: float, success: bool) -> None:
        self.completions.append((end, success))
        if end > self.end:
            self.after_end += 1

    def rate(self) -> float | None:
        """Successful requests per second of the hold, once settled; None before."""
        if not self.settled:
            return None
        # Events come as requests end, nearly but not quite in order of their ends.
        ends = sorted(self.completions)
        credit = 0.0
        for (begun, _), (end, success) in zip(ends, ends[self.spacing :], strict=False):
            if not success:
                # A failure takes its place among the completions but earns nothing.
                continue
            if end <= begun:
                # Completions at one instant (clock resolution): in the hold or not.
                credit += 1.0 if self.start <= end <= self.end else 0.0
                continue
            inside = min(end, self.end) - max(begun, self.start)
            if inside > 0:
                credit += inside / (end - begun)
        return credit / (self.end - self.start)

    def completed_inside(self) -> int:
        """The completions (failures too) counted in the hold so far."""
        return sum(1 for end, _ in self.completions if self.start <= end <= self.end)


class Departures:
    """Completions as they come, fed by Locust's request event, credited to the open holds.

    Runs for every request, thousands a second: an append per open hold (one, or two while the
    last one's spans close) and one to a bounded memory of recent completions.
    """

    def __init__(self, memory: int) -> None:
        # Enough completions to reach back K from the start of any hold.
        self.recent: deque[tuple[float, bool]] = deque(maxlen=max(memory, 1))
        self.holds: list[Hold] = []

    def begin(self, at: float, streams: int) -> Hold:
        """Start a hold at ``at`` (time.time()) whose completions come in ``streams`` taking
        turns: the users, or the server's slots where it has fewer."""
        before = sorted(self.recent)
        before = before[: bisect.bisect_left(before, (at, False))]
        spacing = max(1, min(streams, len(before)))
        hold = Hold(start=at, spacing=spacing, completions=before[-spacing:])
        self.holds.append(hold)
        return hold

    def end(self, hold: Hold, at: float) -> None:
        hold.end = at
        hold.after_end = sum(1 for end, _ in hold.completions if end > at)

    def forget(self, hold: Hold) -> None:
        """Stop crediting ``hold``: it is settled or given up."""
        self.holds.remove(hold)

    def on_request(
        self,
        *,
        start_time: float,
        response_time: float,
        exception: BaseException | None = None,
        **_: object,
    ) -> None:
        end = start_time + response_time / 1000
        success = exception is None
        self.recent.append((end, success))
        for hold in self.holds:
            hold.add(end, success)
