"""A burst of concurrent GETs over raw asyncio sockets, one connection each.

Used to show the upstream service holds many waiting requests at once: a full HTTP client
spends more CPU per connection than the server does, so it would measure itself instead.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class BurstResult:
    requests: int
    ok: int
    elapsed: float
    # When the last connection was open and its request sent: all were in flight by then.
    all_sent_after: float
    # When the first answer came back; later than all_sent_after means all were waiting at once.
    first_answer_after: float
    # When each answer's status line came back, earliest first: shows the waves of a server
    # that can only take so many at once.
    answers: tuple[float, ...] = ()


async def _get(
    host: str, port: int, target: str, sent: list[float], answered: list[float], started: float
) -> bool:
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(f"GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    sent.append(time.perf_counter() - started)
    status_line = await reader.readline()
    answered.append(time.perf_counter() - started)
    await reader.read()
    writer.close()
    return status_line.split(b" ")[1:2] == [b"200"]


async def burst(url: str, count: int) -> BurstResult:
    """Send ``count`` GETs to ``url`` at once; every one on its own connection."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    sent: list[float] = []
    answered: list[float] = []
    started = time.perf_counter()
    results = await asyncio.gather(
        *(_get(host, port, target, sent, answered, started) for _ in range(count)),
        return_exceptions=True,
    )
    elapsed = time.perf_counter() - started
    ok = sum(1 for result in results if result is True)
    return BurstResult(
        count,
        ok,
        elapsed,
        max(sent, default=0.0),
        min(answered, default=0.0),
        tuple(sorted(answered)),
    )
