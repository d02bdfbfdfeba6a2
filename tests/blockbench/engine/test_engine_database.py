"""``blockbench run`` without DATABASE_URL: the db scenario runs on a private PostgreSQL sized
for the target's pools, which is gone with the run; targets given by URL need theirs named."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from blockbench import results
from blockbench.targets import catalogue, database, pinning
from tests import servers

RUN_TIMEOUT = 180
pytestmark = [pytest.mark.integration, pytest.mark.timeout(RUN_TIMEOUT + 30)]
TARGET = "starlette-uvicorn"


def blockbench(*args: str) -> tuple[int, subprocess.CompletedProcess[str]]:
    """Runs the command without DATABASE_URL; returns its pid (which names its cluster) too."""
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    with subprocess.Popen(
        [sys.executable, "-m", "blockbench.cli", *args],
        env=env,
        cwd=servers.ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        stdout, stderr = process.communicate(timeout=RUN_TIMEOUT)
    return process.pid, subprocess.CompletedProcess(
        process.args, process.returncode, stdout, stderr
    )


def test_the_db_scenario_runs_on_a_private_postgresql(tmp_path: Path) -> None:
    pid, done = blockbench(
        "run", "--scenarios", "db", "--targets", TARGET, "--levels", "10", "--warmup", "1",
        "--hold", "2", "--results", str(tmp_path), "--run-id", "db", "--no-report",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    run = results.load_run(tmp_path / "db")
    assert run.status == "complete"
    [cell] = run.cells
    target = catalogue.load(cores=pinning.budget().cores).get(TARGET)
    wanted = database.max_connections([database.pool_connections(target)])
    assert {cap.name: cap.value for cap in cell.caps}["PostgreSQL max_connections"] == wanted
    [level] = cell.levels
    assert level.successes > 0 and level.failures.total == 0
    assert level.database is not None  # sampled, as a PostgreSQL of the user's would be
    log = (tmp_path / "db" / "logs" / "postgres.log").read_text()
    assert "database system is ready to accept connections" in log
    assert "database system is shut down" in log  # stopped with the run
    # Its cluster (named after the run's process) and every process of it are gone.
    cluster = f"{database.ROOT}/{pid}-"
    assert not list((servers.ROOT / database.ROOT).glob(f"{pid}-*"))
    assert not [
        process.pid
        for process in psutil.process_iter(["cmdline"])
        if cluster in " ".join(process.info["cmdline"] or [])
    ]


def test_a_target_given_by_url_needs_the_database_it_uses(tmp_path: Path) -> None:
    _, done = blockbench(
        "run", "--scenarios", "db", "--target-url", f"{TARGET}=http://127.0.0.1:9",
        "--levels", "10", "--results", str(tmp_path), "--no-report",
    )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert "--target-url target needs the PostgreSQL that target uses" in done.stderr
    assert "DATABASE_URL" in done.stderr
    assert "Traceback" not in done.stderr
