"""The decision map's charts: heatmaps over wait (columns) x CPU (rows), as Plotly figures.

The margins are drawn on a logarithmic colour scale diverging at 1.0 (0.5x and 2x are as far
from even), and every cell says its reading in words: a cell without a comparison is grey and
says so, never a colour that reads as a number.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from blockbench import formats
from blockbench.report.charts import FONT, Chart, Figure, _json, _lines, _plain, _round
from blockbench.report.decision_map import (
    EVEN,
    Comparison,
    Level,
    Line,
    MapView,
    Reading,
    Square,
    cpu_words,
)

# ColorBrewer's PuOr, which stays apart under every common colour blindness: orange where a
# blocking target wins, purple where the non-blocking one does, near white where they are even.
DIVERGING = [
    [0.0, "#b35806"],
    [0.2, "#f1a340"],
    [0.4, "#fee0b6"],
    [0.5, "#f7f7f7"],
    [0.6, "#d8daeb"],
    [0.8, "#998ec3"],
    [1.0, "#542788"],
]
# Where there is no comparison: the plot's background, darker than any colour near even.
GAP_COLOUR = "#bdbdbd"
BOUNDARY_COLOUR = "#111111"
RATIO_TICKS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100)
CELL_HEIGHT = 64


def charts(view: MapView, prefix: str) -> dict[int, tuple[Chart, Chart, Chart]]:
    """Per level: the margin heatmap, the event loop's with the boundary, the surfaces."""
    found = {}
    for level in view.levels:
        at = f"{prefix}-{level.users}"
        users = formats.users(level.users)
        found[level.users] = (
            Chart(
                f"{at}-margin",
                f"Non-blocking against blocking, at {users}",
                "Each cell: the best non-blocking target (green threads or an event loop) over "
                "the best blocking one (processes or threads), named where it wins, with the "
                f"margin; purple where non-blocking wins, orange where blocking does, on a log "
                f"scale. Within {formats.percent(EVEN)} either way is called even. Grey: no "
                "comparison (one side has no valid level there).",
                margin(level, lambda s: s.margin, boundary=False),
            ),
            Chart(
                f"{at}-event-loop",
                f"The event loop against blocking, at {users}",
                "The same reading for the event loop alone against the best blocking target. "
                "The black line is the boundary: right of it (more wait), the event loop wins "
                "at every wait measured along that row.",
                margin(level, lambda s: s.event_loop, boundary=True),
            ),
            Chart(
                f"{at}-surfaces",
                f"Each target's throughput, at {users}",
                "One small map per target: its successful requests per second in each cell "
                "(one colour scale for all, logarithmic) and its efficiency, that rate over its "
                "tightest bound. Grey with no number: not a result there.",
                surfaces(view, level),
            ),
        )
    return found


def margin(
    level: Level, compare: Callable[[Square], Comparison | None], *, boundary: bool
) -> Figure:
    rows = level.rows
    found = [[compare(s) if s else None for s in row] for row in rows]
    z = [[_log(c.ratio) if c and not c.open else None for c in row] for row in found]
    reach = max([abs(v) for row in z for v in row if v is not None] + [math.log10(2)])
    reach = math.ceil(reach * 10) / 10
    ticks = [t for t in RATIO_TICKS if abs(math.log10(t)) <= reach + 1e-9]
    figure = go.Figure(layout=_layout(level, rows=len(rows)))
    figure.add_trace(
        go.Heatmap(
            x=list(range(len(level.waits_ms))),
            y=list(range(len(level.cpu_ms))),
            z=z,
            zmin=-reach,
            zmax=reach,
            zmid=0,
            colorscale=DIVERGING,
            hoverongaps=True,
            hovertext=[
                [_lines(_margin_hover(level, s, c)) for s, c in zip(r, f, strict=True)]
                for r, f in zip(rows, found, strict=True)
            ],
            hovertemplate="%{hovertext}<extra></extra>",
            colorbar={
                "title": {"text": "non-blocking ÷ blocking", "side": "right"},
                "tickvals": [_round(math.log10(t)) for t in ticks],
                "ticktext": [f"{t:g}×" for t in ticks],
                "thickness": 14,
            },
            name="margin",
        )
    )
    for i, row in enumerate(found):
        for j, item in enumerate(row):
            value = z[i][j]
            dark = value is not None and abs(value) > 0.6 * reach
            figure.add_annotation(
                x=j,
                y=i,
                text=_cell_text(item),
                showarrow=False,
                font={"size": 11, "color": "#ffffff" if dark else "#222222"},
            )
    if boundary:
        figure.add_trace(_boundary(level.by_cpu, len(level.waits_ms)))
    return _json(figure)


def _cell_text(found: Comparison | None) -> str:
    if found is None:
        return "no comparison"
    if found.open:
        return "open:<br>generator-bound"
    return _plain(found.text).replace(" ", "<br>", 1)


def _rate(reading: Reading) -> str:
    """Its req/s, written as a lower bound where the load generator was the limit."""
    if reading.rps is not None:
        return formats.rps(reading.rps)
    return f"≥ {formats.rps(reading.floor)}" if reading.floor is not None else "not a result"


def _boundary(lines: Sequence[Line], columns: int) -> go.Scatter:
    """A staircase along the cell edges: left of the wait from which the event loop wins,
    for each CPU row; broken at a row where it wins nowhere the line could be drawn."""
    x: list[float | None] = []
    y: list[float | None] = []
    for i, line in enumerate(lines):
        if not line.read:
            x.append(None)
            y.append(None)
            continue
        start = line.wins_from
        column = columns if start is None else line.along.index(start)
        x += [column - 0.5, column - 0.5]
        y += [i - 0.5, i + 0.5]
    return go.Scatter(
        x=x,
        y=y,
        mode="lines",
        name="the boundary: the event loop wins right of it",
        line={"color": BOUNDARY_COLOUR, "width": 3},
        connectgaps=False,
        hoverinfo="skip",
        showlegend=True,
    )


def surfaces(view: MapView, level: Level) -> Figure:
    columns = min(3, len(view.targets))
    rows_of_plots = math.ceil(len(view.targets) / columns)
    figure = make_subplots(
        rows=rows_of_plots,
        cols=columns,
        subplot_titles=[_plain(f"{t} ({view.models[t] or 'unknown'})") for t in view.targets],
        horizontal_spacing=0.06,
        vertical_spacing=0.12 if rows_of_plots > 1 else 0.1,
    )
    rates = [r.at_least for s in level.squares for r in s.readings if r.at_least]
    low = math.log10(min(rates)) if rates else 0.0
    high = math.log10(max(rates)) if rates else 1.0
    high = max(high, low + 0.1)
    for number, target in enumerate(view.targets):
        row, column = divmod(number, columns)
        readings = [
            [next((r for r in s.readings if r.target == target), None) if s else None for s in line]
            for line in level.rows
        ]
        z = [[_log(r.at_least) if r and r.at_least else None for r in line] for line in readings]
        figure.add_trace(
            go.Heatmap(
                x=list(range(len(level.waits_ms))),
                y=list(range(len(level.cpu_ms))),
                z=z,
                coloraxis="coloraxis",
                hoverongaps=True,
                hovertext=[
                    [
                        _lines(_surface_hover(target, level, s, r))
                        for s, r in zip(sq, rd, strict=True)
                    ]
                    for sq, rd in zip(level.rows, readings, strict=True)
                ],
                hovertemplate="%{hovertext}<extra></extra>",
                name=_plain(target),
            ),
            row=row + 1,
            col=column + 1,
        )
        for i, line in enumerate(readings):
            for j, reading in enumerate(line):
                shade = z[i][j]
                dark = shade is not None and (shade - low) / (high - low) < 0.5
                figure.add_annotation(
                    x=j,
                    y=i,
                    text=_surface_text(reading),
                    showarrow=False,
                    font={"size": 10, "color": "#ffffff" if dark else "#222222"},
                    row=row + 1,
                    col=column + 1,
                )
    figure.update_layout(
        _layout(level, rows=len(level.cpu_ms) * rows_of_plots, small=True),
        coloraxis={
            "colorscale": "Viridis",
            "cmin": low,
            "cmax": high,
            "colorbar": {
                "title": {"text": "req/s (log)", "side": "right"},
                "tickvals": _rate_ticks(low, high),
                "ticktext": [f"{10**t:,.0f}" for t in _rate_ticks(low, high)],
                "thickness": 14,
            },
        },
    )
    _axes(figure, level, small=True)
    return _json(figure)


def _rate_ticks(low: float, high: float) -> list[float]:
    ticks = [
        math.log10(m * 10.0**e)
        for e in range(math.floor(low), math.ceil(high) + 1)
        for m in (1, 2, 5)
        if low - 1e-9 <= math.log10(m * 10.0**e) <= high + 1e-9
    ]
    return [_round(t) or 0.0 for t in ticks] or [_round(low) or 0.0]


def _surface_text(reading: Reading | None) -> str:
    if reading is None or reading.point is None:
        return "not measured"
    if reading.rps is None:
        # A floor is drawn at what it served, and says it was the generator's limit.
        return f"{_rate(reading)}<br>generator" if reading.floor is not None else "not a result"
    return f"{formats.rps(reading.rps)}<br>{formats.percent(reading.efficiency)}"


def _layout(level: Level, *, rows: int, small: bool = False) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "template": "none",
        "height": max(320, rows * (CELL_HEIGHT * 0.7 if small else CELL_HEIGHT) + 150),
        "font": {"family": FONT, "size": 13, "color": "#222222"},
        "paper_bgcolor": "#ffffff",
        "plot_bgcolor": GAP_COLOUR,
        "margin": {"l": 80, "r": 20, "t": 40, "b": 70},
        "hovermode": "closest",
        "hoverlabel": {"align": "left", "font": {"size": 12}},
        "legend": {"orientation": "h", "x": 0, "y": -0.2, "yanchor": "top"},
    }
    if not small:
        layout["xaxis"] = _x_axis(level)
        layout["yaxis"] = _y_axis(level)
    return layout


def _x_axis(level: Level, title: bool = True) -> dict[str, Any]:
    axis: dict[str, Any] = {
        "tickvals": list(range(len(level.waits_ms))),
        "ticktext": [f"{w:g} ms" for w in level.waits_ms],
        "range": [-0.5, len(level.waits_ms) - 0.5],
        "showgrid": False,
        "zeroline": False,
        "ticks": "",
    }
    if title:
        axis["title"] = {"text": "wait per request"}
    return axis


def _y_axis(level: Level, title: bool = True) -> dict[str, Any]:
    axis: dict[str, Any] = {
        "tickvals": list(range(len(level.cpu_ms))),
        "ticktext": [cpu_words(c) for c in level.cpu_ms],
        "range": [-0.5, len(level.cpu_ms) - 0.5],
        "showgrid": False,
        "zeroline": False,
        "ticks": "",
    }
    if title:
        axis["title"] = {"text": "CPU per request (nominal)"}
    return axis


def _axes(figure: go.Figure, level: Level, *, small: bool) -> None:
    figure.update_xaxes(_x_axis(level, title=not small))
    figure.update_yaxes(_y_axis(level, title=not small))


def _margin_hover(level: Level, square: Square | None, found: Comparison | None) -> list[str]:
    if square is None:
        return ["the map has no cell here"]
    lines = [_where(level, square)]
    if found is None:
        lines.append("no comparison: one side has no valid level here")
    else:
        lines += [
            f"{found.challenger.target}: {_rate(found.challenger)} req/s",
            f"best blocking, {found.blocking.target}: {_rate(found.blocking)} req/s",
            found.text if found.open else f"ratio {formats.ratio(found.ratio)}: {found.text}",
        ]
        floors = [r for r in (found.challenger, found.blocking) if r.rps is None]
        lines += [
            f"{r.target}: the load generator was the limit ({'; '.join(r.reasons)})" for r in floors
        ]
    for reading in square.not_compared:
        lines.append(f"not compared: {reading.target} ({'; '.join(reading.reasons)})")
    return lines


def _surface_hover(
    target: str, level: Level, square: Square | None, reading: Reading | None
) -> list[str]:
    if square is None or reading is None:
        return [target, "the map has no cell here"]
    lines = [target, _where(level, square)]
    if reading.rps is None:
        if reading.floor is not None:
            lines.append(f"{_rate(reading)} req/s: served at least this much")
        lines.append(f"not a result: {'; '.join(reading.reasons)}")
        return lines
    lines.append(
        f"{formats.rps(reading.rps)} req/s, efficiency {formats.percent(reading.efficiency)}"
    )
    if reading.binding:
        lines.append(f"limited by {reading.binding}")
    if reading.demand_ms is not None:
        lines.append(f"measured CPU per request {formats.ms(reading.demand_ms)}")
    return lines


def _where(level: Level, square: Square) -> str:
    cell = square.cell
    return f"{cell.wait_ms:g} ms wait, {cpu_words(cell.cpu_ms)} CPU, {formats.users(level.users)}"


def _log(value: float | None) -> float | None:
    return None if value is None or value <= 0 else _round(math.log10(value))
