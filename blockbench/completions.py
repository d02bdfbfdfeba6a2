"""A closed loop's throughput over a hold, counted per user from first to last completion.

Standard library only: the Locust shape (loadtests/sweep.py) counts with it as requests end,
and the tests check its arithmetic without importing Locust.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass

# The key of a request's context (Locust's User.context()) that names the user who sent it.
USER_KEY = "user"
# From this many completions on, a user's rate is read from its completions' span.
MIN_SPAN_COMPLETIONS = 3


@dataclass(slots=True)
class UserCompletions:
    """One user's successful requests that ended in the hold: how many, the first and last end."""

    count: int
    first_end: float
    last_end: float


def user_rate(user: UserCompletions, hold_s: float) -> float:
    """Requests per second of one user over a hold of ``hold_s`` seconds."""
    span = user.last_end - user.first_end
    if user.count < MIN_SPAN_COMPLETIONS or span <= 0:
        # Counting completions in a fixed window is off by up to one request per user, as the
        # window cuts a cycle at each edge; between the first and last completion it holds
        # whole cycles only. With fewer than three, the span is one cycle or none and leaves
        # most of the hold unseen (a user stalled behind a slow server completes once or not
        # at all), so the plain count over the hold is the better estimate.
        return user.count / hold_s
    return (user.count - 1) / span


def closed_loop_rate(users: Iterable[UserCompletions], hold_s: float) -> float:
    """Successful requests per second of all users together: the sum of their rates."""
    return sum(user_rate(user, hold_s) for user in users)


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
