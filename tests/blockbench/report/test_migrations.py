"""The migration paths on a run's overview: each pair of the catalogue a run measured, compared
in each scenario at the highest level both measured validly."""

from __future__ import annotations

from pathlib import Path

from blockbench import formats
from blockbench.report import migrations, run_page
from blockbench.report import site as report
from blockbench.report.points import scenarios
from blockbench.results import Run, save_run
from blockbench.results.aggregates import aggregate
from blockbench.targets import catalogue
from tests.blockbench.report.pages import parse
from tests.blockbench.synthetic import make_run

TARGETS = ("flask-gthread", "flask-granian", "quart-hypercorn")
EFFICIENCY = {(s, t): 0.95 for s in ("io-sleep", "cpu") for t in TARGETS}
SHIPPED = catalogue.load(cores=1).migrations


def _paths(run: Run) -> dict[str, migrations.Path]:
    found = migrations.paths(SHIPPED, [(results, "page.html") for results in scenarios(run)])
    return {path.migration.name: path for path in found}


def test_only_pairs_the_run_measured_both_of_are_shown() -> None:
    run = make_run(targets=TARGETS, efficiency=EFFICIENCY)
    # flask-to-starlette needs starlette-uvicorn, which this run has not.
    assert set(_paths(run)) == {"flask-on-granian", "flask-to-quart"}
    assert [step.scenario for step in _paths(run)["flask-to-quart"].steps] == ["io-sleep", "cpu"]


def test_a_pair_is_compared_at_the_highest_level_both_measured_validly() -> None:
    run = make_run(targets=TARGETS, efficiency=EFFICIENCY)
    found = _paths(run)
    granian = found["flask-on-granian"].steps[0]
    assert granian.users == max(run.levels)
    assert granian.before_at is not None and granian.after_at is not None
    assert granian.ratio == granian.after_at.aggregate.rps / granian.before_at.aggregate.rps
    # At 100 users gthread sits on its 32 threads; Granian's 512 hold every user: far above.
    assert granian.ratio > 2
    # Quart's top level saturated the (synthetic) load generator, so it is no result: the
    # pair is compared one level lower, where both are valid.
    quart = found["flask-to-quart"].steps[0]
    assert quart.after.at(max(run.levels)) is not None
    assert not quart.after.at(max(run.levels)).valid  # type: ignore[union-attr]
    assert quart.users == sorted(run.levels)[-2]


def test_no_common_valid_level_gives_no_ratio() -> None:
    run = make_run(targets=TARGETS, efficiency=EFFICIENCY)
    cells = [
        cell.model_copy(
            update={
                "levels": [
                    level.model_copy(update={"flags": ["generator_saturated"]})
                    for level in cell.levels
                ]
            }
        )
        if cell.target == "flask-granian"
        else cell
        for cell in run.cells
    ]
    flagged = run.model_copy(update={"cells": cells, "aggregates": aggregate(cells)})
    step = _paths(flagged)["flask-on-granian"].steps[0]
    assert (step.users, step.ratio, step.after_at) == (None, None, None)


def test_the_overview_page_sets_each_pair_side_by_side(tmp_path: Path) -> None:
    run = make_run(targets=TARGETS, efficiency=EFFICIENCY)
    save_run(tmp_path / "results" / run.run_id, run)
    overview = report.build_site(tmp_path / "results", tmp_path / "site")
    text = overview.read_text(encoding="utf-8")
    parse(overview)  # well-formed
    assert 'href="#migrations"' in text
    for name in ("flask-on-granian", "flask-to-quart"):
        assert f'id="migration-{name}"' in text
    assert "Flask → Quart" in text and "Flask → Flask on Granian" in text
    step = _paths(run)["flask-to-quart"].steps[0]
    assert step.ratio is not None
    assert formats.ratio(step.ratio) in text
    # Each side names what limited it at the level they are compared at.
    assert step.before_at is not None and step.before_at.binding
    section = text[text.index('id="migration-flask-to-quart"') :]
    assert f"limited by {step.before_at.binding}" in section[: section.index("</tbody>")]


def test_the_context_gives_the_paths() -> None:
    run = make_run(targets=TARGETS, efficiency=EFFICIENCY)
    assert [p.migration.name for p in run_page.context(run)["migration_paths"]] == [
        "flask-on-granian",
        "flask-to-quart",
    ]
