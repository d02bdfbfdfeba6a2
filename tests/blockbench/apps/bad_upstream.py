"""A deliberately bad upstream on loopback: each path fails in its own way, so every HTTP
client can be shown to turn each failure into the contract's 503."""

from __future__ import annotations

import socketserver
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

# The paths and what is wrong with each answer. /delay answers correctly, after ms.
FAILURES = ("/garbage", "/list", "/error", "/hang", "/reset", "/truncated")


def _answer(status: str, body: bytes) -> bytes:
    head = f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
    return (head + f"Content-Length: {len(body)}\r\n\r\n").encode() + body


class _Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        while True:
            line = self.rfile.readline()
            if not line:
                return
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass  # headers
            target = line.split()[1].decode()
            path, _, query = target.partition("?")
            if path == "/delay":
                ms = int(dict(p.split("=") for p in query.split("&") if p).get("ms", "0"))
                time.sleep(ms / 1000)
                self.wfile.write(_answer("200 OK", b'{"ms":%d}' % ms))
            elif path == "/garbage":
                self.wfile.write(_answer("200 OK", b"<html>not json</html>"))
            elif path == "/list":
                self.wfile.write(_answer("200 OK", b"[1,2]"))
            elif path == "/error":
                self.wfile.write(_answer("500 Internal Server Error", b'{"error":"boom"}'))
            elif path == "/hang":
                self.server.stopping.wait()  # type: ignore[attr-defined]
                return
            elif path == "/truncated":
                self.wfile.write(_answer("200 OK", b'{"ms":1}' * 4)[:-10])
                return
            else:  # /reset: close without a word
                return


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    stopping: threading.Event


@contextmanager
def serving() -> Iterator[str]:
    """The bad upstream's base URL, for the duration of the block."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.stopping = threading.Event()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.stopping.set()
        server.shutdown()
        server.server_close()
