"""Locust's distributed mode seen from the harness: one master walking the sweep, and the
workers that send the load, on this machine and perhaps on others.

The master runs the StepSweep shape and each worker measures its own share of every hold
(loadtests/sweep.py); the master writes a level's records once every worker's has come. Like
the independent processes (loadgen.LocustRun without a swarm), nothing here imports Locust.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from blockbench.errors import BlockbenchError

# Locust's own default master port.
DEFAULT_PORT = 5557
LOOPBACK = "127.0.0.1"
# How long a master waits for its workers to join before the run stops with an error: local
# workers join in a second or two; remote ones must be started (`blockbench worker`) by then.
JOIN_TIMEOUT_S = 60
# Every user class and the sweep, so that a worker serves any workload a master names.
WORKER_LOCUSTFILES = (
    "loadtests/workloads.py",
    "loadtests/generator_ceiling.py",
    "loadtests/sweep.py",
)
# Locust's setting of how long a master waits, after starting a level's users, for its workers'
# reports before its shape's next tick.
REPORT_WAIT_ENV = "LOCUST_WAIT_FOR_WORKERS_REPORT_AFTER_RAMP_UP"
# What Locust's master logs when --expect-workers-max-wait runs out.
GAVE_UP_WAITING = "Gave up waiting for workers to connect"
# A worker that exits with an error this soon after it started could not start at all: the pool
# stops rather than start it again and again.
WORKER_START_S = 5.0
_POLL_S = 0.5
# Addresses a master binds to that mean "every interface": its own workers reach it on loopback.
_ANY_INTERFACE = {"0.0.0.0", "*", "::"}
_HOST = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?")


class DistributedError(BlockbenchError):
    """An address or a worker count that cannot be used; says what was expected."""


@dataclass(frozen=True)
class Address:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_address(text: str, what: str, default_port: int = DEFAULT_PORT) -> Address:
    """``HOST[:PORT]`` (an IPv6 address in brackets: ``[::1]:5557``); ``what`` names the option
    in the error."""
    text = text.strip()
    example = f"e.g. 10.0.0.5 or 10.0.0.5:{DEFAULT_PORT} or [::1]:{DEFAULT_PORT}"
    if "/" in text:
        raise DistributedError(f"{what}: expected HOST[:PORT], not a URL ({example}); got {text!r}")
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")) or ":" not in host:
            raise DistributedError(f"{what}: expected HOST[:PORT] ({example}); got {text!r}")
        port_text = rest[1:] if rest else None
    else:
        host, colon, port_text_or_empty = text.partition(":")
        port_text = port_text_or_empty if colon else None
        if not _HOST.fullmatch(host):
            raise DistributedError(
                f"{what}: expected HOST[:PORT] with a host name or IPv4 address ({example}); "
                f"got {text!r}"
            )
    if port_text is None:
        return Address(host, default_port)
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise DistributedError(f"{what}: the port must be a number from 1 to 65535; got {text!r}")
    return Address(host, int(port_text))


@dataclass(frozen=True)
class Swarm:
    """A Locust master and its workers: ``local_workers`` started by the harness here, and
    ``remote_workers`` more it waits for (started elsewhere with ``blockbench worker``)."""

    local_workers: int
    remote_workers: int = 0
    # Where the master listens; None: loopback, on a free port chosen at each start.
    bind: Address | None = None
    join_timeout_s: int = JOIN_TIMEOUT_S

    def __post_init__(self) -> None:
        if self.local_workers < 0 or self.remote_workers < 0:
            raise DistributedError("worker counts cannot be negative")
        if self.local_workers + self.remote_workers < 1:
            raise DistributedError("a master needs at least one worker, local or remote")
        if self.remote_workers and self.bind is None:
            raise DistributedError(
                "remote workers need an address to reach the master: give --master-bind "
                f"HOST:PORT (e.g. 0.0.0.0:{DEFAULT_PORT})"
            )
        if self.join_timeout_s < 1:
            raise DistributedError("the workers' join timeout must be at least 1 s")

    @property
    def workers(self) -> int:
        return self.local_workers + self.remote_workers

    def describe(self) -> str:
        where = f"listening on {self.bind}" if self.bind else "on loopback"
        remote = f" and {self.remote_workers} remote" if self.remote_workers else ""
        return f"a Locust master {where} with {self.local_workers} local{remote} worker(s)"


def master_command(
    locustfiles: Sequence[str], host: str, workload: str, bind: Address, csv_prefix: str,
    *, workers: int, join_timeout_s: int,
) -> list[str]:  # fmt: skip
    """The master: headless, walking the sweep once ``workers`` have joined, or exiting with
    an error after ``join_timeout_s``."""
    return [
        sys.executable, "-m", "locust", "-f", ",".join(locustfiles), "--master", "--headless",
        "--master-bind-host", bind.host, "--master-bind-port", str(bind.port),
        "--expect-workers", str(workers), "--expect-workers-max-wait", str(join_timeout_s),
        "--host", host, "--csv", csv_prefix, "--csv-full-history", "--loglevel", "WARNING",
        "--exit-code-on-error", "0", "--only-summary", workload,
    ]  # fmt: skip


def worker_command(locustfiles: Sequence[str], master: Address) -> list[str]:
    """A worker: the master names the workload and the target when the sweep starts."""
    return [
        sys.executable, "-m", "locust", "-f", ",".join(locustfiles), "--worker",
        "--master-host", master.host, "--master-port", str(master.port), "--loglevel", "WARNING",
    ]  # fmt: skip


def joined_hosts(workers: Sequence[str]) -> dict[str, int]:
    """How many workers ran on each machine, from Locust's client ids (host name, '_', a uuid
    of 32 hex digits)."""
    hosts: dict[str, int] = {}
    for worker in workers:
        host = worker[:-33] if re.search(r"_[0-9a-f]{32}$", worker) else worker
        hosts[host] = hosts.get(host, 0) + 1
    return dict(sorted(hosts.items()))


def reachable(bind: Address) -> Address:
    """Where workers on the master's own machine connect to a master bound to ``bind``."""
    return Address(LOOPBACK, bind.port) if bind.host in _ANY_INTERFACE else bind


def resolve(master: Address) -> None:
    """Fails, saying so, unless the master's host name resolves here."""
    try:
        socket.getaddrinfo(master.host, master.port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise DistributedError(f"--master: cannot resolve {master.host!r}: {exc}") from None


def serve_workers(
    master: Address,
    processes: int,
    *,
    root: Path,
    locustfiles: Sequence[str] = WORKER_LOCUSTFILES,
    announce: Callable[[str], None] = print,
    rounds: int | None = None,
) -> None:
    """Keep ``processes`` Locust workers joined to ``master`` until interrupted.

    A master quits its workers at the end of every sweep (each cell of a run has a master of
    its own), so each worker is started again when it exits cleanly, and joins the next one.
    ``rounds`` bounds the starts per worker (tests); a worker that fails at once stops the pool.
    """
    files = [str(root / name) for name in locustfiles]
    missing = [name for name in files if not Path(name).is_file()]
    if missing:
        raise DistributedError(
            f"a worker needs the project's locustfiles ({', '.join(missing)} is missing): run it "
            "from a checkout of the repository installed with pip install -e '.[bench]'"
        )
    command = worker_command(files, master)
    started: dict[int, tuple[subprocess.Popen[bytes], float, int]] = {}
    try:
        while True:
            for index in range(processes):
                if index in started:
                    popen, since, count = started[index]
                    if popen.poll() is None or (rounds is not None and count >= rounds):
                        continue
                    if popen.returncode != 0:
                        if time.monotonic() - since < WORKER_START_S:
                            raise DistributedError(
                                f"worker {index} exited with code {popen.returncode} as it "
                                "started; its output above says why"
                            )
                        announce(f"worker {index} exited with code {popen.returncode}; again")
                else:
                    count = 0
                    announce(f"worker {index}: joins the master at {master}")
                started[index] = (subprocess.Popen(command, cwd=root), time.monotonic(), count + 1)
            if rounds is not None and all(
                popen.poll() is not None and count >= rounds for popen, _, count in started.values()
            ):
                return
            time.sleep(_POLL_S)
    finally:
        for popen, _, _ in started.values():
            if popen.poll() is None:
                popen.terminate()
        for popen, _, _ in started.values():
            try:
                popen.wait(10)
            except subprocess.TimeoutExpired:
                popen.kill()
