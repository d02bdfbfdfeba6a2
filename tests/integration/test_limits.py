"""The probe of docs/server-limits.md: requests padded to the length asked, and a bisection that
finds the last accepted length wherever it lies between the search's bounds."""

from __future__ import annotations

import socket
import threading

from blockbench.targets.supervisor import LOOPBACK
from tests.integration.limits import CEILING, FLOOR, Answer, Dimension, Limit, bisect, measure


def test_the_probes_pad_to_the_length_asked() -> None:
    target = Dimension.TARGET.request(5000).split(b"\r\n")[0].split(b" ")[1]
    assert (len(target), target[:2]) == (5000, b"/a")
    (pad,) = [line for line in Dimension.HEADER.request(5000).split(b"\r\n") if b"X-Pad" in line]
    assert len(pad) == len(b"X-Pad: ") + 5000


def test_bisection_finds_the_last_accepted_length() -> None:
    def answers(limit: int) -> Limit:
        return bisect(lambda n: Answer(200) if n <= limit else Answer(431), 200)

    for limit in (FLOOR, FLOOR + 1, 4081, 417_000, CEILING - 1):
        assert answers(limit) == Limit(limit, Answer(431))
    assert answers(CEILING) == Limit(CEILING, None)
    assert answers(FLOOR - 1) == Limit(None, Answer(431))


def test_a_refusal_is_read_while_the_head_is_still_being_sent() -> None:
    # A server that answers 431 once it holds more than 3,000 bytes of a head and closes without
    # reading the rest, as a server with a limit does: the probe reads that answer, not a reset.
    with socket.create_server((LOOPBACK, 0)) as listener:
        url = f"http://{LOOPBACK}:{listener.getsockname()[1]}"
        thread = threading.Thread(target=_serve_with_limit, args=(listener, 3000), daemon=True)
        thread.start()
        limit = measure(url, Dimension.HEADER)
    head = len(Dimension.HEADER.request(0))
    assert limit == Limit(3000 - head, Answer(431))


def _serve_with_limit(listener: socket.socket, limit: int) -> None:
    listener.settimeout(10)
    while True:
        try:
            connection, _ = listener.accept()
        except OSError:
            return
        with connection:
            head = b""
            while b"\r\n\r\n" not in head and len(head) <= limit:
                head += connection.recv(1024)
            status = b"200 OK" if len(head) <= limit else b"431 Too Large"
            connection.sendall(b"HTTP/1.1 " + status + b"\r\nContent-Length: 0\r\n\r\n")
