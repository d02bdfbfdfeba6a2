"""The /cpu work checked against the generator's closed form, not against itself."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import socket
import stat
from concurrent.futures import ProcessPoolExecutor

import pytest

from blockbench.apps.cpu import pool_child_init, spin

MODULUS = 2**31
MULTIPLIER = 1103515245
INCREMENT = 12345
# spin(1): 1 x 1103515245 + 12345, by hand. spin(1000), from _jump below; the conformance
# suite expects it from both apps (tests/apps/test_conformance.py).
AFTER_ONE = 1103527590
AFTER_1000 = 1219259225


def _jump(steps: int) -> int:
    """The generator's state after ``steps`` steps from 1, without taking them: the step is
    the affine map x -> a x + c (mod 2^31), composed with itself by repeated squaring."""
    a, c = 1, 0  # the identity map
    step_a, step_c = MULTIPLIER, INCREMENT
    while steps:
        if steps & 1:
            a, c = step_a * a % MODULUS, (step_a * c + step_c) % MODULUS
        step_a, step_c = step_a * step_a % MODULUS, (step_a * step_c + step_c) % MODULUS
        steps >>= 1
    return (a + c) % MODULUS


def test_known_values() -> None:
    assert spin(0) == 1
    assert spin(1) == AFTER_ONE
    assert spin(1000) == AFTER_1000


@pytest.mark.parametrize("work", [2, 3, 999, 1001, 4096, 65_537, 100_000])
def test_spin_takes_exactly_work_steps(work: int) -> None:
    # One step more or fewer, or another constant, and the states part at once.
    assert spin(work) == _jump(work)
    assert spin(work) != _jump(work - 1)


def test_the_jump_agrees_with_taking_the_steps_one_by_one() -> None:
    state = 1
    for steps in range(1, 300):
        state = (state * MULTIPLIER + INCREMENT) % MODULUS
        assert _jump(steps) == state


def _ignore(signum: int, frame: object) -> None:
    pass


def _handlers_here() -> dict[int, object]:
    return {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}


def test_a_pool_child_stops_on_the_signals_its_process_group_gets() -> None:
    # In a real forked pool child: pool_child_init also closes every socket of the process it
    # runs in, which must never be this one.
    saved = _handlers_here()
    try:
        # What a forked child inherits from a server that handles SIGTERM itself.
        for sig in saved:
            signal.signal(sig, _ignore)
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(1, mp_context=context, initializer=pool_child_init) as pool:
            in_child = pool.submit(_handlers_here).result(timeout=30)
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]
    assert in_child == {signal.SIGTERM: signal.SIG_DFL, signal.SIGINT: signal.SIG_DFL}


def _sockets_here() -> list[int]:
    """The socket descriptors of the process this runs in."""
    fds = [int(name) for name in os.listdir("/proc/self/fd")]
    found = []
    for fd in fds:
        with contextlib.suppress(OSError):
            if stat.S_ISSOCK(os.fstat(fd).st_mode):
                found.append(fd)
    return found


def test_a_pool_child_keeps_none_of_its_servers_sockets() -> None:
    # A client's keep-alive connection, open when the server's pool forks its child: the
    # child's copy must not outlive the server's, or the client never sees the connection end.
    server, client = socket.socketpair()
    try:
        assert server.fileno() in _sockets_here()
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(1, mp_context=context, initializer=pool_child_init) as pool:
            assert pool.submit(_sockets_here).result(timeout=30) == []
            # The server closes its end: the client sees the end at once, as if no child ever
            # had a copy (recv returns b"" rather than blocking).
            server.close()
            client.settimeout(5)
            assert client.recv(1) == b""
    finally:
        server.close()
        client.close()
