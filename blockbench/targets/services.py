"""The services beside the targets, as the run engine samples them: how many processes and
CPUs the upstream gets, and which processes are the PostgreSQL a run uses."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from urllib.parse import urlsplit

import psutil

from blockbench.targets.pinning import CpuBudget

_LOOPBACK = {"127.0.0.1", "localhost", "::1", ""}


def upstream_cpus(budget: CpuBudget) -> int:
    """The CPUs the upstream runs on: the ones the targets leave (all of them on one CPU)."""
    return len(budget.rest) or budget.cores


def upstream_processes(budget: CpuBudget) -> int:
    # One event loop per CPU it may use, sharing the port: one process would use one CPU only.
    return upstream_cpus(budget)


@dataclass(frozen=True)
class Database:
    pid: int  # PostgreSQL's postmaster: every backend is its child
    cpus: int


def find_database(url: str) -> Database | None:
    """The PostgreSQL serving ``url`` on this machine, or None (remote, or not visible to us).

    Found by the process listening on its port; reading other users' sockets may need root, so
    a server we cannot see is simply not sampled (its levels then carry no database figures).
    """
    parts = urlsplit(url)
    if parts.hostname not in _LOOPBACK and not (parts.hostname or "").startswith("127."):
        return None
    port = parts.port or 5432
    with contextlib.suppress(psutil.Error, OSError):
        for connection in psutil.net_connections(kind="tcp"):
            if (
                connection.status == psutil.CONN_LISTEN
                and connection.laddr
                and connection.laddr.port == port
                and connection.pid
            ):
                process = psutil.Process(connection.pid)
                # The listener is the postmaster: every backend is its child, so sampling its
                # tree covers the server's whole CPU.
                cpus = len(process.cpu_affinity() or []) or psutil.cpu_count() or 1
                return Database(pid=process.pid, cpus=cpus)
    return None
