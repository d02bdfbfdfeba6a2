from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import pytest

from blockbench.report import charts, palette
from blockbench.report.points import ScenarioResults, scenarios
from tests.blockbench.synthetic import make_client_run, make_run, without_bounds


def traces(figure: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [trace for trace in figure["data"] if trace.get("name") == name]


def test_levels_that_are_not_results_are_hollow_and_off_the_line() -> None:
    run = make_run()
    io_sleep = scenarios(run)[0]
    figure = charts.throughput(io_sleep, palette.styles(run.targets))
    (line,) = traces(figure, "starlette-uvicorn")
    assert list(line["x"]) == [1, 20, 100]
    assert line["y"][2] is None and line["y"][1] is not None
    (hollow,) = traces(figure, "starlette-uvicorn: not a result")
    assert list(hollow["x"]) == [100]
    assert hollow["marker"]["symbol"].endswith("-open")
    assert "NOT A RESULT" in hollow["hovertext"][0]
    assert "load generator saturated" in hollow["hovertext"][0]


def test_bounds_are_dashed_in_the_targets_colour() -> None:
    run = make_run()
    looks = palette.styles(run.targets)
    figure = charts.throughput(scenarios(run)[0], looks)
    for target in run.targets:
        (bound,) = traces(figure, f"{target} bound")
        assert bound["line"] == {"color": looks[target].colour, "dash": "dash", "width": 1.5}
    assert traces(figure, "dashed: the tightest bound (what limits it: in the hover)")


def test_the_bound_line_is_the_recorded_tightest_bound_and_bends_where_it_changes() -> None:
    run = make_run()
    io_sleep = scenarios(run)[0]
    sync = io_sleep.series[0]
    (bound,) = traces(charts.throughput(io_sleep, palette.styles(run.targets)), "flask-sync bound")
    assert list(bound["y"]) == [charts._round(p.aggregate.ceiling_rps) for p in sync.points]
    # One user is the limit at 1 user; from 20 on, the three sync workers are.
    assert bound["y"][0] < bound["y"][1] == bound["y"][2]
    first, second, _ = bound["hovertext"]
    assert "limited by users" in first and "= 1 user / 100 ms waiting" in first
    assert "limited by worker processes" in second and "= 3 in flight / 100 ms" in second
    # The measured point's hover names it too.
    (line,) = traces(charts.throughput(io_sleep, palette.styles(run.targets)), "flask-sync")
    assert "(worker processes), efficiency" in line["hovertext"][1]


def labels_of(figure: dict[str, Any]) -> list[dict[str, Any]]:
    return list(figure["layout"].get("annotations", []))


def test_each_plateau_is_labelled_with_what_limits_it_in_the_targets_colour() -> None:
    run = make_run()
    looks = palette.styles(run.targets)
    figure = charts.throughput(scenarios(run)[0], looks)
    labels = {a["text"]: a for a in labels_of(figure) if a["text"].startswith("limited by")}
    assert set(labels) == {
        "limited by worker processes",
        "limited by gunicorn --threads",
        # starlette-uvicorn's last valid level is 20 users: 100 saturated the generator.
        "limited by users",
    }
    sync = labels["limited by worker processes"]
    assert sync["font"]["color"] == looks["flask-sync"].colour
    assert sync["x"] == pytest.approx(2.0)  # log10 of 100 users
    assert labels["limited by users"]["x"] == pytest.approx(math.log10(20))
    assert "3 in flight" in sync["hovertext"]


def crowded(results: ScenarioResults, binding: Callable[[int], str]) -> ScenarioResults:
    """Every target at about 300 req/s at every level, the n-th limited by binding(n)."""
    series = []
    for number, item in enumerate(results.series):
        update = {"rps": 300.0 + number, "valid": True, "binding": binding(number)}
        points = tuple(
            dataclasses.replace(point, aggregate=point.aggregate.model_copy(update=update))
            for point in item.points
        )
        series.append(dataclasses.replace(item, points=points))
    return dataclasses.replace(results, series=tuple(series))


def test_lines_meeting_the_same_limit_at_one_level_share_a_label() -> None:
    run = make_run()
    results = crowded(scenarios(run)[0], lambda number: "target CPU")
    figure = charts.throughput(results, palette.styles(run.targets))
    (label,) = [a for a in labels_of(figure) if a["text"].startswith("limited by")]
    assert label["text"] == "limited by target CPU"
    assert label["font"]["color"] == charts._SHARED_LABEL_COLOUR
    for target in run.targets:
        assert target in label["hovertext"]


def test_labels_that_cannot_be_told_apart_are_left_to_the_hover() -> None:
    run = make_run()
    results = crowded(scenarios(run)[0], lambda number: f"pool {number}")
    figure = charts.throughput(results, palette.styles(run.targets))
    assert not [a for a in labels_of(figure) if a["text"].startswith("limited by")]
    (bound,) = traces(figure, "flask-sync bound")
    assert "limited by pool 0" in bound["hovertext"][2]


def test_levels_without_bounds_draw_no_bound_and_no_label() -> None:
    run = without_bounds(make_run())
    io_sleep = scenarios(run)[0]
    figure = charts.throughput(io_sleep, palette.styles(run.targets))
    (bound,) = traces(figure, "flask-sync bound")
    assert list(bound["x"]) == []
    assert not [a for a in labels_of(figure) if a["text"].startswith("limited by")]
    (line,) = traces(figure, "flask-sync")
    assert "bound" not in line["hovertext"][1]


def test_error_bars_span_the_interval() -> None:
    run = make_run()
    io_sleep = scenarios(run)[0]
    figure = charts.throughput(io_sleep, palette.styles(run.targets))
    (line,) = traces(figure, "flask-sync")
    point = io_sleep.series[0].points[1]
    assert line["error_y"]["array"][1] == charts._round(
        point.aggregate.rps_high - point.aggregate.rps
    )


def test_names_are_shown_not_read_as_markup() -> None:
    run = make_run(rename={"flask-sync": "<b>bold</b>"})
    figure = charts.throughput(scenarios(run)[0], palette.styles(run.targets))
    (line,) = traces(figure, "&lt;b&gt;bold&lt;/b&gt;")
    assert "<b>" not in line["hovertext"][0]


def test_every_scenario_has_four_charts_with_data() -> None:
    run = make_run()
    for number, results in enumerate(scenarios(run), start=1):
        found = charts.scenario_charts(results, palette.styles(run.targets), f"s{number}", None)
        assert [c.id for c in found] == [
            f"s{number}-{kind}" for kind in ("throughput", "latency", "failures", "resources")
        ]
        assert all(chart.figure["data"] for chart in found)


def test_the_client_chart_names_each_client_and_draws_one_shared_bound() -> None:
    run = make_client_run()
    (upstream,) = scenarios(run)
    base, variant = upstream.series[1:]
    looks = palette.styles(run.targets)
    clients = {base.target: "aiohttp 3.14.5", variant.target: "httpx 0.28.1"}
    figure = charts.client_throughput((base, variant), looks, clients)
    (line,) = traces(figure, "starlette-uvicorn: aiohttp 3.14.5")
    (dotted,) = traces(figure, "starlette-uvicorn-httpx: httpx 0.28.1")
    assert line["line"]["dash"] == "solid" and dotted["line"]["dash"] == "dot"
    assert list(dotted["y"]) == [charts._round(p.aggregate.rps) for p in variant.points]
    # Only the client differs, and the two recorded the same bounds: drawn once.
    names = [t.get("name", "") for t in figure["data"]]
    drawn = [n for n in names if n.endswith(" bound")]
    assert drawn == ["starlette-uvicorn bound"]
    (hollow,) = traces(figure, "starlette-uvicorn: not a result")
    assert list(hollow["x"]) == [100]
