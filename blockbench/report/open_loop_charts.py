"""The open-loop page's charts: latency against the arrival rate offered, on log-log axes.

Each target's latency from the intended send is the solid line, its service time (from the
actual send) the dashed one in the same colour: the gap between them is what a closed loop
would not have seen (coordinated omission). The p99 chart carries the objective and a tick
where each target's p99 crosses it.
"""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from blockbench import formats
from blockbench.report.charts import (
    Chart,
    Figure,
    _json,
    _layout,
    _lines,
    _log_ticks,
    _plain,
    _round,
)
from blockbench.report.open_loop import Curve, Rate, ScenarioView, Value, p50, p99, rate_words
from blockbench.report.palette import INVALID_COLOUR, Style

OBJECTIVE_COLOUR = "#555555"
# How far beyond the outermost rates the objective line reaches, as a factor on the log axis.
MARGIN = 1.3


def charts(view: ScenarioView, looks: dict[str, Style], prefix: str) -> tuple[Chart, Chart]:
    objective = formats.duration(view.objective_ms)
    return (
        Chart(
            f"{prefix}-p99",
            "99th percentile against the arrival rate",
            "One colour per target. Solid: p99 from each request's intended send time, what a "
            "user arriving then waited. Dashed: p99 of the service time, from the moment it "
            "was actually sent. The gap is the latency a closed loop hides. The grey line is "
            f"the objective, p99 under {objective}; a tick on it marks the rate where a "
            "target's p99 crosses it, interpolated on log-log axes between its two valid "
            "rates either side. Hollow grey marks are levels that are not results.",
            latency(view, looks, p99, "p99", objective=True),
        ),
        Chart(
            f"{prefix}-p50",
            "Median against the arrival rate",
            "The same, at the median (p50): solid from the intended send, dashed from the "
            "actual send.",
            latency(view, looks, p50, "p50", objective=False),
        ),
    )


def latency(
    view: ScenarioView, looks: dict[str, Style], value: Value, name: str, *, objective: bool
) -> Figure:
    figure = go.Figure(layout=_layout(view.rates))
    for curve in view.curves:
        look = looks[curve.target]
        for trace in _curve(curve, look, value, name):
            figure.add_trace(trace)
        if objective:
            tick = _crossing(curve, look)
            if tick is not None:
                figure.add_trace(tick)
    if objective and view.rates:
        figure.add_trace(_objective(view))
    _legend_keys(figure, view, objective)
    figure.update_xaxes(title_text="offered arrival rate, req/s (log)")
    figure.update_yaxes(type="log", title_text=f"{name} latency, ms (log)")
    _log_ticks(figure)
    return _json(figure)


def _curve(curve: Curve, look: Style, value: Value, name: str) -> list[go.Scatter]:
    """The corrected line (a gap at each level that is not a result), the service line dashed
    beside it, and the levels that are not results as hollow grey marks."""
    rates = curve.rates
    x = [_round(rate.offered_rps) for rate in rates]
    label = _plain(curve.target)
    hover = [_lines(_hover(curve, rate, value, name)) for rate in rates]
    traces = [
        go.Scatter(
            x=x,
            y=[_round(rate.corrected(value)) if rate.valid else None for rate in rates],
            mode="lines+markers",
            name=label,
            legendgroup=curve.target,
            connectgaps=False,
            line={"color": look.colour, "width": 2, "dash": look.dash},
            marker={
                "color": look.colour,
                "symbol": look.symbol,
                "size": 8,
                "line": {"color": "#333333", "width": 0.5},
            },
            hovertext=hover,
            hovertemplate="%{hovertext}<extra></extra>",
        ),
        go.Scatter(
            x=x,
            y=[_round(rate.service(value)) if rate.valid else None for rate in rates],
            mode="lines",
            name=f"{label}: service time",
            legendgroup=curve.target,
            showlegend=False,
            connectgaps=False,
            line={"color": look.colour, "width": 1.5, "dash": "dash"},
            hovertext=hover,
            hovertemplate="%{hovertext}<extra></extra>",
        ),
    ]
    invalid = [r for r in rates if not r.valid and r.corrected(value) is not None]
    if invalid:
        traces.append(
            go.Scatter(
                x=[_round(rate.offered_rps) for rate in invalid],
                y=[_round(rate.corrected(value)) for rate in invalid],
                mode="markers",
                name=f"{label}: not a result",
                legendgroup=curve.target,
                showlegend=False,
                marker={
                    "color": INVALID_COLOUR,
                    "symbol": f"{look.symbol}-open",
                    "size": 11,
                    "line": {"width": 2},
                },
                hovertext=[
                    _lines([*_hover(curve, r, value, name), "NOT A RESULT:", *r.reasons])
                    for r in invalid
                ],
                hovertemplate="%{hovertext}<extra></extra>",
            )
        )
    return traces


def _crossing(curve: Curve, look: Style) -> go.Scatter | None:
    """A vertical tick on the objective line at the interpolated crossing rate."""
    found = curve.crossing
    if found.rate is None:
        return None
    return go.Scatter(
        x=[_round(found.rate)],
        y=[_round(found.objective_ms)],
        mode="markers",
        name=f"{_plain(curve.target)}: crosses the objective",
        legendgroup=curve.target,
        showlegend=False,
        # An open symbol is stroked in the marker's colour.
        marker={
            "symbol": "line-ns-open",
            "size": 22,
            "color": look.colour,
            "line": {"color": look.colour, "width": 3},
        },
        hovertext=[
            _lines(
                [
                    curve.target,
                    f"p99 from the intended send crosses {formats.duration(found.objective_ms)} at "
                    f"~{formats.rps(found.rate)} req/s",
                    f"interpolated on log-log axes {found.between}",
                ]
            )
        ],
        hovertemplate="%{hovertext}<extra></extra>",
    )


def _objective(view: ScenarioView) -> go.Scatter:
    offered = [rate.offered_rps for curve in view.curves for rate in curve.rates]
    return go.Scatter(
        x=[_round(min(offered) / MARGIN), _round(max(offered) * MARGIN)],
        y=[_round(view.objective_ms)] * 2,
        mode="lines",
        name=f"the objective: p99 under {formats.duration(view.objective_ms)}",
        line={"color": OBJECTIVE_COLOUR, "width": 1.5, "dash": "dot"},
        hoverinfo="skip",
    )


def _legend_keys(figure: go.Figure, view: ScenarioView, objective: bool) -> None:
    """Legend entries for the encodings, so a printed chart still explains itself."""
    keys: list[tuple[str, dict[str, Any]]] = [
        ("solid: from the intended send", {"mode": "lines", "line": {"color": "#555555"}}),
        (
            "dashed: service time, from the actual send",
            {"mode": "lines", "line": {"color": "#555555", "dash": "dash"}},
        ),
    ]
    if objective and any(curve.crossing.rate is not None for curve in view.curves):
        keys.append(
            (
                "tick: where p99 crosses the objective",
                {
                    "mode": "markers",
                    "marker": {
                        "symbol": "line-ns-open",
                        "size": 14,
                        "color": "#555555",
                        "line": {"color": "#555555", "width": 3},
                    },
                },
            )
        )
    if any(not rate.valid for curve in view.curves for rate in curve.rates):
        keys.append(
            (
                "hollow grey: not a result (hover for why)",
                {
                    "mode": "markers",
                    "marker": {"color": INVALID_COLOUR, "symbol": "circle-open", "size": 11},
                },
            )
        )
    for name, style in keys:
        figure.add_trace(go.Scatter(x=[None], y=[None], name=name, hoverinfo="skip", **style))


def _hover(curve: Curve, rate: Rate, value: Value, name: str) -> list[str]:
    return [
        curve.target,
        f"offered {rate_words(rate.offered_rps)} req/s, served {formats.rps(rate.rps)} req/s",
        f"{name} from the intended send {formats.duration(rate.corrected(value))}",
        f"{name} service time {formats.duration(rate.service(value))}",
        f"{formats.count(rate.late)} of {formats.count(rate.scheduled)} sends late, "
        f"at most {formats.count(rate.max_in_flight)} in flight",
    ]
