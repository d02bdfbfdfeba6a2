"""The slow upstream service: its answers and errors, HTTP/1.1 on the wire, its processes, and
the measure of its CPU cost per call."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from unittest import mock
from urllib.parse import urlsplit

import httpx
import pytest

from blockbench.apps import contract
from blockbench.targets import supervisor
from blockbench.upstream import server as upstream
from blockbench.upstream.burst import burst
from blockbench.upstream.calibration import CalibrationError, measure_cpu_per_call
from tests import servers
from tests.integration.probes import left_after, process_tree

pytestmark = pytest.mark.integration


def test_delay_answers_after_ms(upstream_url: str) -> None:
    started = time.perf_counter()
    reply = httpx.get(f"{upstream_url}/delay?ms=200")
    assert reply.status_code == 200
    assert reply.json() == {"ms": 200}
    assert time.perf_counter() - started >= 0.2


@pytest.mark.parametrize(
    ("url", "status"),
    [("/delay", 400), ("/delay?ms=-1", 400), ("/delay?ms=x", 400), ("/nope", 404)],
)
def test_bad_requests_get_clear_errors(upstream_url: str, url: str, status: int) -> None:
    reply = httpx.get(upstream_url + url)
    assert reply.status_code == status
    assert reply.json()["message"]


def test_wrong_method_is_405(upstream_url: str) -> None:
    assert httpx.post(f"{upstream_url}/delay?ms=1").status_code == 405


def test_holds_two_thousand_waiting_requests_at_once(upstream_url: str) -> None:
    # The 10,000-request figure is measured by benchmarks/upstream_capacity.py; this is the
    # bounded check that requests overlap instead of queueing.
    count, wait_s = 2000, 2.0
    result = asyncio.run(burst(f"{upstream_url}/delay?ms={wait_s * 1000:.0f}", count))
    assert result.ok == count
    # Every request was in flight before the first was answered...
    assert result.all_sent_after < result.first_answer_after
    # ...and they were answered together: one wait, plus time to open the connections,
    # where queueing one after another would take count x wait_s.
    assert result.elapsed < 3 * wait_s


class _Connection:
    """One raw keep-alive connection: what is sent and received is exactly what is on the wire."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=10)
        self.buffer = b""

    def send(self, *requests: bytes) -> None:
        self.sock.sendall(b"".join(requests))

    def answer(self, head_only: bool = False) -> tuple[int, dict[str, str], bytes]:
        while b"\r\n\r\n" not in self.buffer:
            self._receive()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = dict(line.lower().split(": ", 1) for line in lines)
        size = 0 if head_only else int(headers["content-length"])
        while len(self.buffer) < size:
            self._receive()
        body, self.buffer = self.buffer[:size], self.buffer[size:]
        return int(status_line.split(" ")[1]), headers, body

    def closed(self) -> bool:
        """True once the server has closed the connection, with nothing more sent before."""
        data = self.sock.recv(65536)
        self.buffer += data
        return data == b"" and self.buffer == b""

    def _receive(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError(f"closed by the server; unread: {self.buffer!r}")
        self.buffer += data

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def connection(upstream_url: str) -> Iterator[_Connection]:
    connection = _Connection(upstream_url)
    yield connection
    connection.close()


def _get(target: str, *headers: str, version: str = "1.1", method: str = "GET") -> bytes:
    lines = [f"{method} {target} HTTP/{version}", "Host: upstream", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_keep_alive_answers_several_requests_on_one_connection(connection: _Connection) -> None:
    for ms in (0, 5, 0, 1):
        connection.send(_get(f"/delay?ms={ms}"))
        status, headers, body = connection.answer()
        assert (status, json.loads(body)) == (200, {"ms": ms})
        assert headers["content-type"] == contract.MEDIA_TYPE
        assert headers["connection"] == "keep-alive"


def test_pipelined_requests_are_answered_in_order_whatever_their_delays(
    connection: _Connection,
) -> None:
    # The later requests are due first: only a queue per connection keeps them in order.
    delays = [300, 200, 100, 100, 0, 0, 250]
    started = time.perf_counter()
    connection.send(*(_get(f"/delay?ms={ms}") for ms in delays))
    bodies = [json.loads(connection.answer()[2]) for _ in delays]
    assert bodies == [{"ms": ms} for ms in delays]
    assert time.perf_counter() - started >= 0.3


def test_head_answers_the_length_without_the_body(connection: _Connection) -> None:
    # The GET right behind it would be garbled if the HEAD answer carried body bytes.
    connection.send(_get("/delay?ms=1", method="HEAD"), _get("/delay?ms=2"))
    status, headers, _ = connection.answer(head_only=True)
    assert status == 200
    assert headers["content-length"] == str(len(b'{"ms":1}'))
    assert connection.answer() == (200, mock.ANY, b'{"ms":2}')


@pytest.mark.parametrize(
    "request_bytes",
    [_get("/delay?ms=1", "Connection: close"), _get("/delay?ms=1", version="1.0")],
    ids=["connection-close", "http-1.0"],
)
def test_a_request_that_asks_to_close_is_answered_then_closed(
    connection: _Connection, request_bytes: bytes
) -> None:
    # The request after it is never answered: the connection ends with the first answer.
    connection.send(request_bytes, _get("/delay?ms=2"))
    status, headers, body = connection.answer()
    assert (status, headers["connection"], body) == (200, "close", b'{"ms":1}')
    assert connection.closed()


def test_a_malformed_request_gets_400_and_the_connection_is_closed(
    connection: _Connection,
) -> None:
    connection.send(_get("/delay?ms=1"), b"NOT HTTP AT ALL\r\n\r\n", _get("/delay?ms=2"))
    assert connection.answer()[2] == b'{"ms":1}'
    status, headers, body = connection.answer()
    assert (status, headers["connection"]) == (400, "close")
    assert json.loads(body)["error"] == "bad_request"
    assert connection.closed()


def test_405_names_the_allowed_methods(upstream_url: str) -> None:
    reply = httpx.delete(f"{upstream_url}/delay?ms=1")
    assert reply.status_code == 405
    assert reply.headers["allow"] == "GET, HEAD"
    assert reply.json()["error"] == "method_not_allowed"


def test_the_cache_of_prepared_answers_stays_bounded() -> None:
    for ms in range(upstream.CACHE_SIZE + 10):
        upstream.lookup(b"GET", f"/delay?ms={ms}".encode())
    assert 0 < len(upstream._cache) <= upstream.CACHE_SIZE
    assert upstream.lookup(b"GET", b"/delay?ms=7").delay == 0.007


@pytest.fixture
def two_processes(tmp_path: Path) -> Iterator[supervisor.ManagedProcess]:
    server = servers.upstream(tmp_path / "upstream.log", processes=2)
    yield server
    server.stop()


def test_two_processes_serve_and_stop_with_their_parent(
    two_processes: supervisor.ManagedProcess,
) -> None:
    tree = process_tree(two_processes.pid)
    assert len(tree) == 3
    with httpx.Client() as client:
        for _ in range(10):
            # A new connection each time, so the kernel spreads them over both processes.
            reply = client.get(f"{two_processes.url}/delay?ms=1", headers={"Connection": "close"})
            assert reply.json() == {"ms": 1}
    # Only the parent is signalled: it must stop its workers itself.
    os.kill(two_processes.pid, signal.SIGTERM)
    assert two_processes.popen.wait(10) == 0
    assert left_after(tree) == []


@pytest.mark.parametrize("worker", [1, 2])
def test_the_parent_exits_when_a_worker_dies(
    two_processes: supervisor.ManagedProcess, worker: int
) -> None:
    tree = process_tree(two_processes.pid)
    tree[worker].kill()
    assert two_processes.popen.wait(10) != 0
    assert left_after(tree) == []
    assert "exited with code" in supervisor.log_tail(two_processes.log_path)


@pytest.mark.parametrize("processes", [1, 2])
def test_cpu_per_call_is_measured_over_every_process(tmp_path: Path, processes: int) -> None:
    server = servers.upstream(tmp_path / "upstream.log", processes=processes)
    try:
        # Few calls, so a handful of 10 ms CPU clock ticks: the bounds are wide on purpose.
        cpu = measure_cpu_per_call(server.url, [server.pid], calls=5000, concurrency=50)
    finally:
        server.stop()
    assert 1e-6 < cpu < 5e-3


def test_cpu_per_call_names_the_upstream_it_cannot_reach(closed_port: int) -> None:
    url = f"http://127.0.0.1:{closed_port}"
    with pytest.raises(CalibrationError, match=f"could not call the upstream at {url}"):
        measure_cpu_per_call(url, [os.getpid()], calls=10)
