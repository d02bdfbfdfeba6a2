from __future__ import annotations

from rich.console import Console

from blockbench import summary
from blockbench.results import Run
from tests.report.synthetic import make_run


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


def shown(run: Run) -> str:
    console = Console(record=True, width=200)
    summary.show(run, console)
    return console.export_text()


def test_a_level_a_service_held_back_is_marked_and_explained() -> None:
    assert "at their own limit" not in shown(make_run())
    for flag, mark in (("upstream_bound", "upstream bound"), ("database_bound", "database bound")):
        text = shown(with_flag(make_run(), flag))
        assert f"invalid: {mark}" in text
        # Two repeats of the one level.
        assert "2 level(s) were measured with the upstream service or PostgreSQL" in text
