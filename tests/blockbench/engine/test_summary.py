from __future__ import annotations

from rich.console import Console

from blockbench import results
from blockbench.engine import summary
from blockbench.results import Run
from tests.blockbench.synthetic import make_run, without_bounds


def with_flag(run: Run, flag: str) -> Run:
    """Every io-sleep level of flask-sync at 20 users flagged, its aggregate no result."""
    cells = [
        cell.model_copy(
            update={
                "levels": [
                    level.model_copy(update={"flags": [flag]}) if level.users == 20 else level
                    for level in cell.levels
                ]
            }
        )
        if (cell.scenario, cell.target) == ("io-sleep", "flask-sync")
        else cell
        for cell in run.cells
    ]
    aggregates = [
        a.model_copy(update={"valid": False})
        if (a.scenario, a.target, a.users) == ("io-sleep", "flask-sync", 20)
        else a
        for a in run.aggregates
    ]
    return run.model_copy(update={"cells": cells, "aggregates": aggregates})


def shown(run: Run, width: int = 200) -> str:
    console = Console(record=True, width=width)
    summary.show(run, console)
    return console.export_text()


def test_a_level_a_service_held_back_is_marked_and_explained() -> None:
    assert "at their own limit" not in shown(make_run())
    for flag, mark in (("upstream_bound", "upstream bound"), ("database_bound", "database bound")):
        text = shown(with_flag(make_run(), flag))
        assert f"invalid: {mark}" in text
        # Two repeats of the one level.
        assert "2 levels were measured with the upstream service or PostgreSQL" in text


def test_each_target_is_shown_with_what_limited_it_at_its_peak() -> None:
    text = shown(make_run(), width=80)
    assert "the share of the tightest bound it reached" in " ".join(text.split())
    assert "io-sleep: what limited each target at its peak" in text
    rows = [" ".join(line.split()) for line in text.splitlines()]
    assert "flask-sync worker processes 30 100" in rows
    assert "flask-gthread gunicorn --threads 317 100" in rows
    # Its 100 users were no result: its peak is at 20.
    assert "starlette-uvicorn users 199 20" in rows
    assert "cpu: what limited each target at its peak" in text
    assert "Little's-law" not in text
    assert all(len(line) <= 80 for line in text.splitlines())


def test_a_run_without_bounds_is_summarised_all_the_same() -> None:
    rows = [" ".join(line.split()) for line in shown(without_bounds(make_run())).splitlines()]
    assert "flask-sync - - -" in rows


def test_at_80_columns_no_number_is_cut_and_the_widest_run_goes_a_row_per_level() -> None:
    run = make_run()
    wide = shown(run, width=200)
    narrow = shown(run, width=80)
    assert "…" not in narrow
    assert all(len(line) <= 80 for line in narrow.splitlines())
    # Every valid level's rate is in both layouts, whole.
    for aggregate in run.aggregates:
        if aggregate.valid:
            rate = f"{aggregate.rps:,.0f}"
            assert rate in wide and rate in narrow, rate
    # The wide layout has a column per level; the narrow one a row per level, with its users.
    rows = [" ".join(line.split()) for line in narrow.splitlines()]
    assert any(row.startswith("flask-sync processes (3) 1 ") for row in rows), rows
    assert any(row.startswith("20 ") for row in rows)
    # Where the wide layout fits, it stays.
    assert "model (capacity)" in wide and "model (capacity)" not in narrow


def test_levels_skipped_past_saturation_say_so_rather_than_look_missing() -> None:
    run = make_run()
    # flask-sync's io-sleep levels from 100 on, as if its sweep had stopped below them.
    cells = [
        cell.model_copy(
            update={
                "levels": [level for level in cell.levels if level.users < 100],
                "skipped_past_saturation": [100],
            }
        )
        if (cell.scenario, cell.target) == ("io-sleep", "flask-sync")
        else cell
        for cell in run.cells
    ]
    aggregates = [
        a
        for a in run.aggregates
        if (a.scenario, a.target, a.users) != ("io-sleep", "flask-sync", 100)
    ]
    skipped = run.model_copy(update={"cells": cells, "aggregates": aggregates})
    for width in (200, 80):
        assert "skipped: past saturation" not in shown(run, width)
        assert "skipped: past saturation" in shown(skipped, width)


def test_the_generators_ceiling_says_what_sent_the_load() -> None:
    run = make_run().model_copy(update={"generator_ceiling_rps": 7811.0, "generator_processes": 2})
    assert "7,811 req/s (2 Locust processes, against the 0 ms upstream)" in shown(run)
    swarm = results.LoadGenerator(
        mode="distributed", local=1, remote_workers=2, master_bind="0.0.0.0:5557",
        worker_hosts={"bench-a": 1, "bench-b": 2},
    )  # fmt: skip
    text = shown(run.model_copy(update={"load_generator": swarm}))
    assert (
        "(a Locust master with 3 workers, 2 of them remote on bench-a (1), bench-b (2), against"
    ) in " ".join(text.split())
    local = results.LoadGenerator(mode="distributed", local=1)
    assert summary.generator_text(run.model_copy(update={"load_generator": local})) == (
        "a Locust master with 1 worker"
    )
