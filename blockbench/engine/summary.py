"""The terminal summary at the end of a run: per scenario, each target's req/s per level
against its tightest bound, and what limited it at its peak; invalid levels marked as such
rather than shown as results."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from rich import box
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

from blockbench import results

_MARKS = {
    "generator_saturated": "gen saturated",
    "near_generator_ceiling": "near gen ceiling",
    "failures_above_threshold": "failures",
    "no_successes": "no successes",
    "upstream_bound": "upstream bound",
    "database_bound": "database bound",
    "utilisation_law_off": "utilisation law off",
    "target_unsampled": "not sampled",
    "schedule_fell_behind": "schedule late",
}


# A level not sent because a lower one was far past saturation (an open loop's sweep).
SKIPPED = "[dim]skipped: past saturation[/]"


def _cell_text(
    aggregate: results.Aggregate | None, levels: list[results.LevelResult], skipped: bool = False
) -> str:
    if aggregate is None:
        return SKIPPED if skipped else "-"
    if not aggregate.valid:
        return _invalid(levels)
    text = _rps(aggregate)
    if aggregate.efficiency is not None:
        text += f" [dim]{aggregate.efficiency:.0%}[/]"
    return text


def _invalid(levels: list[results.LevelResult]) -> str:
    flags = sorted({flag for level in levels for flag in level.flags})
    return f"[red]invalid: {', '.join(_MARKS.get(flag, flag) for flag in flags)}[/]"


def _rps(aggregate: results.Aggregate) -> str:
    text = f"{aggregate.rps:,.0f}"
    if aggregate.repeats > 1:
        text += f" [dim]({aggregate.rps_low:,.0f}-{aggregate.rps_high:,.0f})[/]"
    return text


_TITLE = (
    "{}: successful req/s at each number of users, and the share of the tightest bound it reached"
)


@dataclass(frozen=True)
class _Shown:
    """One scenario as the summary shows it: its targets (first repeats), its levels, and the
    run's aggregates and levels to look each one up in."""

    scenario: str
    cells: list[results.Cell]
    users: list[int]
    aggregates: Mapping[tuple[str, str, int], results.Aggregate]
    levels: Mapping[tuple[str, str, int], list[results.LevelResult]]

    def aggregate(self, cell: results.Cell, users: int) -> results.Aggregate | None:
        return self.aggregates.get((self.scenario, cell.target, users))

    def levels_at(self, cell: results.Cell, users: int) -> list[results.LevelResult]:
        return self.levels.get((self.scenario, cell.target, users), [])


def tables(run: results.Run, width: int | None = None) -> list[Table]:
    """Per scenario, a table of its targets' levels and one of what limited each.

    A row per target and a column per level where that fits ``width``; where it does not (80
    columns, seven levels), a row per level, so that no number is ever cut.
    """
    by_key = {(a.scenario, a.target, a.users): a for a in run.aggregates}
    levels_by_key: dict[tuple[str, str, int], list[results.LevelResult]] = {}
    for cell in run.cells:
        for result in cell.levels:
            key = (cell.scenario, cell.target, result.users)
            levels_by_key.setdefault(key, []).append(result)
    out = []
    for scenario in run.scenarios:
        # Each target's first repeat, whatever the repeats are numbered from.
        first: dict[str, results.Cell] = {}
        for cell in sorted(run.cells, key=lambda cell: cell.repeat):
            if cell.scenario == scenario:
                first.setdefault(cell.target, cell)
        cells = list(first.values())
        users = sorted({level for cell in cells for level in cell.planned_levels})
        shown = _Shown(scenario, cells, users, by_key, levels_by_key)
        table = _wide(shown)
        if width is not None and _width(table) > width:
            table = _long(shown)
        out += [table, _limits(scenario, cells, run.aggregates)]
    return out


def _width(table: Table) -> int:
    console = Console(width=10_000)
    return Measurement.get(console, console.options, table).maximum


def _name(cell: results.Cell) -> str:
    return cell.target + (f" [red]({cell.error.splitlines()[0]})[/]" if cell.error else "")


def _model(cell: results.Cell) -> str:
    capacity = "unbounded" if cell.capacity is None else str(cell.capacity)
    return f"{cell.model or '-'} ({capacity})"


def _wide(shown: _Shown) -> Table:
    table = Table(title=_TITLE.format(shown.scenario), title_justify="left")
    table.add_column("target", no_wrap=True)
    table.add_column("model (capacity)", no_wrap=True)
    for level in shown.users:
        table.add_column(str(level), justify="right", no_wrap=True)
    for cell in shown.cells:
        row = [
            _cell_text(
                shown.aggregate(cell, level),
                shown.levels_at(cell, level),
                skipped=level in cell.skipped_past_saturation,
            )
            for level in shown.users
        ]
        table.add_row(_name(cell), _model(cell), *row)
    return table


def _long(shown: _Shown) -> Table:
    """A row per level: narrow enough for 80 columns whatever the number of levels."""
    table = Table(title=_TITLE.format(shown.scenario), title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("target (model, capacity)")
    table.add_column("users", justify="right", no_wrap=True)
    table.add_column("req/s", justify="right")
    table.add_column("of bound", justify="right", no_wrap=True)
    for cell in shown.cells:
        for index, level in enumerate(shown.users):
            aggregate = shown.aggregate(cell, level)
            label = "" if index else f"{_name(cell)} [dim]{_model(cell)}[/]"
            if aggregate is None:
                skipped = level in cell.skipped_past_saturation
                table.add_row(label, str(level), SKIPPED if skipped else "-", "")
            elif not aggregate.valid:
                table.add_row(label, str(level), _invalid(shown.levels_at(cell, level)), "")
            else:
                share = "" if aggregate.efficiency is None else f"{aggregate.efficiency:.0%}"
                table.add_row(label, str(level), _rps(aggregate), share)
        table.add_section()
    return table


def _limits(scenario: str, cells: list[results.Cell], aggregates: list[results.Aggregate]) -> Table:
    """What limited each target at its peak: the binding bound, narrow enough for 80 columns."""
    table = Table(
        title=f"{scenario}: what limited each target at its peak",
        title_justify="left",
        box=box.SIMPLE_HEAD,
    )
    table.add_column("target", no_wrap=True)
    table.add_column("limited by")
    table.add_column("bound req/s", justify="right", no_wrap=True)
    table.add_column("at users", justify="right", no_wrap=True)
    for cell in cells:
        mine = [a for a in aggregates if (a.scenario, a.target) == (scenario, cell.target)]
        # The valid level that served the most; the lower one on a tie.
        valid = sorted((a for a in mine if a.valid), key=lambda a: a.users)
        peak = max(valid, key=lambda a: a.rps, default=None)
        if peak is None or peak.binding is None:
            table.add_row(cell.target, "-", "-", "-")
            continue
        bound = f"{peak.ceiling_rps:,.0f}" if peak.ceiling_rps is not None else "-"
        table.add_row(cell.target, peak.binding, bound, str(peak.users))
    return table


# Levels something other than the target held back, and what to say about them.
_HELD_BACK: tuple[tuple[frozenset[str], str], ...] = (
    (
        frozenset({"generator_saturated", "near_generator_ceiling"}),
        "with the load generator saturated or near its own ceiling: they are marked invalid, "
        "not results. Add --processes or a bigger machine.",
    ),
    (
        frozenset({"upstream_bound", "database_bound"}),
        "with the upstream service or PostgreSQL at their own limit: they are marked invalid, "
        "not results. Give that service more CPU, or measure fewer users.",
    ),
)


def generator_text(run: results.Run) -> str:
    """What sent the load: Locust processes, or a master's workers and where they ran."""
    generator = run.load_generator
    if generator is None or generator.mode == "processes":
        count = run.generator_processes
        return f"{count} Locust {'process' if count == 1 else 'processes'}"
    workers = generator.local + generator.remote_workers
    text = f"a Locust master with {workers} worker{'s' if workers != 1 else ''}"
    if generator.remote_workers:
        text += f", {generator.remote_workers} of them remote"
    if generator.worker_hosts:
        text += " on " + ", ".join(f"{host} ({n})" for host, n in generator.worker_hosts.items())
    return text


def show(run: results.Run, console: Console) -> None:
    for table in tables(run, console.width):
        console.print(table)
    if run.generator_ceiling_rps is not None:
        console.print(
            f"Load generator ceiling: {run.generator_ceiling_rps:,.0f} req/s "
            f"({generator_text(run)}, against the 0 ms upstream)."
        )
    for flags, warning in _HELD_BACK:
        held = [level for cell in run.cells for level in cell.levels if flags & set(level.flags)]
        if held:
            counted = "1 level was" if len(held) == 1 else f"{len(held)} levels were"
            console.print(f"[bold red]{counted} measured {warning}[/]")
