"""Locust's distributed mode on loopback: a master and two workers against the real Starlette
twin, each worker measuring its own share of every level; `blockbench worker` joining a master
as a remote machine would; and a master whose workers never come."""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from blockbench.load import distributed, loadgen, scenarios
from blockbench.load.distributed import Address, Swarm
from blockbench.targets import supervisor
from tests import servers

# Each run below is a sweep of a few seconds, its workers' start and its records' settling.
RUN_TIMEOUT = 60.0
pytestmark = [pytest.mark.integration, pytest.mark.timeout(3 * RUN_TIMEOUT)]


@pytest.fixture(scope="module")
def app_url(logs_dir: Path) -> Iterator[str]:
    app = servers.starlette(logs_dir / "distributed-app.log", access_log=False)
    yield app.url
    app.stop()


def drive(run: loadgen.LocustRun) -> list[loadgen.LevelRecord]:
    """The run to its end, as the engine drives it; every process stopped on the way out."""
    records: list[loadgen.LevelRecord] = []
    try:
        run.start()
        deadline = time.monotonic() + RUN_TIMEOUT
        while run.running() and time.monotonic() < deadline:
            records += run.collect()
            time.sleep(0.2)
        assert not run.running(), "the sweep did not end in time"
        return records + run.collect()
    finally:
        run.stop()


def master_lines(run: loadgen.LocustRun) -> list[dict[str, Any]]:
    return [json.loads(line) for line in run.master_stats_file.read_text().splitlines()]


def test_a_master_and_two_workers_measure_each_level_together(
    app_url: str, tmp_path: Path, scenario_catalogue: scenarios.Catalogue
) -> None:
    sweep = scenarios.Sweep((2, 6), warmup=1, hold=2)
    run = loadgen.LocustRun("IoSleep", app_url, sweep, tmp_path, swarm=Swarm(2))
    records = drive(run)
    assert run.failure() is None
    assert [record.level for record in records] == [2, 6]
    assert len(run.workers_seen) == 2
    [request] = scenario_catalogue.scenario("io-sleep").requests
    wait_s = float(request.params["ms"]) / 1000
    lines = master_lines(run)
    for record in records:
        mine = [line for line in lines if line["level"] == record.level]
        assert {line["worker"] for line in mine} == run.workers_seen
        assert all(line["workers"] == 2 for line in mine)
        # Locust shared the level's users between the workers, and both sent requests.
        assert sum(line["users"] for line in mine) == record.level
        assert all(line["users"] > 0 and line["total"]["num_requests"] > 0 for line in mine)
        # The level is the workers' records together.
        assert record.requests == sum(line["total"]["num_requests"] for line in mine)
        assert record.failures == 0
        assert record.mix == {"/io/sleep": record.requests}
        # Each worker's completion-credited rate, summed: no request is faster than its wait,
        # so users / wait bounds it, and on loopback the twin answers close to it.
        assert record.rate_rps is not None
        assert 0.8 * record.level / wait_s <= record.rate_rps <= record.level / wait_s
    # Locust aggregated the workers' reports on the master, users and requests: its history
    # (the terminal's live rate) shows the top level's users, from both workers together, and
    # their requests (reported every 3 s, so the last few are not in it: no exact sum here).
    with (tmp_path / "master_stats_history.csv").open() as file:
        rows = [row for row in csv.DictReader(file) if row["Name"] == "Aggregated"]
    assert max(int(row["User Count"]) for row in rows) == 6
    assert int(rows[-1]["Total Request Count"]) > 0
    assert (run.live_rps() or 0) > 0


def test_blockbench_worker_joins_each_cells_master_as_a_remote_machine_would(
    app_url: str, tmp_path: Path
) -> None:
    bind = Address(supervisor.LOOPBACK, supervisor.free_port())
    sweep = scenarios.Sweep((2,), warmup=1, hold=2)
    swarm = Swarm(1, 1, bind, join_timeout_s=int(RUN_TIMEOUT / 2))
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "blockbench.cli",
            "worker",
            "--master",
            str(bind),
            "--processes",
            "1",
        ],
        cwd=servers.ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    runs = [loadgen.LocustRun("IoSleep", app_url, sweep, tmp_path / f"cell{n}", swarm=swarm)
            for n in range(2)]  # fmt: skip
    try:
        # Two cells in a row, a master each on the same address: the worker that the first
        # master ended is started again and joins the second.
        measured = [drive(run) for run in runs]
    finally:
        worker.send_signal(signal.SIGINT)
        output, _ = worker.communicate(timeout=30)
    for run, records in zip(runs, measured, strict=True):
        assert run.failure() is None, output
        [record] = records
        # The master waited for both, and both measured the level.
        assert len(run.workers_seen) == 2
        assert {line["users"] for line in master_lines(run)} == {1}
        assert record.requests > 0 and record.rate_rps is not None
    # A new worker process each time: Locust's ids differ, the host is this one.
    assert len(runs[0].workers_seen | runs[1].workers_seen) == 4
    assert f"worker 0: joins the master at {bind}" in output
    assert "Traceback" not in output


def test_a_master_whose_remote_workers_never_join_stops_and_says_so(
    app_url: str, tmp_path: Path
) -> None:
    bind = Address(supervisor.LOOPBACK, supervisor.free_port())
    swarm = Swarm(1, 1, bind, join_timeout_s=2)
    run = loadgen.LocustRun("IoSleep", app_url, scenarios.Sweep((2,), 1, 2), tmp_path, swarm=swarm)
    started = time.monotonic()
    assert drive(run) == []
    assert time.monotonic() - started < 15
    failure = run.failure()
    assert failure is not None and "not all of them joined" in failure
    assert f"blockbench worker --master HOST:{bind.port}" in failure


def test_blockbench_worker_help_explains_it() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "blockbench.cli", "worker", "--help"],
        cwd=servers.ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert "--master HOST[:PORT]" in done.stdout and "--processes N" in done.stdout
    assert "docs/distributed.md" in done.stdout
    assert str(distributed.DEFAULT_PORT) in done.stdout
