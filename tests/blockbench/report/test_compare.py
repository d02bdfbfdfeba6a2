from __future__ import annotations

from pathlib import Path

from rich.console import Console
from typer.testing import CliRunner

from blockbench.cli import app
from blockbench.report import compare
from blockbench.results import save_run
from tests.blockbench.report.pages import broken_links, parse
from tests.blockbench.synthetic import PACKAGES, make_run

BEFORE = make_run("20250301-101500-before")
AFTER = make_run(
    "20250308-101500-after",
    seed=2,
    speed={("io-sleep", "flask-gthread"): 0.8},
    packages={**PACKAGES, "gunicorn": "27.1.0"},
)


def find(comparison: compare.Comparison, scenario: str, target: str, users: int) -> compare.Change:
    return next(
        c
        for c in comparison.changes
        if (c.scenario, c.target, c.users) == (scenario, target, users)
    )


def test_a_change_beyond_the_spread_is_flagged() -> None:
    comparison = compare.compare(BEFORE, AFTER)
    slower = find(comparison, "io-sleep", "flask-gthread", 20)
    assert slower.status == "slower" and slower.flagged
    assert slower.change is not None and -0.25 < slower.change < -0.15


def test_overlapping_intervals_are_not_flagged() -> None:
    comparison = compare.compare(BEFORE, BEFORE)
    assert {c.status for c in comparison.changes} == {"within spread", "not comparable"}


def test_a_level_that_is_not_a_result_is_not_compared() -> None:
    change = find(compare.compare(BEFORE, AFTER), "io-sleep", "starlette-uvicorn", 100)
    assert change.status == "not comparable"
    assert "load generator saturated" in change.why


def test_one_repeat_is_never_flagged() -> None:
    single = make_run("20250309-000000-single", repeats=1, speed={("cpu", "flask-sync"): 0.5})
    comparison = compare.compare(BEFORE, single)
    change = find(comparison, "cpu", "flask-sync", 20)
    assert change.status == "no spread measured" and not change.flagged


def test_what_else_changed_is_listed() -> None:
    comparison = compare.compare(BEFORE, AFTER)
    assert ("package gunicorn", "27.0.1", "27.1.0") in comparison.environment
    assert not compare.compare(BEFORE, BEFORE).environment


def test_the_terminal_table_has_every_level() -> None:
    comparison = compare.compare(BEFORE, AFTER)
    console = Console(record=True, width=160)
    console.print(compare.table(comparison))
    text = console.export_text()
    assert "slower" in text and "flask-gthread" in text
    assert compare.summary(comparison) in text


def test_the_page_links_both_runs_and_the_index_lists_it(tmp_path: Path) -> None:
    for run in (BEFORE, AFTER):
        save_run(tmp_path / "results" / run.run_id, run)
    result = CliRunner().invoke(
        app,
        [
            "compare",
            BEFORE.run_id,
            AFTER.run_id,
            "--results",
            str(tmp_path / "results"),
            "--out",
            str(tmp_path / "reports"),
        ],
    )
    assert result.exit_code == 0, result.output
    page = tmp_path / "reports" / "compare" / f"{BEFORE.run_id}--vs--{AFTER.run_id}" / "index.html"
    parsed = parse(page)
    assert "scenario-1-compare-data" in parsed.figures
    assert "slower" in parsed.text
    assert broken_links(tmp_path / "reports") == []
    index_links = [value for _, _, value in parse(tmp_path / "reports" / "index.html").links]
    assert f"compare/{page.parent.name}/index.html" in index_links


def test_a_published_pages_folder_is_accepted_as_a_run(tmp_path: Path) -> None:
    # The help says a folder is accepted: the published page's own folder (reports/runs/<id>)
    # holds run.json too, and comparing it used to copy that file onto itself and fail.
    for run in (BEFORE, AFTER):
        save_run(tmp_path / "results" / run.run_id, run)
    out = ["--results", str(tmp_path / "results"), "--out", str(tmp_path / "reports")]
    assert CliRunner().invoke(app, ["report", BEFORE.run_id, *out]).exit_code == 0
    published = tmp_path / "reports" / "runs" / BEFORE.run_id
    result = CliRunner().invoke(app, ["compare", str(published), AFTER.run_id, *out])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "reports" / "compare" / f"{BEFORE.run_id}--vs--{AFTER.run_id}").is_dir()
