"""What the integration tests measure: bursts of waiting requests, and leftover processes."""

from __future__ import annotations

import asyncio
import os

import psutil

from blockbench.targets.polling import wait_until
from blockbench.upstream.burst import BurstResult, burst

# Long enough to dwarf connection set-up and scheduling noise on a busy 2-core machine, short
# enough that a few waves per target keep the suite quick.
WAIT_MS = 300
WAIT = WAIT_MS / 1000


def send_burst(url: str, count: int, timeout: float = 30.0) -> BurstResult:
    """``count`` GETs at once, each on its own connection (``Connection: close``)."""
    return asyncio.run(asyncio.wait_for(burst(url, count), timeout))


def first_wave(result: BurstResult) -> int:
    """The requests served at once: answered before 2 x WAIT, the earliest a request that had
    to wait for a free slot (at WAIT or later) can be answered, however quick the machine."""
    return sum(1 for answered in result.answers if answered < 2 * WAIT)


def answer_spread(result: BurstResult) -> float:
    """From the first answer to the last. Measured from the first answer rather than from the
    burst's start, it leaves out what delays every request alike (opening the connections, a
    busy machine waking the server up), which on a loaded 2-core machine can take more than
    one WAIT; what is left is the waves themselves, one WAIT apart."""
    return result.answers[-1] - result.answers[0]


def process_tree(pid: int) -> list[psutil.Process]:
    leader = psutil.Process(pid)
    return [leader, *leader.children(recursive=True)]


def still_running(processes: list[psutil.Process]) -> list[psutil.Process]:
    """Those still alive; a zombie has exited and only waits to be reaped."""
    alive = []
    for process in processes:
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                alive.append(process)
        except psutil.NoSuchProcess:
            continue
    return alive


def left_after(processes: list[psutil.Process], grace: float = 2.0) -> list[psutil.Process]:
    """Those still running after ``grace`` seconds: a process killed a moment ago may still be
    on its way out, one that leaked is still there."""
    wait_until(lambda: not still_running(processes), grace, 0.05)
    return still_running(processes)


def group_members(pgid: int) -> list[psutil.Process]:
    """Every live process in a process group, whoever its parent is by now."""
    members = []
    for process in psutil.process_iter():
        try:
            if os.getpgid(process.pid) == pgid:
                members.append(process)
        except (ProcessLookupError, psutil.NoSuchProcess):
            continue
    return still_running(members)
