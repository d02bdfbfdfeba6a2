"""The report's charts: Plotly figures as plain dicts, which the pages embed as JSON.

Built with plotly's graph objects, so every property is checked against the schema of the
plotly.js version the package ships, the version of the bundle copied next to the pages (a
test keeps them equal): the figures and the code that draws them cannot drift apart, and a
misspelt property fails the build, not the reader.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from blockbench import formats
from blockbench.report.palette import INVALID_COLOUR, Style
from blockbench.report.points import Point, ScenarioResults, Series
from blockbench.results import FAILURE_THRESHOLD

Figure = dict[str, Any]

GRID_COLOUR = "#e3e3e3"
FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Liberation Sans", Arial, sans-serif'
HEIGHT = 440


@dataclass(frozen=True)
class Chart:
    """A figure with what the page says around it."""

    id: str
    title: str
    caption: str
    figure: Figure


def scenario_charts(
    results: ScenarioResults, looks: dict[str, Style], prefix: str, generator_rps: float | None
) -> tuple[Chart, ...]:
    return (
        Chart(
            f"{prefix}-throughput",
            "Throughput against concurrency",
            "One line per target, its tightest bound dashed in the same colour: at each level "
            "the least of what the users, the target's threads, pools and cores, and the "
            "services it calls allow, so it bends where what limits the target changes. Error "
            "bars span the repeats' 95% interval. Each plateau is labelled with what limits it "
            "where the labels fit; the hover and the caps table below name it for every target.",
            throughput(results, looks, generator_rps),
        ),
        Chart(
            f"{prefix}-latency",
            "Response times against concurrency",
            "Median and 99th percentile of each level, as the load generator timed them. "
            "Past a target's capacity requests queue, and latency grows with the users.",
            latency(results, looks),
        ),
        Chart(
            f"{prefix}-failures",
            "Failed requests",
            f"Share of requests that failed, over all repeats. Above "
            f"{formats.percent(FAILURE_THRESHOLD)} a level is not a result.",
            failures(results, looks),
        ),
        Chart(
            f"{prefix}-resources",
            "CPU and memory of each target",
            "The target's whole process tree, sampled through each level: mean CPU, peak "
            "memory, and that memory divided by the requests it held at once.",
            resources(results, looks),
        ),
    )


def throughput(
    results: ScenarioResults, looks: dict[str, Style], generator_rps: float | None = None
) -> Figure:
    figure = go.Figure(layout=_layout(results.users))
    for series in results.series:
        look = looks[series.target]
        for trace in _measured(series, look, _rps, _throughput_hover, errors=True):
            figure.add_trace(trace)
        figure.add_trace(_bound(series, look))
    _legend_keys(figure, results.series, bound=True)
    highest = max((p.aggregate.rps for s in results.series for p in s.points), default=0.0)
    # The generator's own limit matters only where the targets come near it.
    if generator_rps and highest >= generator_rps / 2:
        _generator_ceiling(figure, results.users, generator_rps)
    figure.update_yaxes(type="log", title_text="successful requests per second (log)")
    _log_ticks(figure)
    _plateau_labels(figure, results.series, looks)
    return _json(figure)


def latency(results: ScenarioResults, looks: dict[str, Style]) -> Figure:
    figure = make_subplots(
        rows=1,
        cols=2,
        shared_yaxes=True,
        horizontal_spacing=0.05,
        subplot_titles=("median (p50)", "99th percentile (p99)"),
    )
    figure.update_layout(_layout(results.users))
    for column, (name, value) in enumerate((("p50", _p50), ("p99", _p99)), start=1):
        for series in results.series:
            hover = _latency_hover(name, value)
            for trace in _measured(series, looks[series.target], value, hover, legend=column == 1):
                figure.add_trace(trace, row=1, col=column)
    _legend_keys(figure, results.series)
    _axes(figure, results.users)
    figure.update_yaxes(type="log")
    figure.update_yaxes(title_text="response time, ms (log)", row=1, col=1)
    _log_ticks(figure)
    return _json(figure)


def failures(results: ScenarioResults, looks: dict[str, Style]) -> Figure:
    figure = go.Figure(layout=_layout(results.users))
    for series in results.series:
        for trace in _measured(series, looks[series.target], _failed_percent, _failures_hover):
            figure.add_trace(trace)
    _legend_keys(figure, results.series)
    threshold = FAILURE_THRESHOLD * 100
    figure.add_hline(
        y=threshold,
        line={"color": INVALID_COLOUR, "dash": "dash", "width": 1},
        annotation_text=f"{formats.percent(FAILURE_THRESHOLD)} threshold",
        annotation_position="top left",
        annotation_font={"color": "#555555", "size": 11},
    )
    highest = max(
        (_failed_percent(p) or 0.0 for s in results.series for p in s.points), default=0.0
    )
    figure.update_yaxes(
        title_text="failed requests, % of all",
        range=[0, max(highest, threshold) * 1.25],
        ticksuffix="%",
    )
    return _json(figure)


def resources(results: ScenarioResults, looks: dict[str, Style]) -> Figure:
    figure = make_subplots(
        rows=1,
        cols=3,
        horizontal_spacing=0.08,
        # Short: on paper each title has a third of the page.
        subplot_titles=("CPU, % of a core", "peak memory, MiB", "MiB per request in flight"),
    )
    figure.update_layout(_layout(results.users))
    measures: Sequence[tuple[Callable[[Point], float | None], Callable[[Point], str]]] = (
        (lambda p: p.cpu_percent, lambda p: f"CPU {formats.cpu(p.cpu_percent)}"),
        (lambda p: p.rss_mib, lambda p: f"memory {formats.mib(p.rss_mib)}"),
        (
            lambda p: p.mib_per_request,
            lambda p: (
                f"{formats.mib(p.mib_per_request)} per request: {formats.mib(p.rss_mib)} over "
                f"{p.in_flight} in flight"
            ),
        ),
    )
    for column, (value, words) in enumerate(measures, start=1):
        for series in results.series:
            hover = _resource_hover(words)
            for trace in _measured(series, looks[series.target], value, hover, legend=column == 1):
                figure.add_trace(trace, row=1, col=column)
    _legend_keys(figure, results.series)
    _axes(figure, results.users)
    figure.update_yaxes(rangemode="tozero", row=1, col=1)
    figure.update_yaxes(rangemode="tozero", row=1, col=2)
    figure.update_yaxes(type="log", row=1, col=3)
    _log_ticks(figure)
    return _json(figure)


def compare_throughput(
    before: ScenarioResults, after: ScenarioResults, looks: dict[str, Style]
) -> Figure:
    """Both runs on one chart: the first solid, the second dotted, each target in its colour."""
    users = tuple(sorted({*before.users, *after.users}))
    figure = go.Figure(layout=_layout(users))
    for label, results, dash in (("A", before, "solid"), ("B", after, "dot")):
        for series in results.series:
            traces = _measured(series, looks[series.target], _rps, _throughput_hover, errors=True)
            for trace in traces:
                trace.update(
                    name=f"{label}: {_plain(series.target)}",
                    legendgroup=f"{label}-{series.target}",
                )
                if trace.mode != "markers":
                    trace.update(line_dash=dash)
                figure.add_trace(trace)
    _legend_keys(figure, (*before.series, *after.series))
    figure.update_yaxes(type="log", title_text="successful requests per second (log)")
    _log_ticks(figure)
    return _json(figure)


def client_throughput(
    series: Sequence[Series], looks: dict[str, Style], clients: dict[str, str]
) -> Figure:
    """Targets that differ in their HTTP client on one chart, each named with its client.

    ``clients`` gives each target's client as the legend should say it ("aiohttp 3.14.5").
    A bound is drawn once for targets that share it, as they may when only the client differs.
    """
    users = tuple(sorted({point.users for s in series for point in s.points}))
    figure = go.Figure(layout=_layout(users))
    drawn: list[list[tuple[int, float | None, str | None]]] = []
    for item in series:
        look = looks[item.target]
        line, *others = _measured(item, look, _rps, _throughput_hover, errors=True)
        line.update(name=_plain(f"{item.target}: {clients[item.target]}"))
        for trace in (line, *others):
            figure.add_trace(trace)
        bound = [(p.users, p.aggregate.ceiling_rps, p.binding) for p in item.points]
        if bound not in drawn:
            drawn.append(bound)
            figure.add_trace(_bound(item, look))
    _legend_keys(figure, series, bound=True)
    figure.update_yaxes(type="log", title_text="successful requests per second (log)")
    _log_ticks(figure)
    _plateau_labels(figure, series, looks)
    return _json(figure)


# -- building blocks ----------------------------------------------------------------------


def _measured(
    series: Series,
    look: Style,
    value: Callable[[Point], float | None],
    hover: Callable[[Series, Point], list[str]],
    *,
    errors: bool = False,
    legend: bool = True,
) -> list[go.Scatter]:
    """A target's valid levels as a line, and its other levels as hollow grey markers.

    The line has a gap at a level that is not a result, rather than joining across it.
    """
    name = _plain(series.target)
    points = series.points
    valid = [p.valid and value(p) is not None for p in points]
    line = go.Scatter(
        x=[p.users for p in points],
        y=[_round(value(p)) if ok else None for p, ok in zip(points, valid, strict=True)],
        mode="lines+markers",
        name=name,
        legendgroup=series.target,
        showlegend=legend,
        connectgaps=False,
        line={"color": look.colour, "width": 2, "dash": look.dash},
        marker={
            "color": look.colour,
            "symbol": look.symbol,
            "size": 8,
            "line": {"color": "#333333", "width": 0.5},
        },
        hovertext=[_lines(hover(series, p)) for p in points],
        hovertemplate="%{hovertext}<extra></extra>",
    )
    if errors:
        line.update(error_y=_error_bars(points, valid, look))
    invalid = [p for p in points if not p.valid and value(p) is not None]
    traces = [line]
    if invalid:
        traces.append(
            go.Scatter(
                x=[p.users for p in invalid],
                y=[_round(value(p)) for p in invalid],
                mode="markers",
                name=f"{name}: not a result",
                legendgroup=series.target,
                showlegend=False,
                marker={
                    "color": INVALID_COLOUR,
                    "symbol": f"{look.symbol}-open",
                    "size": 11,
                    "line": {"width": 2},
                },
                hovertext=[
                    _lines([*hover(series, p), "NOT A RESULT:", *p.reasons]) for p in invalid
                ],
                hovertemplate="%{hovertext}<extra></extra>",
            )
        )
    return traces


def _error_bars(points: Sequence[Point], valid: Sequence[bool], look: Style) -> dict[str, Any]:
    above = [
        _round(p.aggregate.rps_high - p.aggregate.rps) if ok else None
        for p, ok in zip(points, valid, strict=True)
    ]
    below = [
        _round(p.aggregate.rps - p.aggregate.rps_low) if ok else None
        for p, ok in zip(points, valid, strict=True)
    ]
    return {
        "type": "data",
        "symmetric": False,
        "array": above,
        "arrayminus": below,
        "color": look.colour,
        "thickness": 1.5,
        "width": 5,
    }


def _bound(series: Series, look: Style) -> go.Scatter:
    """The target's tightest bound at each level, as the run recorded it: the dashed line."""
    points = [p for p in series.points if p.aggregate.ceiling_rps is not None]
    return go.Scatter(
        x=[p.users for p in points],
        y=[_round(p.aggregate.ceiling_rps) for p in points],
        mode="lines",
        name=f"{_plain(series.target)} bound",
        legendgroup=series.target,
        showlegend=False,
        line={"color": look.colour, "dash": "dash", "width": 1.5},
        hovertext=[_lines([series.target, *_bound_words(p)]) for p in points],
        hovertemplate="%{hovertext}<extra></extra>",
    )


def _bound_words(point: Point) -> list[str]:
    lines = [
        f"{formats.users(point.users)}: "
        f"tightest bound {formats.rps(point.aggregate.ceiling_rps)} req/s"
    ]
    if point.binding is not None:
        lines.append(f"limited by {point.binding}")
    bound = point.bound
    if bound is not None:
        lines.append(f"= {bound.detail}")
    return lines


# How the plateau labels are fitted, in pixels of the smallest plot they are drawn in: the
# printed page's (report.js prints charts 680 px wide; the legend takes part of the height).
_PLOT_WIDTH_PX = 590
_PLOT_HEIGHT_PX = 250
_LABEL_FONT = 11
_LABEL_HEIGHT_PX = 15
_CHAR_WIDTH_PX = 6.2
# A label pushed further than this from its line no longer says whose it is.
_LABEL_SHIFT_PX = 2 * _LABEL_HEIGHT_PX
_SHARED_LABEL_COLOUR = "#444444"


@dataclass
class _Label:
    """A plateau's label and the box it takes, in pixels from the plot's bottom left corner."""

    series: Series
    point: Point
    colour: str
    text: str
    # Where its point lands, and whether the label reads leftwards from it.
    x: float
    y: float
    leftwards: bool
    bottom: float
    # The other targets whose label it is too, when theirs would have said the same there.
    shared: list[Series]

    @property
    def width(self) -> float:
        return len(self.text) * _CHAR_WIDTH_PX

    @property
    def left(self) -> float:
        return self.x - 4 - self.width if self.leftwards else self.x + 4

    @property
    def top(self) -> float:
        return self.bottom + _LABEL_HEIGHT_PX

    def says_the_same(self, other: _Label) -> bool:
        return (
            self.text == other.text
            and self.point.users == other.point.users
            and abs(self.bottom - other.bottom) <= _LABEL_SHIFT_PX
        )

    def overlaps(self, other: _Label) -> bool:
        return (
            self.left < other.left + other.width
            and other.left < self.left + self.width
            and self.bottom < other.top
            and other.bottom < self.top
        )


def _plateau_labels(figure: go.Figure, series: Sequence[Series], looks: dict[str, Style]) -> None:
    """Name what limits each target, above its last valid level, in the target's colour.

    Labels that would overlap are stacked, and lines that meet the same limit at one level
    share one; where a label would end too far from its line to be read as its own, none is
    drawn, and the hover and the caps table below the chart say it instead.
    """
    for label in _fitted(figure, series, looks) or ():
        figure.add_annotation(
            # On log axes Plotly places annotations in log10 units.
            x=math.log10(label.point.users),
            y=math.log10(label.point.aggregate.rps),
            xanchor="right" if label.leftwards else "left",
            yanchor="bottom",
            xshift=-4 if label.leftwards else 4,
            yshift=label.bottom - label.y,
            text=_plain(label.text),
            showarrow=False,
            # Every palette colour stands out on white by WCAG's 3:1 (test_palette.py checks).
            font={"color": label.colour, "size": _LABEL_FONT},
            bgcolor="rgba(255, 255, 255, 0.8)",
            hovertext=_lines(_label_hover(label)),
        )


def _fitted(
    figure: go.Figure, series: Sequence[Series], looks: dict[str, Style]
) -> list[_Label] | None:
    placed: list[_Label] = []
    candidates = [label for s in series if (label := _label(figure, s, looks[s.target]))]
    for label in sorted(candidates, key=lambda label: label.bottom):
        # Lines that meet the same limit at one level, close together, share one label.
        same = next((other for other in placed if other.says_the_same(label)), None)
        if same is not None:
            same.shared.append(label.series)
            same.colour = _SHARED_LABEL_COLOUR
            continue
        while clash := next((other for other in placed if other.overlaps(label)), None):
            label.bottom = clash.top + 1
        else:
            if label.bottom - label.y > _LABEL_SHIFT_PX:
                return None
            placed.append(label)
    return placed


def _label(figure: go.Figure, series: Series, look: Style) -> _Label | None:
    point = next((p for p in reversed(series.valid_points) if p.binding), None)
    if point is None or point.aggregate.rps <= 0:
        return None
    text = f"limited by {point.binding}"
    x, y = _position(figure, point)
    # Above its point and to the left, where its line comes from; rightwards at the left edge.
    leftwards = x - 4 - len(text) * _CHAR_WIDTH_PX >= 0
    return _Label(series, point, look.colour, text, x, y, leftwards, y + 3, [])


def _label_hover(label: _Label) -> list[str]:
    lines = []
    for series in (label.series, *label.shared):
        point = series.at(label.point.users)
        if point is not None:
            lines += [series.target, *_bound_words(point)]
    return lines


def _position(figure: go.Figure, point: Point) -> tuple[float, float]:
    """Where a point lands in the smallest plot drawn, both axes being logarithmic."""
    xs = [x for trace in figure.data if trace.x is not None for x in trace.x if x]
    ys = [y for trace in figure.data if trace.y is not None for y in trace.y if y and y > 0]

    def share(value: float, values: Sequence[float]) -> float:
        low, high = math.log10(min(values)), math.log10(max(values))
        return 0.5 if high == low else (math.log10(value) - low) / (high - low)

    return (
        share(point.users, xs) * _PLOT_WIDTH_PX,
        share(point.aggregate.rps, ys) * _PLOT_HEIGHT_PX,
    )


def _generator_ceiling(figure: go.Figure, users: Sequence[int], rps: float) -> None:
    # Shapes do not widen the axis range; an invisible point on the line does.
    figure.add_trace(
        go.Scatter(
            x=list(users[:1]),
            y=[rps],
            mode="markers",
            marker={"opacity": 0},
            showlegend=False,
            hoverinfo="skip",
        )
    )
    figure.add_hline(y=rps, line={"color": INVALID_COLOUR, "dash": "dot", "width": 1})
    # On a log axis Plotly places annotations in log10 units, unlike shapes.
    figure.add_annotation(
        x=0,
        xref="x domain",
        xanchor="left",
        y=math.log10(rps),
        yanchor="bottom",
        text=f"load generator's own ceiling, {formats.rps(rps)} req/s",
        showarrow=False,
        font={"color": "#555555", "size": 11},
    )


def _legend_keys(figure: go.Figure, series: Iterable[Series], *, bound: bool = False) -> None:
    """Legend entries for the encodings, so a printed chart still explains itself."""
    if bound:
        figure.add_trace(
            go.Scatter(
                x=[None],
                y=[None],
                mode="lines",
                name="dashed: the tightest bound (what limits it: in the hover)",
                line={"color": "#555555", "dash": "dash", "width": 1.5},
                hoverinfo="skip",
            )
        )
    if any(not point.valid for s in series for point in s.points):
        figure.add_trace(
            go.Scatter(
                x=[None],
                y=[None],
                mode="markers",
                name="hollow grey: not a result (hover for why)",
                marker={"color": INVALID_COLOUR, "symbol": "circle-open", "size": 11},
                hoverinfo="skip",
            )
        )


def _layout(users: Sequence[int]) -> dict[str, Any]:
    return {
        "template": "none",
        "height": HEIGHT,
        "font": {"family": FONT, "size": 13, "color": "#222222"},
        "paper_bgcolor": "#ffffff",
        "plot_bgcolor": "#ffffff",
        # Room above the plots for subplot titles and the mode bar.
        "margin": {"l": 70, "r": 20, "t": 56, "b": 60},
        "hovermode": "closest",
        "hoverlabel": {"align": "left", "font": {"size": 12}},
        # Below the axis title; Plotly widens the bottom margin to fit the rows it needs.
        "legend": {"orientation": "h", "x": 0, "y": -0.26, "yanchor": "top"},
        "xaxis": _x_axis(users),
        "yaxis": _y_axis(),
    }


def _x_axis(users: Sequence[int]) -> dict[str, Any]:
    return {
        "type": "log",
        "title": {"text": "concurrent users (log)"},
        "tickvals": list(users),
        "ticktext": [str(level) for level in users],
        **_lines_of_axis(),
    }


def _y_axis() -> dict[str, Any]:
    return {"automargin": True, **_lines_of_axis()}


def _lines_of_axis() -> dict[str, Any]:
    return {
        "showgrid": True,
        "gridcolor": GRID_COLOUR,
        "showline": True,
        "linecolor": "#555555",
        "ticks": "outside",
        "zeroline": False,
    }


def _axes(figure: go.Figure, users: Sequence[int]) -> None:
    """Subplots get their axes from make_subplots; give them the single chart's look."""
    x_axis = _x_axis(users)
    x_axis.pop("title")
    figure.update_xaxes(x_axis)
    figure.update_yaxes(_y_axis())
    figure.update_xaxes(title_text="concurrent users (log)")


def _log_ticks(figure: go.Figure) -> None:
    """Label log axes at 1, 2 and 5 of each decade, written out in full.

    Plotly's own labels for a log axis over a decade or two are bare digits (a "5" that means
    0.5 or 50), unreadable on paper. A range too narrow for three such labels keeps Plotly's.
    """
    for axis in figure.select_yaxes(selector={"type": "log"}):
        name = axis.plotly_name.replace("yaxis", "y")
        values = [
            y
            for trace in figure.data
            if (trace.yaxis or "y") == name and trace.y is not None
            for y in trace.y
            if y is not None and y > 0
        ]
        if not values:
            continue
        low, high = min(values) / 1.2, max(values) * 1.2
        ticks = [
            mantissa * 10.0**exponent
            for exponent in range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)
            for mantissa in (1, 2, 5)
            if low <= mantissa * 10.0**exponent <= high
        ]
        if len(ticks) >= 3:
            axis.update(
                tickmode="array",
                tickvals=[_round(tick) for tick in ticks],
                ticktext=[f"{_round(tick):,g}" for tick in ticks],
            )


def _rps(point: Point) -> float | None:
    return point.aggregate.rps


def _p50(point: Point) -> float | None:
    return point.aggregate.p50_ms


def _p99(point: Point) -> float | None:
    return point.aggregate.p99_ms


def _failed_percent(point: Point) -> float | None:
    rate = point.failure_rate
    return None if rate is None else rate * 100


def _throughput_hover(series: Series, point: Point) -> list[str]:
    a = point.aggregate
    lines = [series.target, f"{formats.users(a.users)}: {formats.rps(a.rps)} req/s"]
    if a.repeats > 1:
        lines.append(
            f"95% interval {formats.rps(a.rps_low)} to {formats.rps(a.rps_high)} "
            f"({a.repeats} repeats)"
        )
    if a.ceiling_rps is not None:
        limit = f" ({point.binding})" if point.binding else ""
        lines.append(
            f"tightest bound {formats.rps(a.ceiling_rps)} req/s{limit}, "
            f"efficiency {formats.percent(a.efficiency)}"
        )
    if point.valid:
        lines += point.reasons
    return lines


def _latency_hover(
    name: str, value: Callable[[Point], float | None]
) -> Callable[[Series, Point], list[str]]:
    def hover(series: Series, point: Point) -> list[str]:
        return [series.target, f"{formats.users(point.users)}: {name} {formats.ms(value(point))}"]

    return hover


def _failures_hover(series: Series, point: Point) -> list[str]:
    lines = [
        series.target,
        f"{formats.users(point.users)}: "
        f"{formats.count(point.failed)} of {formats.count(point.requests)} "
        f"requests failed ({formats.percent(point.failure_rate)})",
    ]
    kinds: dict[str, int] = {}
    for level in point.repeats:
        for kind in ("timeouts", "server_errors", "client_errors", "connection_errors", "other"):
            kinds[kind] = kinds.get(kind, 0) + getattr(level.failures, kind)
    lines += [f"{kind.replace('_', ' ')}: {n:,}" for kind, n in kinds.items() if n]
    return lines


def _resource_hover(words: Callable[[Point], str]) -> Callable[[Series, Point], list[str]]:
    def hover(series: Series, point: Point) -> list[str]:
        return [series.target, f"{formats.users(point.users)}: {words(point)}"]

    return hover


def _lines(lines: Iterable[str]) -> str:
    return "<br>".join(_plain(line) for line in lines)


def _plain(text: str) -> str:
    """Text for Plotly, which reads a little HTML in names and hover text: shown, not read."""
    return html.escape(text, quote=False)


def _round(value: float | None) -> float | None:
    """Four significant digits: what the eye can see, and pages a quarter the size."""
    return None if value is None else float(f"{value:.4g}")


def _json(figure: go.Figure) -> Figure:
    spec: Figure = figure.to_plotly_json()
    return spec
