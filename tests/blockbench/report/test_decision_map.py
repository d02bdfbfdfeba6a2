"""The decision map: who wins each cell and by how much, the boundary, and its page."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from blockbench.report import catalogued, decision_map
from blockbench.report import site as report
from blockbench.report.decision_map import Level, MapView, Square
from blockbench.results import Run, save_run
from tests.blockbench.report.map_runs import (
    BLOCKING,
    CPUS,
    OURS,
    WAITS,
    DecisionMap,
    MapCell,
    install,
    known,
    make_map_run,
)
from tests.blockbench.report.map_runs import (
    decision_map as fake_map,
)
from tests.blockbench.report.pages import broken_links, parse
from tests.blockbench.report.test_site import PAGE_WEIGHT, assert_light, loaded
from tests.blockbench.synthetic import make_large_run


def view(run: Run, item: DecisionMap) -> MapView:
    found = decision_map.view_of(run, item)
    assert found is not None
    return found


def level(run: Run, item: DecisionMap, users: int = 100) -> Level:
    return next(lv for lv in view(run, item).levels if lv.users == users)


def square(lv: Level, wait: float, cpu: float) -> Square:
    found = lv.square(wait, cpu)
    assert found is not None
    return found


def test_each_cell_names_the_winner_and_its_margin_over_the_best_blocking_target() -> None:
    item = fake_map()
    at = level(make_map_run(item, known), item)
    won = square(at, 20, 0.0).margin
    assert won is not None
    assert (won.challenger.target, won.blocking.target) == ("starlette-uvicorn", "flask-gthread")
    assert won.ratio == pytest.approx(3.0)
    assert won.text == "starlette-uvicorn 3.0×"
    # Where the event loop is slow, the best non-blocking is gevent, and blocking wins.
    lost = square(at, 0, 0.0).margin
    assert lost is not None and lost.challenger.target == "flask-gevent"
    assert lost.winner is not None and lost.winner.target == "flask-gthread"
    assert lost.text == "flask-gthread 1.09×"
    loop = square(at, 0, 0.0).event_loop
    assert loop is not None and loop.text == "flask-gthread 2.0×"


def test_a_margin_within_five_percent_is_even_not_a_win() -> None:
    item = fake_map(waits=(0,), cpus=(0.0,))
    run = make_map_run(
        item, lambda cell, target, users: 103.0 if target == "flask-gevent" else 100.0
    )
    found = square(level(run, item), 0, 0.0).margin
    assert found is not None and found.winner is None and not found.wins and not found.loses
    assert found.text == "even (1.03×)"


def test_an_invalid_or_missing_level_is_never_a_number_nor_a_win() -> None:
    item = fake_map()
    invalid = {
        # The event loop's winning cell is not a result: no event-loop reading there; the
        # best non-blocking falls back to gevent, which loses.
        ("map-20ms-0ms", "starlette-uvicorn", 100),
        # Every blocking target invalid: no comparison at all, not a win for the other side.
        *{("map-100ms-0ms", t, 100) for t in [*BLOCKING, "starlette-a2wsgi"]},
    }
    run = make_map_run(item, known, invalid=invalid)
    at = level(run, item)
    gap = square(at, 20, 0.0)
    assert gap.event_loop is None
    assert gap.margin is not None and gap.margin.challenger.target == "flask-gevent"
    assert [r.target for r in gap.not_compared] == ["starlette-uvicorn"]
    reading = gap.not_compared[0]
    assert reading.rps is None and reading.efficiency is None and reading.reasons
    blocked = square(at, 100, 0.0)
    assert blocked.margin is None and blocked.event_loop is None


def test_a_level_the_generator_held_back_is_a_floor_that_shows_a_win_never_a_loss() -> None:
    item = fake_map()
    # The event loop's winning cell (360 against 120) held back by the generator: it served at
    # least 360, so it still wins, by at least 3x.
    floors = {("map-20ms-0ms", "starlette-uvicorn", 100)}
    # Where it loses (60 against 120), a floor of 60 says nothing: the answer is open.
    floors |= {("map-0ms-0ms", "starlette-uvicorn", 100), ("map-0ms-0ms", "flask-gevent", 100)}
    # A blocking floor above the event loop's exact rate: it loses, by at least that.
    floors |= {("map-0ms-0.5ms", "flask-gthread", 100)}
    # A blocking floor under the event loop's exact rate: open, the floor may be far higher.
    floors |= {("map-100ms-0ms", "flask-gthread", 100)}
    run = make_map_run(item, known, generator=floors)
    at = level(run, item)
    won = square(at, 20, 0.0).event_loop
    assert won is not None and won.challenger.floor == pytest.approx(360.0)
    assert won.wins and not won.open and won.at_least
    assert won.text == "starlette-uvicorn ≥ 3.0×"
    assert square(at, 20, 0.0).not_compared == ()
    open_ = square(at, 0, 0.0).event_loop
    assert open_ is not None and open_.open and not open_.wins and not open_.loses
    assert open_.winner is None and open_.text == "open: the load generator was the limit"
    lost = square(at, 0, 0.5).event_loop
    assert lost is not None and lost.loses and lost.at_least
    assert lost.blocking.target == "flask-gthread" and lost.text == "flask-gthread ≥ 2.0×"
    unknown = square(at, 100, 0.0).event_loop
    assert unknown is not None and unknown.open
    # An open cell neither starts nor breaks the boundary: the 100 ms column is no reading.
    row = at.by_cpu[0]
    assert dict(row.read).get(100) is None and row.wins_from == 5
    # A level invalid for another reason is no floor.
    failed = make_map_run(item, known, invalid={("map-20ms-0ms", "starlette-uvicorn", 100)})
    assert square(level(failed, item), 20, 0.0).event_loop is None


def test_a_target_missing_from_a_cell_is_left_out_and_said_so() -> None:
    item = fake_map()

    def without_gevent_at_5(cell: MapCell, target: str, users: int) -> float | None:
        if target == "flask-gevent" and cell.wait_ms == 5:
            return None
        return known(cell, target, users)

    at = level(make_map_run(item, without_gevent_at_5), item)
    cell = square(at, 5, 10.0)
    assert [(r.target, r.reasons) for r in cell.not_compared] == [
        ("flask-gevent", ("not measured",))
    ]
    assert cell.margin is not None and cell.margin.challenger.target == "starlette-uvicorn"


def test_a_map_without_event_loop_has_no_event_loop_reading() -> None:
    item = fake_map(waits=(0, 5), cpus=(0.0,))
    run = make_map_run(item, known, targets=("flask-sync", "flask-gevent"))
    at = level(run, item)
    assert all(s.event_loop is None for s in at.squares)
    assert "none measured" in at.sentence and "no comparison was measured" in at.sentence


def test_the_boundary_is_where_the_event_loop_starts_winning_on_each_row() -> None:
    item = fake_map()
    at = level(make_map_run(item, known), item)
    assert [line.wins_from for line in at.by_cpu] == [5, 20, 100, None]
    assert [line.wins_up_to for line in at.by_wait] == [None, 0.0, 0.5, 2.0, 2.0]
    assert at.sentence == (
        "At 100 users the event loop (starlette-uvicorn) beats the best blocking target by more "
        "than 5%: with 0 ms of CPU per request, from 5 ms of wait; with 0.5 ms of CPU per "
        "request, from 20 ms of wait; with 2 ms of CPU per request, from 100 ms of wait; with "
        "10 ms of CPU per request, it never wins."
    )
    assert "with 0 ms of wait, it wins at no CPU measured" in at.column_sentence
    assert "with 100 ms of wait, it wins up to 2 ms of CPU" in at.column_sentence
    everywhere = level(make_map_run(item, known), item, users=1000)
    assert [line.wins_from for line in everywhere.by_cpu] == [0, 0, 0, 0]
    assert "with 10 ms of CPU per request, at every wait measured" in everywhere.sentence


def test_a_gap_neither_starts_nor_breaks_the_boundary_and_a_lone_win_is_named() -> None:
    item = fake_map()

    def lone(cell: MapCell, target: str, users: int) -> float | None:
        # On the 10 ms row the event loop wins at 5 ms of wait only.
        if target == "starlette-uvicorn" and cell.cpu_ms == 10.0:
            return 360.0 if cell.wait_ms == 5 else 60.0
        return known(cell, target, users)

    gaps = {
        ("map-100ms-0.5ms", "starlette-uvicorn", 100),
        ("map-0ms-0.5ms", "starlette-uvicorn", 100),
    }
    at = level(make_map_run(item, lone, invalid=gaps), item)
    row = at.by_cpu[1]
    assert row.wins == (None, False, True, None, True)
    assert row.wins_from == 20
    assert at.by_cpu[3].wins_from is None and at.by_cpu[3].won_at == (5,)
    assert "with 10 ms of CPU per request, only at 5 ms of wait" in at.sentence


def test_the_boundary_is_drawn_on_the_event_loop_heatmap(map_catalogue: DecisionMap) -> None:
    from blockbench.report import map_charts

    found = view(make_map_run(map_catalogue, known), map_catalogue)
    margin, loop, surfaces = map_charts.charts(found, "map-0")[100]
    line = next(t for t in loop.figure["data"] if t["type"] == "scatter")
    # The staircase's edges: left of column 1 (5 ms) on row 0, of column 2 on row 1, of
    # column 3 on row 2, and past the last column on the row where it never wins.
    assert line["x"] == [0.5, 0.5, 1.5, 1.5, 2.5, 2.5, 4.5, 4.5]
    assert line["y"] == [-0.5, 0.5, 0.5, 1.5, 1.5, 2.5, 2.5, 3.5]
    assert all(t["type"] == "heatmap" for t in margin.figure["data"])
    heat = margin.figure["data"][0]
    assert heat["z"][0][2] == pytest.approx(math.log10(3.0), abs=1e-3)
    assert heat["zmid"] == 0
    texts = [a["text"] for a in loop.figure["layout"]["annotations"]]
    assert "starlette-uvicorn<br>3.0×" in texts and "flask-gthread<br>2.0×" in texts
    # One small map per target.
    assert len([t for t in surfaces.figure["data"] if t["type"] == "heatmap"]) == 6


def test_invalid_levels_leave_a_gap_in_the_charts(map_catalogue: DecisionMap) -> None:
    from blockbench.report import map_charts

    blocking = {("map-100ms-0ms", t, 100) for t in [*BLOCKING, "starlette-a2wsgi"]}
    run = make_map_run(map_catalogue, known, invalid=blocking)
    margin, loop, surfaces = map_charts.charts(view(run, map_catalogue), "map-0")[100]
    assert margin.figure["data"][0]["z"][0][3] is None
    assert loop.figure["data"][0]["z"][0][3] is None
    texts = [a["text"] for a in margin.figure["layout"]["annotations"]]
    assert "no comparison" in texts
    flask_sync = surfaces.figure["data"][0]
    assert flask_sync["z"][0][3] is None and flask_sync["z"][0][2] is not None
    assert "not a result" in [a["text"] for a in surfaces.figure["layout"]["annotations"]]


def build(tmp_path: Path, run: Run) -> Path:
    save_run(tmp_path / "results" / run.run_id, run)
    return report.build_site(tmp_path / "results", tmp_path / "reports", [run.run_id])


def test_the_map_page_is_built_and_linked_and_its_cells_are_no_scenarios(
    tmp_path: Path, map_catalogue: DecisionMap
) -> None:
    run = make_map_run(map_catalogue, known, invalid={("map-20ms-0ms", "starlette-uvicorn", 100)})
    overview = build(tmp_path, run)
    page = overview.parent / "map.html"
    parsed = parse(page)
    assert "At 100 users the event loop (starlette-uvicorn) beats" in parsed.text
    assert {"map-0-100-margin", "map-0-100-event-loop", "map-0-1000-surfaces"} <= parsed.ids
    assert "map-0-finder" in parsed.ids
    # The every-cell table: the invalid level is said so, with no number.
    assert "no: " in parsed.text and "not a result" in parsed.text
    # Only the ordinary scenario is a scenario page; the overview and index link the map.
    assert sorted(p.name for p in overview.parent.glob("scenario-*.html")) == ["scenario-1.html"]
    hrefs = {value for tag, _, value in parse(overview).links if tag == "a"}
    assert "map.html" in hrefs and "replications.html" not in hrefs
    assert not any(c.scenario in parse(overview).text for c in map_catalogue.cells)
    index = {value for tag, _, value in parse(tmp_path / "reports" / "index.html").links}
    assert f"runs/{report.slug(run.run_id)}/map.html" in index
    assert broken_links(tmp_path / "reports") == []
    weight = sum(path.stat().st_size for path in loaded(page))
    assert {path.name for path in loaded(page)} >= {"plotly.min.js", "report.js"}
    assert weight < PAGE_WEIGHT


def test_a_run_without_a_map_gets_no_map_page_and_a_rebuild_removes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    item = fake_map()
    install(monkeypatch, item)
    run = make_map_run(item, known)
    overview = build(tmp_path, run)
    assert (overview.parent / "map.html").is_file()
    plain = run.model_copy(
        update={
            "scenarios": ["io-sleep"],
            "cells": [c for c in run.cells if c.scenario == "io-sleep"],
            "aggregates": [a for a in run.aggregates if a.scenario == "io-sleep"],
        }
    )
    build(tmp_path, plain)
    assert not (overview.parent / "map.html").exists()
    assert "map.html" not in {value for _, _, value in parse(overview).links}
    assert not any("map.html" in v for _, _, v in parse(tmp_path / "reports" / "index.html").links)
    assert not decision_map.present(plain) and decision_map.present(run)


def test_without_maps_in_the_catalogue_nothing_is_a_map_cell(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    item = fake_map()
    run = make_map_run(item, known)
    install(monkeypatch, item)
    assert decision_map.present(run)
    monkeypatch.setattr(catalogued, "maps", dict)
    assert not decision_map.present(run) and decision_map.views(run) == ()


def test_every_cell_of_the_map_is_a_row_in_the_table(
    tmp_path: Path, map_catalogue: DecisionMap
) -> None:
    invalid = {("map-5ms-2ms", "flask-gevent", 1000)}
    overview = build(tmp_path, make_map_run(map_catalogue, known, invalid=invalid))
    html = (overview.parent / "map.html").read_text()
    tables = re.findall(r'<table class="numbers map-cells">.*?</table>', html, re.S)
    assert len(tables) == 2
    rows = [re.findall(r'<tr class="(valid|invalid)">(.*?)</tr>', table, re.S) for table in tables]
    assert [len(found) for found in rows] == [len(WAITS) * len(CPUS) * 6] * 2
    assert [kind for kind, _ in rows[0]].count("invalid") == 0
    (bad,) = [row for kind, row in rows[1] if kind == "invalid"]
    # The invalid level: no number in its req/s or efficiency, and why it is not a result.
    assert "flask-gevent" in bad and "not a result" in bad and "110" not in bad
    assert "failed" in bad
    # The measured CPU per request beside the nominal one (synthetic: nominal + 0.4 ms).
    row = next(row for _, row in rows[0] if '<td class="num">2 ms</td>' in row)
    assert "2.4 ms" in row


def test_a_merged_run_as_large_as_the_published_one_keeps_every_page_light(
    tmp_path: Path, map_catalogue: DecisionMap
) -> None:
    # The full profile on 20 targets, the map's 20 cells at two levels and both replications:
    # the map cells are no scenario pages, and every page with what it loads stays light.
    large = make_large_run(targets=20)
    mapped = make_map_run(
        map_catalogue,
        known,
        replications=OURS,
        ordinary=False,
        invalid={("map-0ms-0ms", "starlette-uvicorn", 1000)},
    )
    run = large.model_copy(
        update={
            "scenarios": large.scenarios + mapped.scenarios,
            "cells": large.cells + mapped.cells,
            "aggregates": large.aggregates + mapped.aggregates,
        }
    )
    overview = build(tmp_path, run)
    assert len(list(overview.parent.glob("scenario-*.html"))) == len(large.scenarios) + 2
    assert_light(overview)
    for name in ("map.html", "replications.html"):
        weight = sum(path.stat().st_size for path in loaded(overview.parent / name))
        assert weight < PAGE_WEIGHT, name
    assert broken_links(tmp_path / "reports") == []
