"""The fixed, deterministic CPU work behind /cpu, shared by both apps and their process pools."""

from __future__ import annotations

import signal


def spin(work: int) -> int:
    """Do ``work`` steps of a linear congruential generator and return the final state.

    Pure Python on purpose: it holds the GIL the whole time, as real handler code does, and the
    checksum proves both apps did exactly the same work.
    """
    state = 1
    for _ in range(work):
        state = (state * 1103515245 + 12345) & 0x7FFFFFFF
    return state


def pool_child_init() -> None:
    """The initializer of every process pool behind /cpu?offload=process.

    A pool child forked from a server inherits the server's Python SIGTERM handler, which only
    asks the server's own loop to stop; the child would then ignore the SIGTERM its process
    group gets and, holding a copy of the listening socket, keep the port bound until killed.
    """
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
