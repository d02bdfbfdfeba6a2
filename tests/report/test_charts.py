from __future__ import annotations

from typing import Any

from blockbench import charts, palette
from blockbench.points import scenarios
from tests.report.synthetic import make_client_run, make_run


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


def test_ceilings_are_dashed_in_the_targets_colour() -> None:
    run = make_run()
    looks = palette.styles(run.targets)
    figure = charts.throughput(scenarios(run)[0], looks)
    for target in run.targets:
        (ceiling,) = traces(figure, f"{target} ceiling")
        assert ceiling["line"] == {"color": looks[target].colour, "dash": "dash", "width": 1.5}


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


def test_the_client_chart_names_each_client_and_draws_one_shared_ceiling() -> None:
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
    # Only the client differs, so both have one ceiling: drawn once.
    names = [t.get("name", "") for t in figure["data"]]
    ceilings = [n for n in names if n.endswith(" ceiling") and not n.startswith("dashed:")]
    assert ceilings == ["starlette-uvicorn ceiling"]
    (hollow,) = traces(figure, "starlette-uvicorn: not a result")
    assert list(hollow["x"]) == [100]
