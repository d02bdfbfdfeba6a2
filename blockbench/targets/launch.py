"""Starting a catalogue target, or the upstream service, pinned to the CPU budget and ready.

Ready means more than answering /healthz: every worker of the server has booted, so the first
requests meet the capacity the catalogue declares.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil

from blockbench.targets import supervisor
from blockbench.targets.catalogue import Target
from blockbench.targets.pinning import CpuBudget, cpu_seconds
from blockbench.targets.polling import wait_until

# A server has settled when its whole process tree used under _SETTLE_CPU seconds of CPU in
# _SETTLE_QUIET seconds: every worker has finished importing the app.
_SETTLE_QUIET = 0.3
_SETTLE_CPU = 0.02


def start_upstream(
    port: int, budget: CpuBudget, log_dir: Path, *, processes: int = 1
) -> supervisor.ManagedProcess:
    command = [sys.executable, "-m", "blockbench.upstream"]
    command += ["--port", str(port), "--processes", str(processes)]
    return supervisor.start(
        "upstream", budget.wrap_rest(command), port=port, log_path=log_dir / "upstream.log"
    )


def start_target(
    target: Target,
    *,
    port: int,
    budget: CpuBudget,
    log_dir: Path,
    env: Mapping[str, str] | None = None,
) -> supervisor.ManagedProcess:
    """Start one target pinned to the CPU budget; return once its /healthz answers.

    ``env`` is the deployment's (UPSTREAM_URL, DATABASE_URL); the target's own comes last.
    """
    process = supervisor.start(
        target.name,
        budget.wrap(target.command(port)),
        port=port,
        log_path=log_dir / f"{target.name}.log",
        env={**(env or {}), **target.env(port)},
    )
    try:
        wait_settled(process)
    except BaseException:
        process.stop()
        raise
    return process


def wait_settled(
    process: supervisor.ManagedProcess, timeout: float = supervisor.STARTUP_TIMEOUT
) -> None:
    """Return once every process of the server is idle, i.e. all its workers have booted.

    /healthz answers as soon as one worker is up while the others may still be importing the
    app (one after another, on a small CPU budget): a burst then meets fewer workers than the
    target has, and the first measurements see a capacity it does not declare.
    """
    # The first check only takes the CPU time to compare the next one with.
    before: float | None = None

    def quiet() -> bool:
        nonlocal before
        if not process.running():
            raise supervisor.StartupError(
                f"{process.name} exited with code {process.popen.returncode} while its workers "
                f"were booting; its log ({process.log_path}) ends:\n"
                f"{supervisor.log_tail(process.log_path)}"
            )
        previous, before = before, _tree_cpu(process.pid)
        # A worker that exits takes its CPU time with it: a drop is not quiet either.
        return previous is not None and 0 <= before - previous < _SETTLE_CPU

    if wait_until(quiet, timeout, _SETTLE_QUIET):
        return
    raise supervisor.StartupError(
        f"{process.name} answers /healthz but its processes still use CPU after {timeout:.0f} s "
        f"(workers crashing and restarting?); its log ({process.log_path}) ends:\n"
        f"{supervisor.log_tail(process.log_path)}"
    )


def _tree_cpu(pid: int) -> float:
    """CPU seconds used so far by a process and all its descendants that are still running."""
    try:
        leader = psutil.Process(pid)
        return cpu_seconds([leader, *leader.children(recursive=True)])
    except psutil.NoSuchProcess:
        return 0.0


def stop_all(processes: Sequence[supervisor.ManagedProcess]) -> list[int]:
    """Stop every process group at once; return the ports still bound afterwards."""
    if processes:
        with ThreadPoolExecutor(max_workers=len(processes)) as pool:
            list(pool.map(lambda process: process.stop(), processes))
    return [process.port for process in processes if supervisor.port_is_bound(process.port)]
