"""The results schema: round trips, atomic writes, clear errors, and the committed JSON Schema."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from blockbench import results

SCHEMA_FILE = Path(__file__).resolve().parents[3] / "docs" / "results.schema.json"


def make_level(users: int = 10, flags: list[results.Flag] | None = None) -> results.LevelResult:
    return results.LevelResult(
        scenario="io-sleep",
        target="flask-sync",
        repeat=0,
        users=users,
        window_s=2.0,
        requests=60,
        successes=60,
        rps=30.0,
        latency=results.Latency(p50=330, p90=380, p99=380, max=390, mean=335),
        failures=results.Failures(),
        failure_rate=0.0,
        ceiling_rps=30.0,
        efficiency=1.0,
        # The harness sampled the target it started: 30 req/s at about 1.2 ms of CPU each.
        target_resources=results.Resources(
            samples=4,
            cpu_percent_mean=3.6,
            cpu_percent_max=4.0,
            rss_mib_max=60.0,
            threads_max=4,
            processes_max=4,
        ),
        generator=results.Generator(processes=1, cpu_percent_max=4.0, saturated=False),
        flags=flags or [],
        histogram={330: 40, 380: 20},
    )


def make_run() -> results.Run:
    cell = results.Cell(
        scenario="io-sleep",
        target="flask-sync",
        repeat=0,
        url="http://127.0.0.1:1",
        model="processes",
        capacity=3,
        service_time_ms=100,
        cpu_bound=False,
        caps=[results.Cap(name="server workers", value=3, where="target")],
        planned_levels=[1, 10],
        levels=[make_level()],
    )
    return results.Run(
        run_id="r1",
        status="partial",
        created="2026-11-25T00:00:00+00:00",
        command=["blockbench", "run"],
        profile="tiny",
        scenarios=["io-sleep"],
        targets=["flask-sync"],
        levels=[1, 10],
        warmup_s=1,
        hold_s=2,
        repeat=1,
        generator_processes=1,
        generator_ceiling_rps=4000,
        environment=results.Environment(
            cpu_model="x",
            cpu_count=2,
            os="linux",
            python="3.11",
            packages={},
            git_commit=None,
            git_dirty=None,
            target_cpus=[0],
            generator_cpus=[1],
            pinning="p",
        ),  # fmt: skip
        cells=[cell],
    )


def test_a_run_round_trips(tmp_path: Path) -> None:
    run = make_run()
    results.save_run(tmp_path, run)
    assert results.load_run(tmp_path) == run


def test_levels_are_written_where_the_layout_says(tmp_path: Path) -> None:
    run = make_run()
    path = results.save_level(tmp_path, run.cells[0], make_level())
    assert path == tmp_path / "levels" / "io-sleep__flask-sync__r0" / "10.json"
    assert results.LevelResult.model_validate_json(path.read_text()) == make_level()
    assert not list(path.parent.glob(".*"))  # no temporary file left behind


def test_validity_follows_flags() -> None:
    assert make_level().valid
    assert not make_level(flags=["generator_saturated"]).valid


def test_unreadable_or_foreign_results_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(results.ResultsError, match="does not exist"):
        results.load_run(tmp_path)
    (tmp_path / "run.json").write_text("{not json")
    with pytest.raises(results.ResultsError, match="cannot be read as JSON"):
        results.load_run(tmp_path)
    data = json.loads(make_run().model_dump_json())
    (tmp_path / "run.json").write_text(json.dumps({**data, "schema_version": 99}))
    with pytest.raises(results.ResultsError, match="schema version 99"):
        results.load_run(tmp_path)
    (tmp_path / "run.json").write_text(json.dumps({**data, "status": "exploded"}))
    with pytest.raises(results.ResultsError, match="does not match the results schema"):
        results.load_run(tmp_path)


def test_the_committed_json_schema_is_current() -> None:
    assert SCHEMA_FILE.read_text() == results.json_schema(), (
        "regenerate it: python -c 'from blockbench import results; "
        'open("docs/results.schema.json", "w").write(results.json_schema())\''
    )


def test_written_files_follow_the_umask_not_mkstemps_0600(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        results.save_run(tmp_path, make_run())
    finally:
        os.umask(previous)
    assert (tmp_path / "run.json").stat().st_mode & 0o777 == 0o644


def test_resume_finds_a_stored_run_and_runs_it_again(tmp_path: Path) -> None:
    results.save_run(tmp_path / "r1", make_run())
    resumed = results.resume(tmp_path, "r1")
    assert resumed.status == "running"
    assert resumed.model_copy(update={"status": "partial"}) == make_run()
    with pytest.raises(results.ResultsError, match=r"no run 'r2' in .*; the runs there: r1$"):
        results.resume(tmp_path, "r2")


def test_levels_skipped_past_saturation_are_not_missing() -> None:
    cell = make_run().cells[0].model_copy(update={"planned_levels": [10, 20, 40, 80]})
    # make_level() is the level of 10; 20 measured too, far past saturation.
    cell = cell.model_copy(update={"levels": [make_level(10), make_level(20)]})
    assert cell.missing_levels == [40, 80]
    skipped = cell.model_copy(update={"skipped_past_saturation": [40, 80]})
    assert skipped.missing_levels == []
    # Stored and read back: a finished run, not a partial one to resume.
    assert results.Cell.model_validate_json(skipped.model_dump_json()) == skipped
