"""Waiting for a condition: the one polling loop the harness and its tests share.

The callers' conditions are cheap checks of a process, a file or a URL; each caller says what a
timeout means (an error naming what did not happen, or nothing), so this only reports whether
the condition came true in time.
"""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_until(condition: Callable[[], bool], timeout: float, interval: float) -> bool:
    """Check ``condition`` now and every ``interval`` seconds until it holds (True) or a check
    finds ``timeout`` seconds have passed (False).

    The intervals are whole, so the last check comes at or up to an interval after the deadline,
    and a condition that compares one check with the one before always spans ``interval``. An
    exception from ``condition`` ends the wait at once: that is how a caller gives up early,
    e.g. when the process it waits for has exited.
    """
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
    return True
