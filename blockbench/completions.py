"""A closed loop's throughput over a hold, counted over whole intervals between completions.

Standard library only: the Locust shape (loadtests/sweep.py) counts with it as requests end,
and the tests check its arithmetic without importing Locust.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass

# From this many completions on, the rate is read from their span.
MIN_SPAN_COMPLETIONS = 3
# From this many completions in the hold on, a user's own span gives its rate (below, the
# selection of quickly served users biases it; above, by less than a percent).
OWN_SPAN_COMPLETIONS = 10
# The key of a request's context (Locust's User.context()) that names the user who sent it.
USER_KEY = "user"


@dataclass(slots=True)
class Completions:
    """The successful requests that ended in a hold: how many, the first end and the last."""

    count: int = 0
    first_end: float = math.inf
    last_end: float = -math.inf

    def add(self, end: float) -> None:
        self.count += 1
        # Users' requests end in any order: keep the extremes.
        self.first_end = min(self.first_end, end)
        self.last_end = max(self.last_end, end)

    def merge(self, other: Completions) -> None:
        self.count += other.count
        self.first_end = min(self.first_end, other.first_end)
        self.last_end = max(self.last_end, other.last_end)


def hold_rate(completions: Completions, hold_s: float) -> float:
    """Successful requests per second of one stream of completions over a hold of ``hold_s``
    seconds, counted from its first completion in the hold to its last.

    Counting completions in a fixed window is off by the requests in hand at each edge: up to
    one per user where the users pace the level (one user with 400 ms requests: 12 or 13 in
    a 5 s hold, 12.5 cycles), up to the server's slots where it paces them (three workers
    with 400 ms requests: 37 give or take 3). Between the first and the last completion lie
    whole intervals only. With fewer than three completions the count is all there is.
    """
    span = completions.last_end - completions.first_end
    if completions.count < MIN_SPAN_COMPLETIONS or span <= 0:
        return completions.count / hold_s
    return (completions.count - 1) / span


def closed_loop_rate(users: Iterable[Completions], hold_s: float) -> float:
    """Successful requests per second of all users together.

    A user with many completions in the hold paces itself: its own span counts its cycles
    exactly, however its phase lines up with the other users' (users started a tenth of a
    second apart with 400 ms requests complete in bunches, and one span over all of them
    reads 5% high). Users with few completions wait behind a server that paces them; their
    completions together are its departures and are counted as one stream (each one's own
    span would favour those it happened to serve quickly: 1.03-1.06 of the bound behind
    three sync workers).
    """
    own, paced = 0.0, Completions()
    for user in users:
        if user.count >= OWN_SPAN_COMPLETIONS:
            own += hold_rate(user, hold_s)
        else:
            paced.merge(user)
    return own + hold_rate(paced, hold_s)


class CompletionCounter:
    """Each user's successful completions since the hold began, fed by Locust's request event.

    Runs for every request, thousands a second: a dict lookup and a few comparisons each.
    """

    def __init__(self) -> None:
        self.since: float | None = None
        self.users: dict[Hashable, Completions] = {}
        # Set when a successful request named no user: then no rate can be given.
        self.anonymous = False

    def start(self, since: float) -> None:
        """Forget what came before and count completions that end from ``since`` (time.time())."""
        self.since = since
        self.users = {}
        self.anonymous = False

    def stop(self) -> None:
        self.since = None

    def on_request(
        self,
        *,
        context: Mapping[str, object],
        start_time: float,
        response_time: float,
        exception: BaseException | None = None,
        **_: object,
    ) -> None:
        if self.since is None or exception is not None:
            return
        end = start_time + response_time / 1000
        if end < self.since:
            return
        user = context.get(USER_KEY)
        if user is None:
            self.anonymous = True
            return
        seen = self.users.get(user)
        if seen is None:
            seen = self.users[user] = Completions()
        seen.add(end)

    def rate(self, hold_s: float) -> float | None:
        """The hold's successful requests per second; None if some request named no user."""
        if self.anonymous:
            return None
        return closed_loop_rate(self.users.values(), hold_s)
