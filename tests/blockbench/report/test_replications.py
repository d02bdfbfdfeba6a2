"""The peers' benchmarks replayed: their ranking beside ours, and where each sits on the map."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from blockbench.load.scenarios import PeerFigure
from blockbench.report import catalogued, replications
from blockbench.report import site as report
from blockbench.report.replications import ReplicationView
from blockbench.results import Run, save_run
from blockbench.results.aggregates import aggregate
from tests.blockbench.report.map_runs import (
    GRINBERG,
    OURS,
    DecisionMap,
    MapCell,
    known,
    make_map_run,
)
from tests.blockbench.report.pages import broken_links, parse


def run_with(item: DecisionMap, **options: object) -> Run:
    return make_map_run(item, known, replications=OURS, **options)  # type: ignore[arg-type]


def by_name(run: Run) -> dict[str, ReplicationView]:
    return {found.name: found for found in replications.views(run)}


def test_their_ranking_and_ours_as_ranks_and_ratios(map_catalogue: DecisionMap) -> None:
    paterson = by_name(run_with(map_catalogue))["paterson"]
    rows = [
        (r.figure.framework, r.their_rank, round(r.their_ratio, 3), r.our_rank, r.our_ratio)
        for r in paterson.rows
    ]
    assert rows == [
        ("Bottle", 1, 1.0, None, None),
        ("Starlette", 2, round(4952 / 5497, 3), 2, 0.8),
        ("Flask", 3, round(3473 / 5497, 3), 1, 1.0),
    ]
    assert paterson.rows[0].our_reasons == ("none of our targets stands for it",)
    assert [(o.target, o.model, o.rank, o.ratio) for o in paterson.others] == [
        ("flask-gevent", "green-threads", 3, 0.6)
    ]
    # Blocking over non-blocking, theirs (uWSGI+Bottle over Uvicorn+Starlette) and ours.
    assert paterson.their_split == pytest.approx(4952 / 5497)
    assert paterson.our_split == pytest.approx(400 / 500)
    assert paterson.wait_ms == 0.0 and paterson.cpu_ms == pytest.approx(0.6)


def test_an_invalid_level_of_ours_is_no_rank(map_catalogue: DecisionMap) -> None:
    run = run_with(map_catalogue, invalid={("grinberg", "flask-gevent", 100)})
    grinberg = by_name(run)["grinberg"]
    gevent = next(r for r in grinberg.rows if r.target == "flask-gevent")
    assert gevent.our_rank is None and gevent.our_ratio is None and gevent.our_reasons
    assert [(r.target, r.our_rank) for r in grinberg.rows if r.our_rank] == [
        ("starlette-uvicorn", 1),
        ("flask-sync", 2),
    ]
    assert grinberg.our_split == pytest.approx(8.0)


def test_each_workload_is_placed_on_the_map_at_its_wait(map_catalogue: DecisionMap) -> None:
    found = by_name(run_with(map_catalogue))
    paterson, grinberg = found["paterson"].placement, found["grinberg"].placement
    assert paterson is not None and grinberg is not None
    # Measured 0.6 ms per request: nearest the 0 ms row's 0.4 ms measured on the map.
    assert (paterson.square.cell.wait_ms, paterson.square.cell.cpu_ms) == (0, 0.0)
    assert (grinberg.square.cell.wait_ms, grinberg.square.cell.cpu_ms) == (20, 0.0)
    assert paterson.level.users == 100 and paterson.by_measured_cpu
    loop = grinberg.square.event_loop
    assert loop is not None and loop.text == "starlette-uvicorn 3.0×"


def test_the_disagreement_is_explained_from_our_numbers(map_catalogue: DecisionMap) -> None:
    sentence = replications.disagreement(replications.views(run_with(map_catalogue)))
    assert sentence == (
        "Both are right about their own workload: with 0 ms of wait per request (paterson's "
        "workload), the best blocking target served 1.25× the best non-blocking one; with 20 ms "
        "of wait per request (grinberg's workload), the best non-blocking target served 8.0× "
        "the best blocking one."
    )


def test_what_limited_each_of_ours_says_what_ranks_them(map_catalogue: DecisionMap) -> None:
    run = run_with(map_catalogue)
    assert by_name(run)["grinberg"].why == (
        "What limited ours: flask-gevent, starlette-uvicorn by users; flask-sync by worker "
        "processes."
    )
    # Every one of ours limited by its CPU: the ranking is their cost per request.
    cells = [
        cell.model_copy(
            update={
                "levels": [lv.model_copy(update={"binding": "target CPU"}) for lv in cell.levels]
            }
        )
        if cell.scenario == "paterson"
        else cell
        for cell in run.cells
    ]
    cpu_bound = by_name(run.model_copy(update={"cells": cells, "aggregates": aggregate(cells)}))
    assert dict(cpu_bound["paterson"].limits) == {
        "target CPU": ("starlette-uvicorn", "flask-sync", "flask-gevent")
    }
    assert (cpu_bound["paterson"].why or "").startswith(
        "Every target of ours was limited by its own CPU: the ranking is the CPU each spends"
    )


def test_without_a_map_the_replications_still_read(map_catalogue: DecisionMap) -> None:
    def only_replications(cell: MapCell, target: str, users: int) -> float | None:
        return None

    run = make_map_run(map_catalogue, only_replications, replications=OURS)
    found = by_name(run)
    assert found["paterson"].placement is None
    assert found["paterson"].our_split == pytest.approx(0.8)


def test_the_page_is_built_and_linked_only_with_replications(
    tmp_path: Path, map_catalogue: DecisionMap
) -> None:
    run = run_with(map_catalogue)
    save_run(tmp_path / "results" / run.run_id, run)
    overview = report.build_site(tmp_path / "results", tmp_path / "reports")
    page = overview.parent / "replications.html"
    parsed = parse(page)
    assert "Both are right about their own workload" in parsed.text
    assert "Cal Paterson, Async Python is not faster (2020)" in parsed.text
    assert "none of ours" in parsed.text
    assert (
        "In their figures, the best blocking target served 1.11× the best non-blocking one. "
        "With 0 ms of wait and 0.6 ms of CPU per request (paterson), the best blocking target "
        "served 1.25× the best non-blocking one here." in parsed.text
    )
    # Relative only: none of their published req/s, nor ours, on the page.
    for number in ("5,497", "4,952", "3,473", "500", "800", "700"):
        assert not re.search(rf"(?<![\d,.-]){number}(?![\d,])", parsed.text), number
    # Their page is named, never linked: a report links nothing outside itself.
    assert "https://calpaterson.com/async-python-is-not-faster.html" in parsed.text
    assert not parsed.figures
    hrefs = {value for tag, _, value in parsed.links if tag == "a"}
    assert {"map.html", "index.html"} <= hrefs
    overview_links = {value for tag, _, value in parse(overview).links if tag == "a"}
    assert {"map.html", "replications.html"} <= overview_links
    index = {value for _, _, value in parse(tmp_path / "reports" / "index.html").links}
    assert f"runs/{report.slug(run.run_id)}/replications.html" in index
    assert broken_links(tmp_path / "reports") == []
    # Rebuilt without them: the page goes, and so do the links.
    plain = run.model_copy(
        update={
            "cells": [c for c in run.cells if c.scenario not in OURS],
            "aggregates": [a for a in run.aggregates if a.scenario not in OURS],
            "scenarios": [s for s in run.scenarios if s not in OURS],
        }
    )
    save_run(tmp_path / "results" / run.run_id, plain)
    report.build_site(tmp_path / "results", tmp_path / "reports")
    assert not page.exists()
    assert "replications.html" not in {v for _, _, v in parse(overview).links}
    assert broken_links(tmp_path / "reports") == []


def test_a_wait_the_run_does_not_record_is_read_from_the_catalogue(
    map_catalogue: DecisionMap, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A replication of io-sleep (100 ms asked for) whose cells record no wait: the bounds of
    # a run may not model every wait (a database's sleep), the catalogue's parameter says it.
    sleepy = dataclasses.replace(GRINBERG, name="sleepy", scenario="io-sleep")
    monkeypatch.setattr(catalogued, "replications", lambda: {sleepy.name: sleepy})
    run = make_map_run(map_catalogue, known)
    run = run.model_copy(
        update={
            "cells": [
                c.model_copy(update={"service_time_ms": 0.0}) if c.scenario == "io-sleep" else c
                for c in run.cells
            ]
        }
    )
    (found,) = replications.views(run)
    assert found.wait_ms == 100.0
    assert found.placement is not None and found.placement.square.cell.wait_ms == 100


def test_our_split_takes_every_target_we_measured_not_only_the_stand_ins(
    map_catalogue: DecisionMap, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Grinberg's "sync" servers ran on gevent: none of their figures is blocking, and none of
    # our stand-ins; flask-sync, measured on the same workload, is our blocking side.
    greenlets = dataclasses.replace(
        GRINBERG,
        figures=tuple(f for f in GRINBERG.figures if f.model != "processes"),
    )
    monkeypatch.setattr(catalogued, "replications", lambda: {greenlets.name: greenlets})
    (found,) = replications.views(run_with(map_catalogue))
    assert found.their_split is None
    assert found.theirs == "Their figures set no blocking server beside a non-blocking one."
    assert found.our_split == pytest.approx(8.0)
    assert [(o.target, o.rank, o.ratio) for o in found.others] == [("flask-sync", 3, 0.125)]


def test_our_stand_in_is_the_first_measured_target_of_their_app_and_model() -> None:
    flask = PeerFigure("Flask", "Gunicorn", "processes", 1.0, "flask")
    measured = {
        "starlette-uvicorn": ("event-loop", None),
        "flask-gthread": ("threads", None),
        "flask-async-views": ("processes", None),
        "flask-sync": ("processes", None),
    }
    assert replications.stand_in(flask, measured) == "flask-async-views"
    assert replications.stand_in(flask, {"flask-gthread": ("threads", None)}) is None
    bottle = PeerFigure("Bottle", "uWSGI", "processes", 2.0, None)
    assert replications.stand_in(bottle, measured) is None
