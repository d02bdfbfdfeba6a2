"""A closed loop's throughput over a hold, each request credited with the share of its cycle that
fell inside the hold (the generalised Little's law, H = λG).

A user's cycle is the time from the end of its previous request (its first: from when it was
sent) to the end of this one: its pause and its wait for the answer. A user's cycles tile its
time line, so the credits of all the requests whose cycles meet the hold sum to the number of
cycles the hold saw, fractions at the edges included. Counting the completions inside the hold
instead is off by the requests in hand at each edge: one user with 400 ms requests completes
12 or 13 times in a 5 s hold (12.5 cycles), three sync workers with 400 ms requests 37 give or
take 3 (37.5), and users in lockstep move the count by a whole bunch. The credit is exact for
each of these, and unbiased however a server orders its answers.

The cycle under way at the hold's end finishes after it: a hold is settled once every user's
has (one cycle later, while the next level runs). If some are still under way at a deadline,
the credit is incomplete and no rate is given, so the harness falls back to counting.

Standard library only: the Locust shape (loadtests/sweep.py) feeds it Locust's request events,
and the tests check its arithmetic without importing Locust.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field

# The key of a request's context (Locust's User.context()) that names the user who sent it.
USER_KEY = "user"


@dataclass(slots=True)
class Hold:
    """One level's measured window and the credit its cycles earned so far."""

    start: float
    end: float = math.inf
    # Users running when the hold ended: each has one cycle under way across its end.
    users: int = 0
    credit: float = 0.0
    # Users whose cycle across the hold's end has finished.
    across_end: set[Hashable] = field(default_factory=set)
    # Set when a successful request named no user: its cycle is unknown, so is the rate.
    anonymous: bool = False

    @property
    def ended(self) -> bool:
        return self.end < math.inf

    @property
    def settled(self) -> bool:
        """The hold has ended and every cycle across its end has finished."""
        return self.ended and len(self.across_end) >= self.users

    def add(self, user: Hashable, begun: float, end: float, success: bool) -> None:
        if begun < self.end <= end:
            self.across_end.add(user)
        if not success:
            # A failure ends a cycle but is not a completion: it earns nothing.
            return
        length = end - begun
        if length <= 0:
            # A cycle of no length (clock resolution): it lies in the hold or it does not.
            self.credit += 1.0 if self.start <= end <= self.end else 0.0
            return
        inside = min(end, self.end) - max(begun, self.start)
        if inside > 0:
            self.credit += inside / length

    def rate(self) -> float | None:
        """Successful requests per second of the hold, once settled; None if it is not, or if
        some request named no user."""
        if not self.settled or self.anonymous:
            return None
        return self.credit / (self.end - self.start)


class CycleCounter:
    """Each user's cycles, credited to the holds they meet; fed by Locust's request event.

    Runs for every request, thousands a second: a dict lookup and a few sums per open hold
    (one, or two while the last one's final cycles finish).
    """

    def __init__(self) -> None:
        # When each user's last request ended: where its next cycle begins.
        self.last_end: dict[Hashable, float] = {}
        self.holds: list[Hold] = []

    def begin(self, at: float) -> Hold:
        """Start crediting a hold that begins at ``at`` (time.time())."""
        hold = Hold(start=at)
        self.holds.append(hold)
        return hold

    def end(self, hold: Hold, at: float, users: int) -> None:
        """End ``hold`` at ``at``, with ``users`` running: it settles when each of their cycles
        under way has finished."""
        hold.end = at
        hold.users = users

    def forget(self, hold: Hold) -> None:
        """Stop crediting ``hold``: it is settled or given up."""
        self.holds.remove(hold)

    def on_request(
        self,
        *,
        context: Mapping[str, object],
        start_time: float,
        response_time: float,
        exception: BaseException | None = None,
        **_: object,
    ) -> None:
        user = context.get(USER_KEY)
        if user is None:
            for hold in self.holds:
                hold.anonymous = True
            return
        end = start_time + response_time / 1000
        # A user's first cycle begins when it sends its first request.
        begun = self.last_end.get(user, start_time)
        self.last_end[user] = end
        for hold in self.holds:
            hold.add(user, begun, end, exception is None)
