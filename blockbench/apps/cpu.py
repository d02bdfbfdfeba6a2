"""The fixed, deterministic CPU work behind /cpu, shared by both apps and their process pools."""

from __future__ import annotations

import contextlib
import os
import signal
import stat


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

    It also inherits every socket the server had open when the pool was made: its clients'
    keep-alive connections among them. When the server later closes one, the child's copy
    keeps it open, so the client sees no end of it, reuses it, and waits for an answer nobody
    will read (gunicorn gthread closes idle connections after 2 s). The pool talks to its
    children over pipes, never sockets, so the child closes every socket it was given.
    """
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    close_inherited_sockets()


def close_inherited_sockets() -> None:
    """Close this process's copies of every socket (its parent's are untouched: closing a
    descriptor sends nothing on the connection)."""
    for fd in _open_fds():
        try:
            if stat.S_ISSOCK(os.fstat(fd).st_mode):
                os.close(fd)
        except OSError:
            continue  # closed meanwhile, or the listing's own descriptor


def _open_fds() -> list[int]:
    for listing in ("/proc/self/fd", "/dev/fd"):
        with contextlib.suppress(OSError):
            return [int(name) for name in os.listdir(listing) if int(name) > 2]
    return []
