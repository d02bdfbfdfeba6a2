"""``blockbench serve`` as a user runs it: a subprocess that starts servers, reports a target
that fails, and on SIGINT or SIGTERM leaves no process of its own and no port bound."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psutil
import pytest

from blockbench.engine import plan
from blockbench.load import scenarios
from blockbench.targets import catalogue, compose, database, serve, supervisor
from blockbench.targets.polling import wait_until
from tests.integration.probes import group_members, left_after, process_tree

_MARK = "BLOCKBENCH_TEST_SERVE"
CLI = [sys.executable, "-c", "from blockbench.cli import main; main()", "serve"]
STARTUP = 90.0
SHUTDOWN = 30.0
# A test waits for serve to start, then at most three times for things to stop: serve, its
# children, the fixture's clean-up. Those waits' own messages come before the timeout's.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(STARTUP + 4 * SHUTDOWN)]
# A target that cannot start, and one that can: the second must come up regardless.
BROKEN_CATALOGUE = """
[targets.broken]
app = "flask"
model = "processes"
server = "nothing"
workers = 1
command = "{python} -c 'import sys; print(\\"boom: no app here\\"); sys.exit(3)'"
explanation = "Exits at once."

[targets.fine]
app = "starlette"
model = "event-loop"
server = "uvicorn"
workers = 1
command = "{python} -m uvicorn --factory asgi_app.app:create_app --host {host} --port {port}"
explanation = "Starts."
"""

# A target as someone adding one writes it: one entry, tagged for the tiny profile.
NEW_TARGET = """
[targets.starlette-added]
app = "starlette"
model = "event-loop"
server = "uvicorn, one worker"
workers = 1
command = "{python} -m uvicorn --factory asgi_app.app:create_app --host {host} --port {port}"
explanation = "A target added by a test, in one edit."
tags = ["tiny"]
"""


@dataclass
class Serving:
    popen: subprocess.Popen[bytes]
    output: Path
    log_dir: Path
    # In the environment of serve and so of everything it starts: finds them even if one
    # escaped its process tree.
    mark: str

    def descendants(self) -> list[psutil.Process]:
        """Every process on the machine, other than serve, that carries this run's mark."""
        found = []
        for process in psutil.process_iter():
            try:
                if process.pid != self.popen.pid and process.environ().get(_MARK) == self.mark:
                    found.append(process)
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
        return found

    def text(self) -> str:
        return " ".join(self.output.read_text(errors="replace").split())

    def manifest(self) -> dict[str, Any]:
        def written() -> bool:
            if any(self.log_dir.glob(f"*/{serve.MANIFEST}")):
                return True
            assert self.popen.poll() is None, f"serve exited early: {self.text()}"
            return False

        if not wait_until(written, STARTUP, 0.2):
            raise AssertionError(f"serve wrote no manifest in {STARTUP:.0f} s: {self.text()}")
        path = next(self.log_dir.glob(f"*/{serve.MANIFEST}"))
        manifest: dict[str, Any] = json.loads(path.read_text())
        return manifest

    def stop(self, sig: signal.Signals) -> int:
        self.popen.send_signal(sig)
        return self.popen.wait(SHUTDOWN)


@pytest.fixture
def run_serve(tmp_path: Path) -> Iterator[Any]:
    started: list[Serving] = []

    def run(*args: str) -> Serving:
        output = tmp_path / f"serve-{len(started)}.out"
        mark = f"{tmp_path}/{len(started)}"
        with output.open("wb") as sink:
            popen = subprocess.Popen(
                [*CLI, *args, "--log-dir", str(tmp_path / "logs")],
                stdout=sink,
                stderr=subprocess.STDOUT,
                env={**os.environ, "COLUMNS": "200", _MARK: mark},
            )
        started.append(Serving(popen, output, tmp_path / "logs", mark))
        return started[-1]

    yield run
    # A failed test must not leave serve, or anything it started, running either.
    for serving in started:
        if serving.popen.poll() is None:
            serving.stop(signal.SIGTERM)
        for process in serving.descendants():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(os.getpgid(process.pid), signal.SIGKILL)


@pytest.mark.parametrize(
    ("sig", "args"),
    [
        # The whole matrix, as a user brings it up, stopped as by Ctrl-C.
        (signal.SIGINT, ("--all",)),
        (signal.SIGTERM, ("flask-sync", "starlette-uvicorn")),
    ],
    ids=["sigint-all", "sigterm-two"],
)
def test_stopping_serve_leaves_nothing_behind(
    run_serve: Any, sig: signal.Signals, args: tuple[str, ...]
) -> None:
    serving: Serving = run_serve(*args)
    manifest = serving.manifest()
    expected = catalogue.load(cores=manifest["budget"]["cores"]).names()
    assert set(manifest["targets"]) == set(expected if args == ("--all",) else args)
    assert manifest["failed"] == {}
    for name, target in manifest["targets"].items():
        health = httpx.get(target["url"] + "/healthz", timeout=10)
        assert health.status_code == 200
        assert health.json()["target"] == name
    servers = [manifest["upstream"], *manifest["targets"].values()]
    postgres = _private_database(manifest)
    processes = serving.descendants() + _postgres_processes(postgres)
    assert {p.pid for p in process_tree(serving.popen.pid)[1:]} <= {p.pid for p in processes}
    assert len(processes) >= len(servers)

    assert serving.stop(sig) == 0, serving.text()
    assert left_after(processes) == []
    assert left_after(serving.descendants()) == []
    for server in servers:
        assert left_after(group_members(server["pid"])) == []
        port = int(server["url"].rsplit(":", 1)[1])
        assert not supervisor.port_is_bound(port), server
    if postgres is not None:
        assert left_after(group_members(postgres["pid"])) == []
        assert not supervisor.port_is_bound(urlsplit(postgres["url"]).port or 0), postgres
    assert "their ports are free" in serving.text()


def test_killing_serve_outright_still_leaves_nothing_behind(run_serve: Any) -> None:
    serving: Serving = run_serve("flask-sync", "starlette-uvicorn")
    manifest = serving.manifest()
    postgres = _private_database(manifest)
    processes = serving.descendants() + _postgres_processes(postgres)
    assert processes
    # No handler runs on SIGKILL: the children must go by themselves.
    assert serving.stop(signal.SIGKILL) == -signal.SIGKILL
    assert left_after(processes, grace=SHUTDOWN) == []
    assert left_after(serving.descendants()) == []
    for server in [manifest["upstream"], *manifest["targets"].values()]:
        assert not supervisor.port_is_bound(int(server["url"].rsplit(":", 1)[1])), server
    if postgres is not None:
        assert left_after(group_members(postgres["pid"]), grace=SHUTDOWN) == []
        assert not supervisor.port_is_bound(urlsplit(postgres["url"]).port or 0), postgres


def _postgres_processes(postgres: dict[str, Any] | None) -> list[psutil.Process]:
    """PostgreSQL writes its process titles over its environment, mark included, and puts
    each of its children in a session of its own: they are found as the postmaster's tree."""
    return process_tree(postgres["pid"]) if postgres is not None else []


def _private_database(manifest: dict[str, Any]) -> dict[str, Any] | None:
    """Without DATABASE_URL, serve starts a PostgreSQL with room for every target's pools;
    the targets reach it. None when DATABASE_URL names a server of the user's own."""
    postgres: dict[str, Any] | None = manifest["database"]
    if os.environ.get("DATABASE_URL"):
        assert postgres is None
        return None
    assert postgres is not None
    cores = manifest["budget"]["cores"]
    started = [catalogue.load(cores=cores).get(name) for name in manifest["targets"]]
    pools = (database.pool_connections(target) for target in started)
    assert postgres["max_connections"] == database.max_connections(pools)
    first = next(iter(manifest["targets"].values()))
    reply = httpx.get(first["url"] + "/io/db?ms=0", timeout=10)
    assert reply.status_code == 200, reply.text
    return postgres


def test_a_target_that_fails_is_reported_with_its_log_and_the_rest_go_on(
    run_serve: Any, tmp_path: Path
) -> None:
    catalogue_file = tmp_path / "targets.toml"
    catalogue_file.write_text(BROKEN_CATALOGUE)
    serving: Serving = run_serve("broken", "fine", "--catalogue", str(catalogue_file))
    manifest = serving.manifest()
    assert set(manifest["targets"]) == {"fine"}
    assert "boom: no app here" in manifest["failed"]["broken"]
    text = serving.text()
    assert "broken failed to start" in text
    assert "exited with code 3" in text and "boom: no app here" in text
    assert httpx.get(manifest["targets"]["fine"]["url"] + "/healthz").status_code == 200

    processes = serving.descendants()
    # A target failed, so serve says so in its exit code even after a clean stop.
    assert serving.stop(signal.SIGTERM) == 1
    assert left_after(processes) == []
    assert left_after(serving.descendants()) == []


def test_serve_exits_at_once_when_nothing_starts(run_serve: Any, tmp_path: Path) -> None:
    catalogue_file = tmp_path / "targets.toml"
    catalogue_file.write_text(BROKEN_CATALOGUE)
    serving: Serving = run_serve("broken", "--catalogue", str(catalogue_file))
    assert serving.popen.wait(STARTUP) == 1
    assert "No target started" in serving.text()
    # The upstream it had started is gone again.
    assert left_after(serving.descendants()) == []


def test_a_new_target_is_one_edit_of_the_catalogue(run_serve: Any, tmp_path: Path) -> None:
    """Added to a copy of targets.toml, a target is served, planned and given a compose service
    with nothing else edited."""
    catalogue_file = tmp_path / "targets.toml"
    catalogue_file.write_text(catalogue.CATALOGUE_PATH.read_text() + NEW_TARGET)
    grown = catalogue.load(catalogue_file, cores=1)

    steps = plan.steps(scenarios.load(), grown.targets, profile="tiny")
    assert "starlette-added" in [step.target for step in steps]
    services = compose.render(grown)
    assert '"docker/serve_target.py", "starlette-added"' in services
    assert "starlette-added:127.0.0.1" in compose.render(grown, host_network=True)

    serving: Serving = run_serve("starlette-added", "--catalogue", str(catalogue_file))
    manifest = serving.manifest()
    assert manifest["failed"] == {}
    url = manifest["targets"]["starlette-added"]["url"]
    health = httpx.get(url + "/healthz", timeout=10)
    assert health.status_code == 200 and health.json()["target"] == "starlette-added"
    assert serving.stop(signal.SIGTERM) == 0, serving.text()
