"""The slow upstream service: ``GET /delay?ms=N`` answers after N milliseconds.

A bare ASGI app (no framework) on uvicorn with uvloop and httptools, so that one process holds
tens of thousands of waiting requests and is never the bottleneck of a benchmark. It uses the
same parameter rule as the twins' ``ms``.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from blockbench import contract

Scope = dict[str, Any]
Receive = Any
Send = Any

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8900
DELAY = contract.Endpoint("delay", "/delay", "Answers after ms.", (contract.MS,))
_HEADERS = [(b"content-type", contract.MEDIA_TYPE.encode())]


async def _send(send: Send, status: int, body: bytes) -> None:
    headers = [*_HEADERS, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    if scope["type"] != "http":
        return
    try:
        if scope["path"] == "/healthz":
            body: contract.JSON = {"status": "ok", "app": "upstream"}
        elif scope["path"] != DELAY.path:
            raise contract.NotFound()
        elif scope["method"] not in contract.ALLOWED_METHODS:
            raise contract.MethodNotAllowed()
        else:
            ms = int(contract.parse_query(DELAY, scope["query_string"])["ms"])
            await asyncio.sleep(ms / 1000)
            body = {"ms": ms}
    except contract.ContractError as exc:
        await _send(send, exc.status, contract.render(exc.body()))
        return
    await _send(send, 200, contract.render(body))


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    args = parser.parse_args(argv)
    uvicorn.run(
        "blockbench.upstream:app",
        host=args.host,
        port=args.port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        log_level="warning",
        # The kernel caps the listen queue at net.core.somaxconn; ask for plenty so bursts of
        # new connections are queued rather than refused.
        backlog=16384,
    )


if __name__ == "__main__":
    main()
