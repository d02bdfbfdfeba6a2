"""Run as a script, monkey-patched like gunicorn's gevent worker: each blocking client that runs
under gevent, against the bad upstream at argv[1]. Prints one JSON object: per client, how each
failure ended and how long it took, and how long 20 overlapping 200 ms calls took (cooperation:
they must overlap, not queue behind one another)."""

from gevent import monkey

monkey.patch_all()

import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402

from blockbench.apps import contract, upstream_clients  # noqa: E402
from tests.blockbench.apps.bad_upstream import FAILURES  # noqa: E402


def outcome(client: upstream_clients.BlockingClient, path: str) -> dict[str, object]:
    started = time.monotonic()
    try:
        client.get(path, 0.5)
        ended = "answered"
    except contract.Unavailable:
        ended = "503"
    except Exception as exc:  # anything else is the bug this probe looks for
        ended = f"raised {exc!r}"
    return {"ended": ended, "seconds": time.monotonic() - started}


def main(base_url: str) -> None:
    report: dict[str, object] = {}
    for kind in upstream_clients.KINDS:
        if "gevent" not in kind.contexts:
            continue
        client = upstream_clients.blocking(kind, base_url, 50)
        started = time.monotonic()
        calls = [gevent.spawn(client.get, "/delay?ms=200", 10.0) for _ in range(20)]
        gevent.joinall(calls, raise_error=True)
        overlapped = time.monotonic() - started
        report[kind.name] = {
            "failures": {path: outcome(client, path) for path in FAILURES},
            "twenty_calls_seconds": overlapped,
        }
        client.close()
    print(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1])
