"""A closed loop's throughput over a hold, counted per user from first to last completion.

Standard library only: the Locust shape (loadtests/sweep.py) counts with it as requests end,
and the tests check its arithmetic without importing Locust.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass

# The key of a request's context (Locust's User.context()) that names the user who sent it.
USER_KEY = "user"
# From this many completions on, the rate is read from their span.
MIN_SPAN_COMPLETIONS = 3


@dataclass(slots=True)
class UserCompletions:
    """One user's successful requests that ended in the hold: how many, the first and last end."""

    count: int
    first_end: float
    last_end: float


def closed_loop_rate(users: Iterable[UserCompletions], hold_s: float) -> float:
    """Successful requests per second of all users together, counted from the first
    completion in the hold to the last.

    Counting completions in a fixed window is off by the requests in hand at each edge: up to
    one per user where the users pace the level (one user with 400 ms requests: 12 or 13 in
    a 5 s hold, 12.5 cycles), up to the server's slots where it paces them (three workers
    with 400 ms requests: 37 give or take 3). Between the first and the last completion lie
    whole intervals only. Per-user spans would do the same for users with many completions,
    but with few they favour the users who were served quickly (a server that picks the
    next request at random serves some users three times in a second): the pooled stream has
    no such choice. With fewer than three completions in all the count is all there is.
    """
    users = list(users)
    count = sum(user.count for user in users)
    if count < MIN_SPAN_COMPLETIONS:
        return count / hold_s
    span = max(user.last_end for user in users) - min(user.first_end for user in users)
    return (count - 1) / span if span > 0 else count / hold_s


class CompletionCounter:
    """Each user's successful completions since the hold began, fed by Locust's request event.

    Runs for every request, thousands a second: one dict lookup and a few assignments each.
    """

    def __init__(self) -> None:
        self.since: float | None = None
        self.users: dict[Hashable, UserCompletions] = {}
        # Set when a successful request named no user: then no per-user rate can be given.
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
            self.users[user] = UserCompletions(1, end, end)
        else:
            # Closed loop: a user's requests end one after the other, so this is the last.
            seen.count += 1
            seen.last_end = end

    def rate(self, hold_s: float) -> float | None:
        """The hold's successful requests per second; None if some request named no user."""
        if self.anonymous:
            return None
        return closed_loop_rate(self.users.values(), hold_s)
