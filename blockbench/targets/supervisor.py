"""Starting servers as child processes on loopback, waiting until they answer, stopping them.

Each server runs in its own session (process group), so stopping it reaches every worker,
thread-pool child and process-pool child it forked: nothing is orphaned, no port stays bound.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from blockbench.errors import BlockbenchError
from blockbench.targets.polling import wait_until

LOOPBACK = "127.0.0.1"
STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
_LOG_TAIL_LINES = 30
# Even if the harness itself is killed outright (kill -9), nothing it started may outlive it:
# util-linux's setpriv asks the kernel to send the child SIGTERM when its parent dies. The
# kernel ties that to the thread that started the child, so children are started from the main
# thread, which lives as long as the harness.
_DIE_WITH_PARENT = (
    ["setpriv", "--pdeathsig", "TERM", "--"]
    if sys.platform.startswith("linux") and shutil.which("setpriv")
    else []
)


class StartupError(BlockbenchError):
    """A server did not come up; the message quotes the end of its log."""


def free_port(host: str = LOOPBACK) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_is_bound(port: int, host: str = LOOPBACK) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
        return False


def log_tail(path: Path, lines: int = _LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty log)"


@dataclass
class Child:
    """A process started in a session of its own, with its output in a log file."""

    name: str
    command: Sequence[str]
    log_path: Path
    popen: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        return self.popen.pid

    def running(self) -> bool:
        return self.popen.poll() is None

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM the whole process group, then SIGKILL whatever is left after ``timeout``."""
        _signal_group(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
        # Workers may outlive a leader that exited first; the group is swept either way.
        wait_until(lambda: not _group_alive(self.popen.pid), timeout, 0.05)
        _signal_group(self.popen.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout)


@dataclass
class ManagedProcess(Child):
    """A server: a Child that answers HTTP on a loopback port."""

    url: str = ""
    port: int = 0


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def start(
    name: str,
    command: Sequence[str],
    *,
    port: int,
    log_path: Path,
    env: Mapping[str, str] | None = None,
    health_path: str = "/healthz",
    timeout: float = STARTUP_TIMEOUT,
    cwd: Path | None = None,
) -> ManagedProcess:
    """Start ``command`` and return once ``health_path`` answers 200 on ``port``.

    Raises StartupError, quoting the log, if the process exits or stays silent too long.
    """
    child = spawn(name, command, log_path=log_path, env=env, cwd=cwd)
    url = f"http://{LOOPBACK}:{port}"
    process = ManagedProcess(name, command, log_path, child.popen, url=url, port=port)
    try:
        _wait_healthy(process, health_path, timeout)
    except BaseException:
        process.stop()
        raise
    return process


def spawn(
    name: str,
    command: Sequence[str],
    *,
    log_path: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Child:
    """Start ``command`` in a new session, its output appended to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, **(env or {})}
    with log_path.open("ab") as log:
        popen = subprocess.Popen(
            [*_DIE_WITH_PARENT, *command],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=full_env,
            cwd=cwd,
            start_new_session=True,
        )
    return Child(name, command, log_path, popen)


def _wait_healthy(process: ManagedProcess, health_path: str, timeout: float) -> None:
    with httpx.Client(timeout=1.0) as client:

        def healthy() -> bool:
            if not process.running():
                raise StartupError(
                    f"{process.name} exited with code {process.popen.returncode} before it "
                    f"answered {health_path}; its log ({process.log_path}) ends:\n"
                    f"{log_tail(process.log_path)}"
                )
            with contextlib.suppress(httpx.HTTPError):
                return client.get(process.url + health_path).status_code == 200
            return False

        if wait_until(healthy, timeout, 0.1):
            return
    raise StartupError(
        f"{process.name} did not answer {health_path} on {process.url} within {timeout:.0f} s; "
        f"its log ({process.log_path}) ends:\n{log_tail(process.log_path)}"
    )
