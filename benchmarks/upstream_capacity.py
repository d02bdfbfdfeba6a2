"""Benchmark: how many waiting requests one upstream process holds at once, and its CPU per call.

Starts the real upstream service on a loopback port, sends COUNT concurrent GET /delay?ms=WAIT
(each on its own connection, from a raw-socket client so the client stays cheap), and prints
how long the burst took against the single wait it should take if nothing queued. Then it
measures the CPU the server spends per /delay?ms=0 call over keep-alive connections (what the
run engine computes the upstream's ceiling from) and the calls/s one core of it can sustain.

    python benchmarks/upstream_capacity.py [--count 10000] [--wait-ms 5000] [--calls 20000]
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import tempfile
from pathlib import Path
from typing import Annotated

import psutil
import typer

from blockbench.targets import supervisor
from blockbench.upstream.burst import burst
from blockbench.upstream.calibration import measure_cpu_per_call

# Click's plain help reflows the docstring's paragraphs; rich's keeps its line breaks and wraps
# them again.
app = typer.Typer(add_completion=False, rich_markup_mode=None)


@app.command(help=__doc__)
def main(
    count: Annotated[int, typer.Option(min=1, help="Concurrent waiting requests.")] = 10_000,
    wait_ms: Annotated[int, typer.Option(min=1, help="How long each one waits, in ms.")] = 5000,
    calls: Annotated[int, typer.Option(min=1, help="Calls for the CPU measure.")] = 20_000,
    processes: Annotated[int, typer.Option(min=1, help="Upstream processes.")] = 1,
) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < count + 100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, count + 1000), hard))

    port = supervisor.free_port()
    log = Path(tempfile.mkdtemp()) / "upstream.log"
    command = [sys.executable, "-m", "blockbench.upstream", "--port", str(port)]
    command += ["--processes", str(processes)]
    upstream = supervisor.start("upstream", command, port=port, log_path=log)
    try:
        # The parent and, with --processes, its workers.
        tree = _tree(psutil.Process(upstream.pid))
        for member in tree:
            member.cpu_percent()
        result = asyncio.run(burst(f"{upstream.url}/delay?ms={wait_ms}", count))
        cpu = sum(member.cpu_percent() for member in tree)
        rss_mib = sum(member.memory_info().rss for member in tree) / 2**20
        cpu_per_call = measure_cpu_per_call(upstream.url, [upstream.pid], calls=calls)
    finally:
        upstream.stop()
    wait = wait_ms / 1000
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
                "upstream_processes": processes,
                "cpu_us_per_call": round(cpu_per_call * 1e6, 2),
                # Under one CPU clock tick in all: too quick to tell.
                "calls_per_s_per_core": round(1 / cpu_per_call) if cpu_per_call else None,
            },
            indent=2,
        )
    )


def _tree(process: psutil.Process) -> list[psutil.Process]:
    return [process, *process.children(recursive=True)]


if __name__ == "__main__":
    app()
