"""The open-loop page: where each target's p99 from the intended send crosses the objective,
its sentences from the data, and the page beside a run only where it has open-loop levels."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from blockbench.report import open_loop, open_loop_charts, palette, points, verdict
from blockbench.report import site as report
from blockbench.report.open_loop import OBJECTIVE_MS, Curve, crossing, interpolate
from blockbench.report.points import catalogue_targets
from blockbench.results import save_run
from blockbench.results.aggregates import aggregate
from tests.blockbench.report.open_loop_runs import HOCKEY, LATE, Step, level, make_open_loop_run
from tests.blockbench.synthetic import make_run


def curve(*steps: Step, target: str = "flask-sync") -> Curve:
    run = make_open_loop_run({target: steps})
    (view,) = open_loop.views(run)
    (found,) = view.curves
    return found


def test_the_interpolation_is_a_straight_line_on_log_log_axes() -> None:
    # 100 ms at 100 req/s, 10 s at 1,000: 1 s is half way in logs, at sqrt(100 x 1000);
    # a linear interpolation would give 100 + 900 x 900 / 9,900 = 182.
    assert interpolate((100.0, 100.0), (1000.0, 10_000.0), 1000.0) == pytest.approx(316.23, 1e-4)
    assert interpolate((10.0, 500.0), (20.0, 2000.0), 1000.0) == pytest.approx(10 * 2**0.5)


def test_a_bracketed_crossing_is_read_between_the_valid_levels_either_side() -> None:
    found = curve(*HOCKEY["flask-sync"]).crossing
    assert found.under is not None and found.over is not None
    assert (found.under.users, found.over.users) == (20, 40)
    share = math.log(OBJECTIVE_MS / 150.0) / math.log(4000.0 / 150.0)
    assert found.rate == pytest.approx(20 * 2**share)
    assert found.text == "~29.9 req/s"
    assert found.between == "between 20 and 40 req/s"


def test_a_target_that_never_crosses_says_up_to_which_rate() -> None:
    found = curve(*HOCKEY["flask-gthread"], target="flask-gthread").crossing
    # Its 640 req/s is over the objective but failed: not a result, so not a crossing.
    assert found.rate is None and found.over is None
    assert found.text == "not crossed up to 320 req/s"


def test_a_target_over_the_objective_at_its_lowest_rate_says_so() -> None:
    found = curve(*HOCKEY["starlette-uvicorn"], target="starlette-uvicorn").crossing
    assert found.rate is None and found.under is None
    assert found.text == "below the lowest valid rate, 10 req/s"


def test_invalid_levels_are_never_read_for_a_crossing() -> None:
    found = curve(
        Step(10, 100.0, 90.0),
        Step(20, 5000.0, 90.0, ("failures_above_threshold",)),
        Step(40, 800.0, 400.0),
        Step(80, 3000.0, 500.0),
        Step(160, 200.0, 100.0, ("schedule_fell_behind",), 5),
    ).crossing
    assert found.under is not None and found.over is not None
    assert (found.under.users, found.over.users) == (40, 80)
    assert found.highest is not None and found.highest.users == 80
    # A level under the objective but invalid is no highest valid rate either.
    never = curve(Step(10, 100.0, 90.0), Step(20, 200.0, 90.0, ("no_successes",)))
    assert crossing(never.rates).text == "not crossed up to 10 req/s"


def test_a_late_level_over_the_objective_bounds_the_crossing_from_above() -> None:
    # Past its capacity an open loop's queue outgrows the senders: the level is flagged, but
    # its p99 from the intended send counts the wait for a sender, so it is a lower bound.
    below = (Step(10, 104.0, 103.0), Step(20, 232.0, 230.0))
    late = Step(40, 3000.0, 2800.0, ("schedule_fell_behind",), 49)
    found = curve(*below, late)
    assert found.crossing.late_over is not None and found.crossing.late_over.users == 40
    assert found.crossing.rate is None
    assert found.crossing.text == "between 20 and 40 req/s"
    assert "and crosses it below 40 req/s" in found.sentence
    assert "was already at least 3 s (its service time's p99: 2.8 s)" in found.sentence
    # Under the objective, or not a result for another reason too, it bounds nothing.
    under = Step(40, 900.0, 800.0, ("schedule_fell_behind",), 5)
    assert curve(*below, under).crossing.late_over is None
    saturated = Step(40, 3000.0, 2800.0, ("schedule_fell_behind", "generator_saturated"), 49)
    assert curve(*below, saturated).crossing.text == "not crossed up to 20 req/s"
    # Only the rate just above the highest valid one: a gap of other failures ends the reading.
    failed = Step(40, 3000.0, 2800.0, ("failures_above_threshold",))
    far = Step(80, 9000.0, 2800.0, ("schedule_fell_behind",), 300)
    assert curve(*below, failed, far).crossing.late_over is None


def test_a_target_with_no_valid_level_has_no_crossing() -> None:
    found = curve(Step(10, 5000.0, 90.0, ("schedule_fell_behind",), 7))
    assert found.crossing.text == "no valid level"
    assert found.sentence == (
        "flask-sync has no valid open-loop level (the open-loop schedule waited on the server: "
        "7 sends left late for want of a free sender, so the offered rate was not the one "
        "scheduled)."
    )


def test_repeats_are_read_by_their_median() -> None:
    run = make_open_loop_run({"flask-sync": (Step(10, 100.0, 90.0),)}, repeats=3)
    cells = [
        cell.model_copy(update={"levels": [level(cell.levels[0], Step(10, p99, p99 / 2))]})
        for cell, p99 in zip(run.cells, (2000.0, 100.0, 400.0), strict=True)
    ]
    (view,) = open_loop.views(run.model_copy(update={"cells": cells}))
    (rate,) = view.curves[0].rates
    assert len(rate.repeats) == 3
    assert rate.corrected(open_loop.p99) == 400.0
    assert rate.service(open_loop.p99) == 200.0


def test_each_sentence_reads_the_chart_from_the_data() -> None:
    (view,) = open_loop.views(make_open_loop_run(HOCKEY))
    sentences = {c.target: c.sentence for c in view.curves}
    assert sentences["flask-sync"] == (
        "flask-sync keeps its p99 from the intended send under 1 s up to ~29.9 req/s (between "
        "20 and 40 req/s, interpolated on log-log axes); past it, at 80 req/s, p99 from the "
        "intended send reaches 20 s while its service time's p99 is 115 ms: most of it is "
        "time the requests waited to be sent; above 80 req/s no level is a result (the "
        f"open-loop schedule waited on the server: {LATE} sends left late for want of a free "
        "sender, so the offered rate was not the one scheduled)."
    )
    assert sentences["flask-gthread"] == (
        "flask-gthread keeps its p99 from the intended send under 1 s at every valid rate up "
        "to 320 req/s, where it is 420 ms while its service time's p99 is 300 ms; above 320 "
        "req/s no level is a result (5.0% of requests failed, above the 1.0% threshold)."
    )
    assert sentences["starlette-uvicorn"] == (
        "starlette-uvicorn's p99 from the intended send is over 1 s already at its lowest "
        "valid rate, 10 req/s: 1.5 s while its service time's p99 is 1.4 s."
    )


def test_other_numbers_give_other_sentences() -> None:
    # The same shape with the service time as slow as the corrected one: no waiting claimed.
    found = curve(Step(100, 100.0, 90.0), Step(1000, 10_000.0, 9_000.0))
    assert found.sentence == (
        "flask-sync keeps its p99 from the intended send under 1 s up to ~316 req/s (between "
        "100 and 1,000 req/s, interpolated on log-log axes); past it, at 1,000 req/s, p99 "
        "from the intended send reaches 10 s while its service time's p99 is 9 s."
    )


def test_each_target_is_shown_with_its_catalogue_model() -> None:
    (view,) = open_loop.views(make_open_loop_run(HOCKEY))
    known = catalogue_targets()
    assert {c.target: c.model for c in view.curves} == {t: known[t].model for t in HOCKEY}
    assert len({c.model for c in view.curves}) == 3


def test_the_p99_chart_draws_the_objective_and_one_tick_per_crossing() -> None:
    (view,) = open_loop.views(make_open_loop_run(HOCKEY))
    p99, p50 = open_loop_charts.charts(view, palette.styles(HOCKEY), "open-loop-0")
    traces = p99.figure["data"]
    ticks = [t for t in traces if t.get("marker", {}).get("symbol") == "line-ns-open"]
    # One crossing (flask-sync's) and its legend key.
    assert [t["x"] for t in ticks if t["x"] != [None]] == [[29.85]]
    objective = [t for t in traces if t["name"].startswith("the objective")]
    assert [t["y"] for t in objective] == [[OBJECTIVE_MS, OBJECTIVE_MS]]
    assert not any(t["name"].startswith("the objective") for t in p50.figure["data"])
    # The corrected line has a gap at each level that is not a result; the hollow marks hold it.
    (line,) = [t for t in traces if t["name"] == "flask-sync"]
    assert line["y"] == [110.0, 150.0, 4000.0, 20000.0, None]
    (hollow,) = [t for t in traces if t["name"] == "flask-sync: not a result"]
    assert hollow["x"] == [160.0] and hollow["marker"]["symbol"].endswith("-open")
    (service,) = [t for t in traces if t["name"] == "flask-sync: service time"]
    assert service["line"]["dash"] == "dash" and service["line"]["color"] == line["line"]["color"]


def test_the_page_is_built_and_linked_only_where_the_run_has_open_loop_levels(
    tmp_path: Path,
) -> None:
    results, site = tmp_path / "results", tmp_path / "reports"
    run = make_open_loop_run(HOCKEY)
    save_run(results / run.run_id, run)
    closed = make_run()
    save_run(results / closed.run_id, closed)
    report.build_site(results, site)
    page = site / "runs" / run.run_id / open_loop.PAGE
    text = page.read_text()
    assert "<strong>1 s</strong>" in text
    assert text.count('class="chart"') == 2
    for words in ("~29.9 req/s", "not crossed up to 320 req/s", "below the lowest valid rate"):
        assert words in text
    assert f"{LATE} of 800" in text  # late sends of those scheduled, 160 req/s for 5 s
    assert "the open-loop schedule waited on the server" in text
    # Linked from its run's page and from the index; none for the closed-loop run.
    assert f'href="{open_loop.PAGE}"' in (page.parent / "index.html").read_text()
    index = (site / "index.html").read_text()
    assert f'href="runs/{run.run_id}/{open_loop.PAGE}"' in index
    assert not (site / "runs" / closed.run_id / open_loop.PAGE).exists()
    assert open_loop.PAGE not in (site / "runs" / closed.run_id / "index.html").read_text()
    assert len(re.findall(re.escape(open_loop.PAGE), index)) == 1


def test_a_rebuild_without_open_loop_levels_removes_the_page(tmp_path: Path) -> None:
    results, site = tmp_path / "results", tmp_path / "reports"
    run = make_open_loop_run(HOCKEY)
    save_run(results / run.run_id, run)
    report.build_site(results, site)
    page = site / "runs" / run.run_id / open_loop.PAGE
    assert page.is_file()
    closed = make_run(run.run_id)
    save_run(results / run.run_id, closed)
    report.build_site(results, site)
    assert not page.exists()
    assert open_loop.PAGE not in (site / "index.html").read_text()


def test_the_closed_loop_pages_leave_open_loop_levels_out(tmp_path: Path) -> None:
    run = make_open_loop_run(HOCKEY)
    assert points.scenarios(run) == ()
    assert points.open_loop_scenarios(run) == {"io-sleep"}
    results, site = tmp_path / "results", tmp_path / "reports"
    save_run(results / run.run_id, run)
    overview = report.build_site(results, site)
    text = overview.read_text()
    assert not list(overview.parent.glob("scenario-*.html"))
    assert "0 scenarios and 1 at arrival rates on" in text
    assert "10, 20, 40, 80, 160, 320, 640 req/s (arrival rates);" in text
    assert "not here: io-sleep." in text and 'class="verdict"' not in text
    # The index reads its crossings, rather than "no scenario has results".
    (view,) = open_loop.views(run)
    assert verdict.headline(run) == view.headline
    assert view.headline == (
        "io-sleep at arrival rates, where p99 from the intended send crosses 1 s: flask-sync "
        "(processes) ~29.9 req/s; flask-gthread (threads) not crossed up to 320 req/s; "
        "starlette-uvicorn (event-loop) below the lowest valid rate, 10 req/s."
    )
    assert view.headline in (site / "index.html").read_text()


def test_a_scenario_with_both_kinds_of_level_keeps_its_closed_loop_levels_alone() -> None:
    closed = make_run(scenarios={"io-sleep": 0.0}, repeats=1)
    rates = make_open_loop_run(HOCKEY)
    cells = [
        *closed.cells,
        *(cell.model_copy(update={"repeat": 2}) for cell in rates.cells),
    ]
    run = closed.model_copy(update={"cells": cells, "aggregates": aggregate(cells)})
    (results,) = points.scenarios(run)
    assert results.users == (1, 20, 100)
    assert all(
        not point_level.open_loop
        for s in results.series
        for p in s.points
        for point_level in p.repeats
    )
    assert points.open_loop_scenarios(run) == frozenset()
    (view,) = open_loop.views(run)
    assert [rate.users for rate in view.curves[0].rates] == [10, 20, 40, 80, 160]
