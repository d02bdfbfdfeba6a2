"""Two runs side by side, say before and after an upgrade: what changed, and by more than noise?

A level changed beyond the measured spread when the two runs' 95% intervals (from their
repeats) do not overlap. With a single repeat on either side there is no spread to judge by:
the change is shown but never flagged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from rich.table import Table

from blockbench import formats
from blockbench.report import charts, palette, site
from blockbench.report.points import Point, ScenarioResults, scenarios
from blockbench.results import Run, load_run

Status = Literal["faster", "slower", "within spread", "no spread measured", "not comparable"]
FLAGGED: tuple[Status, ...] = ("faster", "slower")
STATUSES: tuple[Status, ...] = (*FLAGGED, "within spread", "no spread measured", "not comparable")


@dataclass(frozen=True)
class Change:
    scenario: str
    target: str
    users: int
    before: Point | None
    after: Point | None
    status: Status
    why: str

    @property
    def ratio(self) -> float | None:
        """After over before, in successful req/s."""
        if self.before is None or self.after is None or self.before.aggregate.rps <= 0:
            return None
        return self.after.aggregate.rps / self.before.aggregate.rps

    @property
    def change(self) -> float | None:
        ratio = self.ratio
        return None if ratio is None else ratio - 1

    @property
    def flagged(self) -> bool:
        return self.status in FLAGGED


@dataclass(frozen=True)
class Comparison:
    before: Run
    after: Run
    changes: tuple[Change, ...]
    # (what, before, after) for every setting, machine detail or package version that differs.
    environment: tuple[tuple[str, str, str], ...]

    def count(self, status: Status) -> int:
        return sum(1 for change in self.changes if change.status == status)


def compare(before: Run, after: Run) -> Comparison:
    first = {s.name: s for s in scenarios(before)}
    second = {s.name: s for s in scenarios(after)}
    found = []
    for name in dict.fromkeys([*first, *second]):
        found += _changes(first.get(name), second.get(name), name)
    return Comparison(before, after, tuple(found), _environment(before, after))


def status(before: Point | None, after: Point | None) -> tuple[Status, str]:
    if before is None or after is None:
        return "not comparable", f"measured only in {'B' if before is None else 'A'}"
    invalid = [(label, p) for label, p in (("A", before), ("B", after)) if not p.valid]
    if invalid:
        return "not comparable", "; ".join(
            f"not a result in {label}: {', '.join(point.reasons)}" for label, point in invalid
        )
    a, b = before.aggregate, after.aggregate
    if a.repeats < 2 or b.repeats < 2:
        return "no spread measured", "one repeat: no interval to judge the change by"
    if b.rps_low > a.rps_high:
        return "faster", "B's interval lies above A's"
    if b.rps_high < a.rps_low:
        return "slower", "B's interval lies below A's"
    return "within spread", "the intervals overlap"


def _changes(
    before: ScenarioResults | None, after: ScenarioResults | None, name: str
) -> list[Change]:
    series_a = {s.target: s for s in before.series} if before else {}
    series_b = {s.target: s for s in after.series} if after else {}
    found = []
    for target in dict.fromkeys([*series_a, *series_b]):
        a, b = series_a.get(target), series_b.get(target)
        levels = {p.users for p in a.points} if a else set()
        levels |= {p.users for p in b.points} if b else set()
        for users in sorted(levels):
            point_a = a.at(users) if a else None
            point_b = b.at(users) if b else None
            state, why = status(point_a, point_b)
            found.append(Change(name, target, users, point_a, point_b, state, why))
    return found


def _environment(before: Run, after: Run) -> tuple[tuple[str, str, str], ...]:
    def described(run: Run) -> dict[str, str]:
        env = run.environment
        values = {
            "profile": run.profile,
            "levels": ", ".join(map(str, run.levels)),
            "warm-up and hold": f"{run.warmup_s} s, {run.hold_s} s",
            "repeats": str(run.repeat),
            "load generator processes": str(run.generator_processes),
            "CPU": f"{env.cpu_model} ({env.cpu_count} CPUs)",
            "CPU pinning": env.pinning,
            "operating system": env.os,
            "Python": env.python,
            "blockbench commit": (env.git_commit or "unknown")
            + (" (dirty)" if env.git_dirty else ""),
        }
        values.update({f"package {name}": version for name, version in env.packages.items()})
        return values

    a, b = described(before), described(after)
    missing = formats.MISSING
    return tuple(
        (key, a.get(key, missing), b.get(key, missing))
        for key in dict.fromkeys([*a, *b])
        if a.get(key) != b.get(key)
    )


def table(comparison: Comparison) -> Table:
    """The terminal's view: every level, the flagged ones in colour."""
    grid = Table(
        title=f"A: {comparison.before.run_id}  →  B: {comparison.after.run_id}",
        caption=summary(comparison),
    )
    grid.add_column("scenario")
    grid.add_column("target", no_wrap=True)
    for column in ("users", "A req/s", "B req/s", "change"):
        grid.add_column(column, justify="right")
    grid.add_column("verdict")
    for change in comparison.changes:
        style = {"faster": "green", "slower": "red", "not comparable": "dim"}.get(change.status)
        grid.add_row(
            change.scenario,
            change.target,
            str(change.users),
            formats.rps(change.before.aggregate.rps if change.before else None),
            formats.rps(change.after.aggregate.rps if change.after else None),
            formats.change(change.change),
            change.status,
            style=style,
        )
    return grid


def summary(comparison: Comparison) -> str:
    counts = [f"{comparison.count(s)} {s}" for s in STATUSES if comparison.count(s)]
    return f"{len(comparison.changes)} levels: {', '.join(counts) or 'none'}"


def build_compare(results_dir: Path, out_dir: Path, runs: Sequence[str]) -> tuple[Comparison, Path]:
    """The page for two runs (ids or folders), their own pages, and the index."""
    if len(runs) != 2:
        raise site.ReportError(f"compare takes two runs, got {len(runs)}")
    folders = site.find_runs(results_dir, runs)
    for folder in folders:
        site.build_run_page(folder, out_dir)
    before, after = (load_run(folder) for folder in folders)
    comparison = compare(before, after)
    name = f"{site.slug(before.run_id)}--vs--{site.slug(after.run_id)}"
    page = site.render(
        "compare.html",
        out_dir / site.COMPARE / name / site.PAGE,
        base="../../",
        **context(comparison),
    )
    site.build_index(out_dir)
    return comparison, page


def context(comparison: Comparison) -> dict[str, object]:
    before, after = comparison.before, comparison.after
    looks = palette.styles(
        [*before.targets, *after.targets, *(c.target for c in comparison.changes)]
    )
    first = {s.name: s for s in scenarios(before)}
    second = {s.name: s for s in scenarios(after)}
    sections = []
    for number, name in enumerate(dict.fromkeys([*first, *second]), start=1):
        a = first.get(name, ScenarioResults(name, ()))
        b = second.get(name, ScenarioResults(name, ()))
        chart = charts.Chart(
            f"scenario-{number}-compare",
            "Throughput, A against B",
            "A solid, B dotted; each target in its colour, error bars from the repeats.",
            charts.compare_throughput(a, b, looks),
        )
        rows = [change for change in comparison.changes if change.scenario == name]
        sections.append(
            {"name": name, "anchor": f"scenario-{number}", "chart": chart, "rows": rows}
        )
    return {
        "comparison": comparison,
        "before": before,
        "after": after,
        "before_href": f"../../{site.RUNS}/{site.slug(before.run_id)}/{site.PAGE}",
        "after_href": f"../../{site.RUNS}/{site.slug(after.run_id)}/{site.PAGE}",
        "summary": summary(comparison),
        "sections": sections,
        "looks": looks,
        "statuses": STATUSES,
    }
