"""The slow upstream service: ``GET /delay?ms=N`` answers after N milliseconds.

A bare asyncio Protocol on uvloop with httptools' parser, answering with response bytes prepared
once per request target, so that it costs a few microseconds of CPU per call and is never the
bottleneck of a benchmark (``blockbench.upstream.calibration`` measures that cost). It uses the
same parameter rule as the twins' ``ms``.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
from collections import deque
from collections.abc import Mapping
from http import HTTPStatus
from types import FrameType
from typing import NamedTuple, cast
from urllib.parse import unquote

import httptools
import uvloop

from blockbench.apps import contract, settings

DEFAULT_HOST = settings.DEFAULT_UPSTREAM_HOST
DEFAULT_PORT = settings.DEFAULT_UPSTREAM_PORT
DELAY = contract.Endpoint("delay", "/delay", "Answers after ms.", (contract.MS,))
HEALTHZ_PATH = "/healthz"
# The kernel caps the listen queue at net.core.somaxconn; ask for plenty so bursts of new
# connections are queued rather than refused.
BACKLOG = 16384
# Distinct request targets whose answers are kept ready. A benchmark asks for a handful; a client
# cycling through more only costs a rebuild, and the bound keeps memory flat.
CACHE_SIZE = 4096
# How often a worker process checks that the parent that started it is still there.
ORPHAN_CHECK_S = 1.0
# How long the parent gives its worker processes to stop before it kills them.
STOP_TIMEOUT_S = 5.0
_ALLOWED = frozenset(method.encode() for method in contract.ALLOWED_METHODS)


class Prepared(NamedTuple):
    """Everything one request target is answered with: no parsing or JSON on the common path."""

    delay: float
    keep_alive: bytes
    close: bytes


class BadRequest(contract.ContractError):
    """A request httptools cannot parse; the contract itself never sees one."""

    status = 400

    def body(self) -> contract.JSON:
        return {"error": "bad_request", "message": "The request is not valid HTTP/1.1."}


def _encode(status: int, body: bytes, headers: Mapping[str, str], head: bool) -> Prepared:
    lines = [
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}",
        f"content-type: {contract.MEDIA_TYPE}",
        f"content-length: {len(body)}",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    start = "\r\n".join(lines).encode("latin-1")
    # A HEAD answer says how long the body would be, and leaves it out.
    end = b"\r\n\r\n" + (b"" if head else body)
    # Naming keep-alive is redundant in HTTP/1.1 but is what an HTTP/1.0 client needs to reuse
    # the connection, so one set of bytes serves both.
    return Prepared(
        0.0, start + b"\r\nconnection: keep-alive" + end, start + b"\r\nconnection: close" + end
    )


def prepare(method: bytes, url: bytes) -> Prepared:
    """Build the answer to one request line (the cold path, run once per distinct target)."""
    delay = 0.0
    try:
        try:
            parsed = httptools.parse_url(url)
        except httptools.HttpParserInvalidURLError:
            raise BadRequest() from None
        path = parsed.path.decode("latin-1")
        if "%" in path:
            path = unquote(path)
        if path not in (HEALTHZ_PATH, DELAY.path):
            raise contract.NotFound()
        if method not in _ALLOWED:
            raise contract.MethodNotAllowed()
        if path == HEALTHZ_PATH:
            body: contract.JSON = {"status": "ok", "app": "upstream"}
        else:
            ms = int(contract.parse_query(DELAY, parsed.query or b"")["ms"])
            delay, body = ms / 1000, {"ms": ms}
        status, headers = 200, {}
    except contract.ContractError as exc:
        status, body, headers = exc.status, exc.body(), exc.headers()
    prepared = _encode(status, contract.render(body), headers, head=method == b"HEAD")
    return prepared._replace(delay=delay)


_cache: dict[bytes, Prepared] = {}
_BAD_REQUEST = _encode(400, contract.render(BadRequest().body()), {}, head=False).close


def lookup(method: bytes, url: bytes) -> Prepared:
    key = method + b" " + url
    prepared = _cache.get(key)
    if prepared is None:
        if len(_cache) >= CACHE_SIZE:
            _cache.clear()
        prepared = _cache[key] = prepare(method, url)
    return prepared


class _Pending:
    """An answer waiting for its delay, or for the answers ahead of it on its connection."""

    __slots__ = ("close", "data", "ready", "timer")

    def __init__(self, data: bytes, close: bool) -> None:
        self.data = data
        self.close = close
        self.ready = False
        self.timer: asyncio.TimerHandle | None = None


class UpstreamProtocol(asyncio.Protocol):
    """One client connection: keep-alive, pipelining answered in order, delays on timers."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._url = b""
        # Invariant: the head of the queue is never ready (ready heads are written at once).
        self._queue: deque[_Pending] = deque()
        # Set once an answer that closes the connection is queued: later requests are ignored.
        self._closing = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but have all its methods.
        self._transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        for pending in self._queue:
            if pending.timer is not None:
                pending.timer.cancel()
        self._queue.clear()
        self._transport = None

    def data_received(self, data: bytes) -> None:
        if self._closing:
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            # Nothing here speaks another protocol: answer what was asked, then hang up.
            self._close_when_answered()
        except httptools.HttpParserError:
            # llhttp also refuses bytes after a "Connection: close" request; those are ignored.
            if not self._closing:
                self._answer(0.0, _BAD_REQUEST, close=True)

    def eof_received(self) -> bool:
        # A client may send its requests and then shut down its side: still answer them.
        self._close_when_answered()
        return True

    def pause_writing(self) -> None:
        # A client that does not read its answers must not make this process buffer them all.
        if self._transport is not None:
            self._transport.pause_reading()

    def resume_writing(self) -> None:
        if self._transport is not None:
            self._transport.resume_reading()

    # httptools calls only the callbacks a protocol has; these two are all this server needs.
    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_message_complete(self) -> None:
        url, self._url = self._url, b""
        if self._closing:
            return
        prepared = lookup(self._parser.get_method(), url)
        if self._parser.should_keep_alive():
            self._answer(prepared.delay, prepared.keep_alive, close=False)
        else:
            self._answer(prepared.delay, prepared.close, close=True)

    def _answer(self, delay: float, data: bytes, close: bool) -> None:
        if close:
            self._closing = True
        if delay <= 0 and not self._queue:
            self._write(data, close)
            return
        pending = _Pending(data, close)
        if delay > 0:
            pending.timer = self._loop.call_later(delay, self._ready, pending)
        else:
            pending.ready = True
        self._queue.append(pending)

    def _ready(self, pending: _Pending) -> None:
        pending.ready, pending.timer = True, None
        # Timers of equal deadlines may fire in any order: only the queue decides what goes out.
        queue = self._queue
        while queue and queue[0].ready:
            head = queue.popleft()
            self._write(head.data, head.close)

    def _write(self, data: bytes, close: bool) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        transport.write(data)
        if close:
            transport.close()

    def _close_when_answered(self) -> None:
        self._closing = True
        if self._queue:
            self._queue[-1].close = True
        elif self._transport is not None:
            self._transport.close()


async def serve(host: str, port: int, *, reuse_port: bool = False, parent: int = 0) -> None:
    """Serve until SIGTERM or SIGINT, or until the process ``parent`` is gone (when not 0)."""
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    if parent:
        _stop_when_orphaned(loop, parent, stopping)
    server = await loop.create_server(
        UpstreamProtocol, host, port, backlog=BACKLOG, reuse_port=reuse_port
    )
    await stopping.wait()
    server.close()


def _stop_when_orphaned(
    loop: asyncio.AbstractEventLoop, parent: int, stopping: asyncio.Event
) -> None:
    # A parent killed outright cannot stop its workers; they would hold the port forever.
    if os.getppid() != parent:
        stopping.set()
        return
    loop.call_later(ORPHAN_CHECK_S, _stop_when_orphaned, loop, parent, stopping)


class _Stop(Exception):
    """Raised in the parent by SIGTERM or SIGINT."""


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop()


def _worker(host: str, port: int, parent: int) -> None:
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, signal.SIG_DFL)
    uvloop.run(serve(host, port, reuse_port=True, parent=parent))


def run_processes(host: str, port: int, count: int) -> int:
    """Serve from ``count`` processes sharing the port; return the exit status for the parent.

    SO_REUSEPORT lets the kernel spread new connections over the processes, each with its own
    event loop, instead of all of them waking for every connection on one shared socket.
    """
    # Forked, not spawned: nothing is running yet, and a fork starts in milliseconds.
    context = multiprocessing.get_context("fork")
    workers: list[multiprocessing.process.BaseProcess] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _raise_stop)
    try:
        for _ in range(count):
            worker = context.Process(target=_worker, args=(host, port, os.getpid()), daemon=True)
            worker.start()
            workers.append(worker)
        ended = multiprocessing.connection.wait([worker.sentinel for worker in workers])
    except _Stop:
        return 0
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        _stop(workers)
    dead = next(worker for worker in workers if worker.sentinel in ended)
    # A worker exits 0 only when told to stop: then the whole group is stopping, which is no fault.
    if dead.exitcode == 0:
        return 0
    print(
        f"upstream worker {dead.pid} exited with code {dead.exitcode}; stopped the others",
        file=sys.stderr,
    )
    return 1


def _stop(workers: list[multiprocessing.process.BaseProcess]) -> None:
    for worker in workers:
        if worker.exitcode is None:
            worker.terminate()
    for worker in workers:
        worker.join(STOP_TIMEOUT_S)
        if worker.exitcode is None:
            worker.kill()
            worker.join()


def main(argv: list[str] | None = None) -> None:
    # argparse rather than the harness's typer: the app image, which runs this service, installs
    # only the apps' and the upstream's extras; an import-linter contract keeps typer out of here.
    parser = argparse.ArgumentParser(prog="python -m blockbench.upstream", description=__doc__)
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument(
        "--processes", type=int, default=1, help="Processes sharing the port (SO_REUSEPORT)."
    )
    args = parser.parse_args(argv)
    if args.processes < 1:
        parser.error(f"--processes must be at least 1, got {args.processes}")
    if args.processes == 1:
        uvloop.run(serve(args.host, args.port))
    else:
        sys.exit(run_processes(args.host, args.port, args.processes))


if __name__ == "__main__":
    main()
