"""How long a request target and a header value a server accepts, found by bisection over raw
sockets: the measurements docs/server-limits.md records, the reader of its table, and the check
of a running target against its row (tests/integration/test_targets.py makes it on every one).

``python -m tests.integration.limits URL [--repeat N] [--segment BYTES]`` measures a running
target by hand (loopback only).
"""

from __future__ import annotations

import argparse
import re
import select
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from urllib.parse import urlsplit

from blockbench.targets.supervisor import LOOPBACK

# The search's bounds: every server here accepts 1 KiB, and a head of 1 MiB is far beyond any
# request a client sends on purpose, so "none below 1 MiB" is as good as no limit.
FLOOR = 1024
CEILING = 1024 * 1024
# Seconds to wait for a status line; a server still reading a head it will accept answers in
# milliseconds on loopback.
TIMEOUT = 5.0
# Segmented sending: this many bytes per send, with a pause between, so that the server reads the
# head in pieces (a limit on an incomplete head, as h11's, only shows then).
SEGMENT_PAUSE = 0.001


@dataclass(frozen=True)
class Answer:
    """What a server answered: a status code, or how it refused without one."""

    status: int | None
    # Without a status line: "connection closed", "connection reset" or "timeout".
    refusal: str | None = None

    def __str__(self) -> str:
        return str(self.status) if self.status is not None else str(self.refusal)


class Dimension(Enum):
    """What grows: the request target of a GET the app answers 404 (``/`` then padding), or
    one header's value on ``GET /healthz``, which the app answers 200."""

    TARGET = "request target"
    HEADER = "header value"

    def request(self, length: int) -> bytes:
        if self is Dimension.TARGET:
            line, extra = "/" + "a" * (length - 1), ""
        else:
            line, extra = "/healthz", "X-Pad: " + "a" * length + "\r\n"
        head = f"GET {line} HTTP/1.1\r\nHost: {LOOPBACK}\r\n{extra}Connection: close\r\n\r\n"
        return head.encode("ascii")

    @property
    def accepted(self) -> int:
        return 404 if self is Dimension.TARGET else 200


@dataclass(frozen=True)
class Limit:
    """The longest length accepted and the answer one byte beyond it. ``longest`` is None when
    even FLOOR was refused (``beyond`` is then FLOOR's answer); ``beyond`` is None when CEILING
    was accepted (no limit below it)."""

    longest: int | None
    beyond: Answer | None

    def __str__(self) -> str:
        if self.longest is None:
            return f"< {FLOOR} ({self.beyond})"
        if self.beyond is None:
            return f">= {CEILING}"
        return f"{self.longest} (beyond: {self.beyond})"


def ask(
    url: str, request: bytes, *, segment: int | None = None, timeout: float = TIMEOUT
) -> Answer:
    """Send ``request`` on a new connection and read the status line, reading while sending: a
    server that refuses a head answers before it has read all of it."""
    host, port = _loopback(url)
    deadline = time.monotonic() + timeout
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        pending = memoryview(request)
        step = segment or len(request)
        received = b""
        while (left := deadline - time.monotonic()) > 0:
            writers = [sock] if pending else []
            readable, writable, _ = select.select([sock], writers, [], left)
            if readable:
                try:
                    data = sock.recv(65536)
                except ConnectionResetError:
                    return _answer(received, "connection reset")
                if not data:
                    return _answer(received, "connection closed")
                received += data
                if b"\r\n" in received:
                    return _answer(received, "connection closed")
            elif writable:
                try:
                    pending = pending[sock.send(pending[:step]) :]
                except (BrokenPipeError, ConnectionResetError):
                    # The server closed while the head was still arriving; what it answered
                    # first, if anything, is still to be read.
                    pending = pending[:0]
                if segment and pending:
                    time.sleep(SEGMENT_PAUSE)
        return _answer(received, "timeout")


def _answer(received: bytes, refusal: str) -> Answer:
    line = received.split(b"\r\n", 1)[0].split()
    if len(line) >= 2 and line[0].startswith(b"HTTP/") and line[1].isdigit():
        return Answer(int(line[1]))
    return Answer(None, refusal)


def _loopback(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.hostname != LOOPBACK or parts.port is None:
        raise ValueError(f"probes go to {LOOPBACK}:PORT only, not {url!r}")
    return parts.hostname, parts.port


def bisect(answer: Callable[[int], Answer], accepted: int) -> Limit:
    """The longest length in [FLOOR, CEILING] whose answer is ``accepted``, assuming that every
    shorter one is accepted too (where a server's is not, repeated searches differ)."""
    low, high = FLOOR, CEILING
    first = answer(low)
    if first.status != accepted:
        return Limit(None, first)
    beyond = answer(high)
    if beyond.status == accepted:
        return Limit(high, None)
    while high - low > 1:
        middle = (low + high) // 2
        reply = answer(middle)
        if reply.status == accepted:
            low = middle
        else:
            high, beyond = middle, reply
    return Limit(low, beyond)


def measure(url: str, dimension: Dimension, *, segment: int | None = None) -> Limit:
    return bisect(
        lambda length: ask(url, dimension.request(length), segment=segment), dimension.accepted
    )


# The record this probe keeps: one row per server, naming its targets.
DOC = Path(__file__).resolve().parents[2] / "docs" / "server-limits.md"
# The doc's table: its columns, as the doc's header names them.
SERVER, TARGETS = "server", "targets"
COLUMNS = {
    Dimension.TARGET: ("longest request target", "one byte longer"),
    Dimension.HEADER: ("longest header value", "one byte more"),
}
# "4,081", "16,340–65,488" (a range: it varies), "≥ 1,048,576" (the search's ceiling).
FIGURE = re.compile(r"(?:≥ )?([\d,]+)(?:–([\d,]+))?")
NONE_BEYOND = "—"
# Each target is measured with the head sent at once and in pieces of this size, which is where
# a limit on an incomplete head shows (h11's); 8 KiB keeps a 1 MiB probe to a fraction of a second.
SEGMENT = 8192


@dataclass(frozen=True)
class Expected:
    """One dimension of a row: the longest accepted, within [low, high], and the answers one
    may get just beyond it (none, when the search's ceiling is accepted)."""

    low: int
    high: int
    beyond: frozenset[str]

    def admits(self, limit: Limit) -> bool:
        if limit.longest is None or not self.low <= limit.longest <= self.high:
            return False
        return (str(limit.beyond) if limit.beyond else NONE_BEYOND) in self.beyond


@dataclass(frozen=True)
class Row:
    server: str
    targets: tuple[str, ...]
    expected: dict[Dimension, Expected]


def rows(text: str) -> list[Row]:
    """The table under "## Measured limits", one Row per line."""
    table = text.split("## Measured limits", 1)[1].split("\n\n", 2)[1].splitlines()
    header = [cell.strip() for cell in table[0].strip("|").split("|")]
    found = []
    for line in table[2:]:
        cells = dict(
            zip(header, (cell.strip() for cell in line.strip("|").split("|")), strict=True)
        )
        expected = {
            dimension: parse_expected(cells[figure], cells[beyond])
            for dimension, (figure, beyond) in COLUMNS.items()
        }
        names = tuple(re.findall(r"`([^`]+)`", cells[TARGETS]))
        found.append(Row(cells[SERVER], names, expected))
    return found


def parse_expected(figure: str, beyond: str) -> Expected:
    """One dimension of a row from its two cells: "4,081" and "414", say."""
    match = FIGURE.match(figure)
    assert match, f"{figure!r} is no figure: write 4,081, 16,340–65,488 or ≥ 1,048,576"
    low = int(match[1].replace(",", ""))
    high = int(match[2].replace(",", "")) if match[2] else low
    return Expected(low, high, frozenset(answer.strip() for answer in beyond.split(" or ")))


def row_of(name: str) -> Row:
    (row,) = [row for row in rows(DOC.read_text()) if name in row.targets]
    return row


def mismatches(name: str, url: str) -> list[str]:
    """What the target ``name`` serving at ``url`` accepts that its server's row does not say,
    each dimension measured with the head sent at once and in SEGMENT-byte pieces."""
    row = row_of(name)
    found = []
    for dimension in Dimension:
        for segment in (None, SEGMENT):
            limit = measure(url, dimension, segment=segment)
            if not row.expected[dimension].admits(limit):
                sent = f"in {segment}-byte pieces" if segment else "at once"
                found.append(
                    f"{name} accepts a {dimension.value} of {limit} sent {sent}, not what "
                    f"docs/server-limits.md gives for {row.server}: {row.expected[dimension]}"
                )
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url", help=f"a running target, http://{LOOPBACK}:PORT")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--segment", type=int, help="bytes per send (default: one send)")
    options = parser.parse_args()
    for dimension in Dimension:
        for _ in range(options.repeat):
            print(f"{dimension.value}: {measure(options.url, dimension, segment=options.segment)}")


if __name__ == "__main__":
    main()
