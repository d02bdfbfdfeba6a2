"""How the tests start the servers they talk to: the upstream service and the twins, each on a
free loopback port and logging to a file, returned once healthy for the caller to stop."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

from blockbench.targets import supervisor

# The repository: the servers import the twins from it, as the catalogue's commands do.
ROOT = Path(__file__).resolve().parents[1]


def upstream(log_path: Path, *, processes: int = 1) -> supervisor.ManagedProcess:
    """The slow upstream service (``python -m blockbench.upstream``)."""
    port = supervisor.free_port()
    command = [sys.executable, "-m", "blockbench.upstream", "--port", str(port)]
    command += ["--processes", str(processes)]
    return supervisor.start("upstream", command, port=port, log_path=log_path, cwd=ROOT)


def starlette(
    log_path: Path, env: Mapping[str, str] | None = None, *, access_log: bool = True
) -> supervisor.ManagedProcess:
    """The Starlette twin on one uvicorn process. Without the access log for load tests,
    whose thousands of lines would only cost the server CPU."""
    port = supervisor.free_port()
    command = [sys.executable, "-m", "uvicorn", "--factory", "asgi_app.app:create_app"]
    command += ["--host", supervisor.LOOPBACK, "--port", str(port)]
    if not access_log:
        command += ["--log-level", "warning"]
    return supervisor.start("starlette", command, port=port, log_path=log_path, env=env, cwd=ROOT)


def fastapi(log_path: Path, env: Mapping[str, str] | None = None) -> supervisor.ManagedProcess:
    """The FastAPI twin on one uvicorn process; ENDPOINT_STYLE in ``env`` picks its flavour."""
    port = supervisor.free_port()
    command = [sys.executable, "-m", "uvicorn", "--factory", "fastapi_app.app:create_app"]
    command += ["--host", supervisor.LOOPBACK, "--port", str(port)]
    return supervisor.start("fastapi", command, port=port, log_path=log_path, env=env, cwd=ROOT)


def flask(
    log_path: Path, env: Mapping[str, str] | None = None, *, threads: int = 8
) -> supervisor.ManagedProcess:
    """The Flask twin on one gunicorn gthread worker with ``threads`` threads."""
    port = supervisor.free_port()
    command = [sys.executable, "-m", "gunicorn", "-b", f"{supervisor.LOOPBACK}:{port}"]
    command += ["-k", "gthread", "--threads", str(threads), "wsgi_app.app:create_app()"]
    return supervisor.start("flask", command, port=port, log_path=log_path, env=env, cwd=ROOT)


def quart(log_path: Path, env: Mapping[str, str] | None = None) -> supervisor.ManagedProcess:
    """The Quart twin on one Hypercorn worker, Quart's default server."""
    port = supervisor.free_port()
    config = "python:blockbench.apps.hypercorn_conf"
    command = [sys.executable, "-m", "hypercorn", "--config", config]
    command += ["--bind", f"{supervisor.LOOPBACK}:{port}", "quart_app.app:create_app()"]
    return supervisor.start("quart", command, port=port, log_path=log_path, env=env, cwd=ROOT)
