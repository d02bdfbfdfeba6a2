"""Benchmark: how many waiting requests one upstream process holds at once.

Starts the real upstream service on a loopback port, sends COUNT concurrent GET /delay?ms=WAIT
(each on its own connection, from a raw-socket client so the client stays cheap), and prints
how long the burst took against the single wait it should take if nothing queued.

    python benchmarks/upstream_capacity.py [--count 10000] [--wait-ms 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import tempfile
from pathlib import Path

import psutil

from blockbench import supervisor
from blockbench.burst import burst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--wait-ms", type=int, default=5000)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < args.count + 100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, args.count + 1000), hard))

    port = supervisor.free_port()
    log = Path(tempfile.mkdtemp()) / "upstream.log"
    command = [sys.executable, "-m", "blockbench.upstream", "--port", str(port)]
    upstream = supervisor.start("upstream", command, port=port, log_path=log)
    try:
        server = psutil.Process(upstream.pid)
        server.cpu_percent()
        result = asyncio.run(burst(f"{upstream.url}/delay?ms={args.wait_ms}", args.count))
        cpu = server.cpu_percent()
        rss_mib = server.memory_info().rss / 2**20
    finally:
        upstream.stop()
    wait = args.wait_ms / 1000
    print(
        json.dumps(
            {
                "requests": result.requests,
                "ok": result.ok,
                "wait_s": wait,
                "elapsed_s": round(result.elapsed, 3),
                "all_in_flight_after_s": round(result.all_sent_after, 3),
                "first_answer_after_s": round(result.first_answer_after, 3),
                "all_waiting_at_once": result.first_answer_after > result.all_sent_after,
                "elapsed_over_one_wait": round(result.elapsed / wait, 2),
                "upstream_cpu_percent": cpu,
                "upstream_rss_mib": round(rss_mib, 1),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
