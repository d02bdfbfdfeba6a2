"""How the engine sends a run's load: the mode recorded in the run, the master and workers a
distributed run (and its resumption) gets, and the machines its workers ran on. Nothing runs:
the end-to-end run is in test_engine.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from blockbench import results
from blockbench.engine.engine import Engine, RunOptions
from blockbench.errors import BlockbenchError
from blockbench.load.distributed import Address, Swarm

TINY = {"profile": "tiny", "targets": ("starlette-uvicorn",)}


def new_run(tmp_path: Path, **options: object) -> tuple[Engine, results.Run]:
    engine = Engine(RunOptions(results_dir=tmp_path, **{**TINY, **options}))  # type: ignore[arg-type]
    run, _ = engine.new_run()
    return engine, run


def test_independent_processes_stay_the_default_and_have_no_master(tmp_path: Path) -> None:
    engine, run = new_run(tmp_path)
    assert run.load_generator == results.LoadGenerator(mode="processes", local=1)
    assert run.generator_processes == 1
    assert engine._swarm(run) is None
    _, three = new_run(tmp_path, processes=3, run_id="three")
    assert (three.generator_processes, three.load_generator) == (
        3, results.LoadGenerator(mode="processes", local=3),
    )  # fmt: skip
    # A run from before distributed mode records no generator: processes.
    assert engine._swarm(run.model_copy(update={"load_generator": None})) is None


def test_a_distributed_run_has_a_worker_per_cpu_the_generator_may_use(tmp_path: Path) -> None:
    engine, run = new_run(tmp_path, generator="distributed")
    local = max(1, len(engine.budget.rest))
    assert run.load_generator == results.LoadGenerator(mode="distributed", local=local)
    assert run.generator_processes == local
    assert engine._swarm(run) == Swarm(local)


def test_remote_workers_and_the_masters_address_are_kept_for_resume(tmp_path: Path) -> None:
    engine, run = new_run(
        tmp_path, generator="distributed", processes=2, master_bind="0.0.0.0:6000",
        remote_workers=3, join_timeout_s=20,
        target_urls={"starlette-uvicorn": "http://10.0.0.9:8001"},
        upstream_url="http://10.0.0.9:8900",
    )  # fmt: skip
    assert run.load_generator == results.LoadGenerator(
        mode="distributed", local=2, remote_workers=3, master_bind="0.0.0.0:6000"
    )
    assert engine._swarm(run) == Swarm(2, 3, Address("0.0.0.0", 6000), join_timeout_s=20)
    # Resumed by an engine given no generator options: the run's own are used.
    resumed = Engine(RunOptions(results_dir=tmp_path))
    assert resumed._swarm(results.load_run(tmp_path / run.run_id)) == Swarm(
        2, 3, Address("0.0.0.0", 6000)
    )
    assert any("only this machine's Locust processes were sampled" in n for n in run.notes)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"master_bind": "0.0.0.0:6000"}, "need --generator distributed"),
        ({"generator": "distributed", "master_bind": "0.0.0.0:"}, "the port must be a number"),
        ({"generator": "distributed", "remote_workers": 1}, "need an address to reach"),
        (
            {"generator": "distributed", "remote_workers": 1, "master_bind": "0.0.0.0"},
            "cannot reach starlette-uvicorn (started here on loopback)",
        ),
        (
            {"generator": "distributed", "profile": "tiny-open"},
            "open-loop levels (a profile with arrivals) run with --generator processes",
        ),
    ],
)
def test_a_generator_that_cannot_work_is_refused_before_the_run_is_made(
    tmp_path: Path, options: dict[str, object], message: str
) -> None:
    # An engine's error, or an address's: either is one line at the command line.
    with pytest.raises(BlockbenchError) as error:
        new_run(tmp_path, **options)
    assert message in str(error.value)
    assert list(tmp_path.iterdir()) == []


def test_the_machines_whose_workers_measured_are_recorded(tmp_path: Path) -> None:
    engine, run = new_run(tmp_path, generator="distributed")
    assert engine._with_worker_hosts(run) == run  # none has measured yet
    engine._worker_hosts = {"bench-a": 2, "bench-b": 1}
    run = engine._with_worker_hosts(run)
    assert run.load_generator is not None
    assert run.load_generator.worker_hosts == {"bench-a": 2, "bench-b": 1}
    # A cell with fewer workers on a machine does not lower what it ran.
    engine._worker_hosts = {"bench-a": 1, "bench-c": 4}
    generator = engine._with_worker_hosts(run).load_generator
    assert generator is not None
    assert generator.worker_hosts == {"bench-a": 2, "bench-b": 1, "bench-c": 4}
