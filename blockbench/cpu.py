"""The fixed, deterministic CPU work behind /cpu, shared by both apps and their process pools."""

from __future__ import annotations


def spin(work: int) -> int:
    """Do ``work`` steps of a linear congruential generator and return the final state.

    Pure Python on purpose: it holds the GIL the whole time, as real handler code does, and the
    checksum proves both apps did exactly the same work.
    """
    state = 1
    for _ in range(work):
        state = (state * 1103515245 + 12345) & 0x7FFFFFFF
    return state
