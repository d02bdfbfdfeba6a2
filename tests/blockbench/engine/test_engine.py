"""The run engine end to end: real targets, real Locust, a tiny profile; and what Ctrl-C and
--resume do to a run. Checks structure and plausibility, with generous bounds: not speed."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import psutil
import pytest

from blockbench import results
from blockbench.targets.polling import wait_until

# Each `blockbench run` below is bounded by RUN_TIMEOUT (the tiny profile takes well under a
# minute), and no test waits on more than two; the runs' own timeouts fire first.
RUN_TIMEOUT = 180
pytestmark = [pytest.mark.integration, pytest.mark.timeout(2 * RUN_TIMEOUT)]


def blockbench(*args: str, marker: str) -> subprocess.Popen[str]:
    # The marker is inherited by every process the run starts, so the test can find leftovers.
    env = {**os.environ, "BLOCKBENCH_TEST_MARKER": marker}
    return subprocess.Popen(
        [sys.executable, "-m", "blockbench.cli", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def leftovers(marker: str) -> list[str]:
    found = []
    for process in psutil.process_iter(["pid", "cmdline"]):
        try:
            if process.environ().get("BLOCKBENCH_TEST_MARKER") == marker:
                found.append(" ".join(process.info["cmdline"] or []))
        except psutil.Error:
            continue
    return found


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("results")
    marker = uuid.uuid4().hex
    process = blockbench(
        "run", "--profile", "tiny", "--results", str(folder), "--run-id", "tiny", "--no-report",
        marker=marker,
    )  # fmt: skip
    output, _ = process.communicate(timeout=RUN_TIMEOUT)
    assert process.returncode == 0, output
    assert "io-sleep" in output  # the summary table
    assert leftovers(marker) == []
    return folder / "tiny"


@pytest.fixture(scope="module")
def tiny_run(tiny_folder: Path) -> results.Run:
    return results.load_run(tiny_folder)


def test_every_level_and_locusts_own_csvs_are_on_disk(tiny_folder: Path) -> None:
    for cell in ("io-sleep__flask-sync__r0", "io-sleep__starlette-uvicorn__r0"):
        assert sorted(p.name for p in (tiny_folder / "levels" / cell).iterdir()) == [
            "1.json",
            "10.json",
        ]
        assert (tiny_folder / "locust" / cell / "p0_stats.csv").exists()
        assert (tiny_folder / "locust" / cell / "p0_stats_history.csv").exists()
        assert list((tiny_folder / "logs" / cell).glob("*.log"))


def test_tiny_run_is_complete_and_recorded(tiny_run: results.Run) -> None:
    assert tiny_run.status == "complete"
    assert [(c.scenario, c.target) for c in tiny_run.cells] == [
        ("io-sleep", "flask-sync"),
        ("io-sleep", "starlette-uvicorn"),
    ]
    for cell in tiny_run.cells:
        assert [level.users for level in cell.levels] == cell.planned_levels == [1, 10]
        assert cell.caps and cell.error is None
        for level in cell.levels:
            assert level.valid, level.flags
            assert level.target_resources is not None and level.target_resources.samples > 0
            assert level.generator.cpu_percent_max is not None
    assert tiny_run.generator_ceiling_rps and tiny_run.generator_ceiling_rps > 100
    assert tiny_run.environment.packages["locust"]
    assert len(tiny_run.aggregates) == 4


def _level(run: results.Run, target: str, users: int) -> results.LevelResult:
    cell = next(cell for cell in run.cells if cell.target == target)
    return next(level for level in cell.levels if level.users == users)


def test_sync_workers_plateau_at_their_bound(tiny_run: results.Run) -> None:
    cell = next(cell for cell in tiny_run.cells if cell.target == "flask-sync")
    assert cell.capacity is not None and cell.capacity < 10
    level = _level(tiny_run, "flask-sync", 10)
    assert level.binding == "worker processes"
    # Each worker holds a request for its 100 ms wait plus the CPU measured on the target.
    assert level.target_cpu_demand_ms is not None
    least = 0.1 + level.target_cpu_demand_ms / 1000
    assert level.ceiling_rps == pytest.approx(cell.capacity / least, rel=0.001)
    assert level.efficiency is not None and 0.85 <= level.efficiency


def test_event_loop_tracks_users_over_latency(tiny_run: results.Run) -> None:
    level = _level(tiny_run, "starlette-uvicorn", 10)
    assert level.binding == "users"
    assert level.ceiling_rps is not None and 95 <= level.ceiling_rps <= 100
    assert level.efficiency is not None and 0.85 <= level.efficiency
    assert level.latency.p50 is not None and 95 <= level.latency.p50 <= 150


def test_no_valid_level_beats_its_bound_and_each_names_one(tiny_run: results.Run) -> None:
    for cell in tiny_run.cells:
        for level in cell.levels:
            assert level.valid, level.flags
            assert level.binding == level.bounds[0].name
            # Tight on purpose, and not a timing guess: a bound is what the server cannot beat
            # however fast the machine, and a busy one only slows it further. The 2% is for the
            # CPU per request (1-2 ms of a 100 ms wait), sampled in 10 ms clock ticks.
            assert level.efficiency is not None and level.efficiency <= 1.02, level.bounds[0]
            # Both instruments of the utilisation law recorded it (and it held: valid).
            assert level.target_cpu_utilisation is not None
            assert level.target_cpu_demand_ms is not None and level.target_cpu_demand_ms > 0
    assert all(aggregate.binding for aggregate in tiny_run.aggregates)


@pytest.fixture(scope="module")
def tiny_open_run(tmp_path_factory: pytest.TempPathFactory) -> results.Run:
    folder = tmp_path_factory.mktemp("results")
    marker = uuid.uuid4().hex
    process = blockbench(
        "run", "--profile", "tiny-open", "--results", str(folder), "--run-id", "open",
        "--no-report", marker=marker,
    )  # fmt: skip
    output, _ = process.communicate(timeout=RUN_TIMEOUT)
    assert process.returncode == 0, output
    assert leftovers(marker) == []
    return results.load_run(folder / "open")


def test_an_open_loop_profile_records_arrival_rates_and_corrected_latency(
    tiny_open_run: results.Run,
) -> None:
    assert tiny_open_run.status == "complete"
    assert [cell.target for cell in tiny_open_run.cells] == ["flask-sync", "starlette-uvicorn"]
    for cell in tiny_open_run.cells:
        assert [level.users for level in cell.levels] == cell.planned_levels == [5, 20]
        assert cell.error is None and cell.skipped_past_saturation == []
        for level in cell.levels:
            open_loop = level.open_loop
            assert open_loop is not None, "an open-loop profile's level is an open loop"
            assert open_loop.arrivals == "poisson"
            assert open_loop.offered_rps == level.users
            # Poisson arrivals over the 2 s hold: about rate x 2 of them.
            assert 0.4 * 2 * level.users <= open_loop.scheduled <= 2 * 2 * level.users
            assert open_loop.late == 0 and open_loop.unfinished == 0
            assert open_loop.corrected is not None and open_loop.service is not None
            assert open_loop.corrected.count == open_loop.scheduled
            # Both servers keep up with 20 req/s of 100 ms waits: latency is the wait.
            assert 100 <= open_loop.service.p50 <= open_loop.corrected.p99 < 400
            assert open_loop.hdr is not None
            assert level.valid, level.flags
            # Served at the rate offered: bound by it, the arrivals in the hold over the hold
            # (completions there answer arrivals 100 ms earlier: an edge of a few requests).
            assert level.binding == "offered rate"
            assert level.efficiency is not None and 0.6 <= level.efficiency <= 1.3


def test_a_target_far_past_saturation_stops_its_open_loop_sweep(tmp_path: Path) -> None:
    # Three sync workers serve ~29 req/s of 100 ms waits: at 200 req/s the queue grows by 170
    # requests a second, and by the hold's end the arrivals wait seconds, past 10 s at its p99.
    # The 400 req/s level must not be sent, and is recorded as skipped, not missing or failed.
    marker = uuid.uuid4().hex
    process = blockbench(
        "run", "--profile", "tiny-open", "--targets", "flask-sync", "--levels", "5,200,400",
        "--results", str(tmp_path), "--run-id", "saturated", "--no-report",
        marker=marker,
    )  # fmt: skip
    output, _ = process.communicate(timeout=RUN_TIMEOUT)
    assert process.returncode == 0, output
    assert leftovers(marker) == []
    run = results.load_run(tmp_path / "saturated")
    (cell,) = run.cells
    assert [level.users for level in cell.levels] == [5, 200]
    assert cell.skipped_past_saturation == [400]
    assert cell.error is None and cell.missing_levels == []
    assert run.status == "complete"
    saturated = cell.levels[-1].open_loop
    assert saturated is not None and saturated.corrected is not None
    assert saturated.corrected.p99 > 10_000
    # Its 400 senders (2 s of arrivals) all held a request: the queue outgrew them.
    assert saturated.max_in_flight == saturated.senders == 400
    assert cell.levels[-1].rps < 40
    assert "far past saturation" in output


def test_interrupt_keeps_finished_levels_and_resume_completes(tmp_path: Path) -> None:
    marker = uuid.uuid4().hex
    args = [
        "run", "--profile", "tiny", "--targets", "flask-sync", "--levels", "1,5,10",
        "--hold", "2", "--warmup", "1", "--results", str(tmp_path), "--run-id", "cut",
        "--no-report",
    ]  # fmt: skip
    process = blockbench(*args, marker=marker)
    first = tmp_path / "cut" / "levels" / "io-sleep__flask-sync__r0" / "1.json"
    wait_until(lambda: first.exists() or process.poll() is not None, 90, 0.2)
    assert first.exists(), process.communicate()[0]
    kept = first.read_text()
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 130, output
    assert "--resume cut" in output
    assert leftovers(marker) == []

    partial = results.load_run(tmp_path / "cut")
    assert partial.status == "partial"
    done = [level.users for level in partial.cells[0].levels]
    assert 1 in done and done != [1, 5, 10]

    process = blockbench(
        "run", "--resume", "cut", "--results", str(tmp_path), "--no-report", marker=marker
    )
    output, _ = process.communicate(timeout=RUN_TIMEOUT)
    assert process.returncode == 0, output
    resumed = results.load_run(tmp_path / "cut")
    assert resumed.status == "complete"
    assert sorted(level.users for level in resumed.cells[0].levels) == [1, 5, 10]
    assert first.read_text() == kept  # what was finished was not measured again
    assert leftovers(marker) == []


def _run(tmp_path: Path, run_id: str, *args: str) -> tuple[int, str]:
    marker = uuid.uuid4().hex
    process = blockbench(
        "run", "--results", str(tmp_path), "--run-id", run_id, "--no-report", *args,
        marker=marker,
    )  # fmt: skip
    output, _ = process.communicate(timeout=RUN_TIMEOUT)
    assert leftovers(marker) == []
    return process.returncode, output


def test_upstream_runs_record_the_client_the_upstreams_ceiling_and_its_load(
    tmp_path: Path,
) -> None:
    code, output = _run(
        tmp_path, "calls", "--profile", "tiny", "--scenarios", "fanout-par",
        "--targets", "starlette-uvicorn,flask-gevent", "--levels", "5",
        "--warmup", "1", "--hold", "2",
    )  # fmt: skip
    assert code == 0, output
    run = results.load_run(tmp_path / "calls")
    # The upstream's ceiling comes from its CPU per call: plausible, whatever the machine.
    assert run.upstream_cpu_us_per_call is not None
    assert 1 <= run.upstream_cpu_us_per_call <= 5000
    assert run.upstream_ceiling_rps is not None and run.upstream_ceiling_rps >= 200
    clients = {cell.target: cell.upstream_client for cell in run.cells}
    assert clients == {"starlette-uvicorn": "aiohttp", "flask-gevent": "geventhttpclient"}
    assert all(cell.upstream_client_version for cell in run.cells)
    for cell in run.cells:
        [level] = cell.levels
        assert level.upstream is not None and level.upstream.resources is not None
        # Four calls per request: the upstream's call rate follows the target's throughput.
        assert level.upstream.calls_rps == pytest.approx(4 * level.rps, rel=0.01)
        assert level.database is None
        assert level.flags == [], level.flags


def test_app_env_reaches_the_targets_and_a_client_that_cannot_run_is_refused_up_front(
    tmp_path: Path,
) -> None:
    code, output = _run(
        tmp_path, "httpx", "--profile", "tiny", "--scenarios", "upstream",
        "--targets", "starlette-uvicorn", "--levels", "2", "--warmup", "1", "--hold", "1",
        "--app-env", "UPSTREAM_CLIENT=httpx",
    )  # fmt: skip
    assert code == 0, output
    run = results.load_run(tmp_path / "httpx")
    assert run.app_env == {"UPSTREAM_CLIENT": "httpx"}
    assert run.cells[0].upstream_client == "httpx"
    assert run.cells[0].levels[0].successes > 0

    code, output = _run(
        tmp_path, "refused", "--profile", "tiny", "--scenarios", "upstream",
        "--targets", "flask-gthread", "--app-env", "UPSTREAM_CLIENT=aiohttp",
    )  # fmt: skip
    assert code != 0
    assert "UPSTREAM_CLIENT='aiohttp' cannot serve endpoints that run on OS threads" in output
    assert not (tmp_path / "refused").exists()


def test_a_distributed_run_sends_its_load_from_a_master_and_a_worker_per_generator_cpu(
    tmp_path: Path,
) -> None:
    code, output = _run(
        tmp_path, "swarm", "--profile", "tiny", "--generator", "distributed",
        "--targets", "starlette-uvicorn", "--levels", "5", "--warmup", "1", "--hold", "2",
    )  # fmt: skip
    assert code == 0, output
    run = results.load_run(tmp_path / "swarm")
    generator = run.load_generator
    assert generator is not None and generator.mode == "distributed"
    cpus = run.environment.generator_cpus or []
    assert generator.local == run.generator_processes == max(1, len(cpus))
    assert (generator.remote_workers, generator.master_bind) == (0, None)
    # Every worker that sent levels, by the machine it ran on: this one.
    assert generator.worker_hosts == {socket.gethostname(): generator.local}
    # The ceiling, of the whole set: measured by the master's workers together.
    assert run.generator_ceiling_rps and run.generator_ceiling_rps > 100
    assert "a Locust master with" in " ".join(output.split())
    [cell] = run.cells
    [level] = cell.levels
    assert level.valid, level.flags
    # The master and its workers were sampled as the load generator.
    assert level.generator.processes == generator.local + 1
    assert level.efficiency is not None and 0.85 <= level.efficiency <= 1.02
    locust = tmp_path / "swarm" / "locust" / results.cell_key(cell)
    assert (locust / "levels.master.jsonl").exists() and (locust / "worker0.log").exists()
