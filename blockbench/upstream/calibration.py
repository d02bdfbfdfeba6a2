"""The upstream service's CPU cost per call, from which the run engine computes its ceiling.

Calls ``/delay?ms=0`` over keep-alive connections from a small client on an event loop in this
process, and reads with psutil the CPU time the server's processes spent meanwhile. Standard
library and psutil only, so the harness image (without uvloop or httptools) can import it.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from typing import cast
from urllib.parse import urlsplit

import psutil

from blockbench.errors import BlockbenchError
from blockbench.targets.pinning import cpu_seconds

# Longer than a healthy server needs by two orders of magnitude on a loaded 2-core machine.
TIMEOUT_S = 30.0
_TARGET = "/delay?ms=0"
_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*([0-9]+)", re.IGNORECASE)


class CalibrationError(BlockbenchError):
    """The upstream could not be measured; the message says what failed."""


class _Tally:
    """The calls still to send and the answers still to come, shared by every connection."""

    def __init__(self, calls: int) -> None:
        self.to_send = calls
        self.to_answer = calls
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def fail(self, message: str) -> None:
        if not self.done.done():
            self.done.set_exception(CalibrationError(message))


class _Caller(asyncio.Protocol):
    """One keep-alive connection: a request, its whole answer, the next request."""

    def __init__(self, request: bytes, tally: _Tally) -> None:
        self._request = request
        self._tally = tally
        self._buffer = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # The loop may be uvloop's, whose transports have Transport's methods but not its class.
        self._transport = cast(asyncio.Transport, transport)
        self._send()

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        if self._tally.to_answer:
            self._tally.fail(f"the upstream closed a connection before answering ({exc})")

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        # Answers are tiny and one is in flight per connection, but read them as a stream anyway.
        while (end := self._buffer.find(b"\r\n\r\n")) >= 0:
            head = self._buffer[:end]
            length = _CONTENT_LENGTH.search(head)
            if length is None:
                self._tally.fail(f"an answer without Content-Length: {head[:200]!r}")
                return
            size = end + 4 + int(length[1])
            if len(self._buffer) < size:
                return
            self._buffer = self._buffer[size:]
            if head[9:12] != b"200":
                self._tally.fail(f"GET {_TARGET} answered {head[:200]!r}, not 200")
                return
            self._tally.to_answer -= 1
            if not self._tally.to_answer:
                self._tally.done.set_result(None)
            self._send()

    def _send(self) -> None:
        if self._tally.to_send and self._transport is not None:
            self._tally.to_send -= 1
            self._transport.write(self._request)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


async def _connect(caller: _Caller, host: str, port: int) -> None:
    await asyncio.get_running_loop().create_connection(lambda: caller, host, port)


async def _drive(host: str, port: int, calls: int, concurrency: int) -> None:
    request = f"GET {_TARGET} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
    tally = _Tally(calls)
    callers = [_Caller(request, tally) for _ in range(min(calls, concurrency))]
    try:
        async with asyncio.timeout(TIMEOUT_S):
            await asyncio.gather(*(_connect(caller, host, port) for caller in callers))
            await tally.done
    finally:
        # Done or failed: connections closed from here on are not failures.
        if not tally.done.done():
            tally.done.cancel()
        for caller in callers:
            caller.close()
        # Let the closed transports release their sockets before the loop goes.
        await asyncio.sleep(0)


def _processes(pids: Sequence[int]) -> list[psutil.Process]:
    try:
        leaders = [psutil.Process(pid) for pid in pids]
        return [member for leader in leaders for member in (leader, *leader.children(True))]
    except psutil.NoSuchProcess as exc:
        raise CalibrationError(f"no upstream process with pid {exc.pid} to measure") from None


def measure_cpu_per_call(
    url: str, pids: Sequence[int], calls: int = 20000, concurrency: int = 200
) -> float:
    """CPU seconds the upstream at ``url`` (processes ``pids`` and their children) spends per
    ``/delay?ms=0`` call, over ``calls`` calls on ``concurrency`` keep-alive connections.

    Its ceiling in calls/s is the CPU cores it may use divided by this figure.
    """
    if calls < 1 or concurrency < 1:
        raise ValueError(f"calls and concurrency must be at least 1, got {calls}, {concurrency}")
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    processes = _processes(pids)
    before = cpu_seconds(processes)
    try:
        asyncio.run(_drive(host, port, calls, concurrency))
    except TimeoutError:
        raise CalibrationError(
            f"the upstream at {url} did not answer {calls} calls within {TIMEOUT_S:.0f} s; "
            "is it overloaded, stopped, or not the blockbench upstream?"
        ) from None
    except OSError as exc:
        raise CalibrationError(f"could not call the upstream at {url}: {exc}") from None
    return (cpu_seconds(processes) - before) / calls
