"""A level across its repeats: medians of the valid ones, with a bootstrap interval."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from blockbench.load import stats
from blockbench.results.schema import Aggregate, Cell, LevelResult


def aggregate(cells: Sequence[Cell]) -> list[Aggregate]:
    """Each (scenario, target, users) across repeats: medians and a bootstrap interval.

    Only valid levels count; where no repeat was valid the aggregate says so (valid=False)
    and carries the invalid numbers for the report to grey out, never to rank.
    """
    groups: dict[tuple[str, str, int], list[LevelResult]] = {}
    for cell in cells:
        for level in cell.levels:
            groups.setdefault((cell.scenario, cell.target, level.users), []).append(level)
    aggregates = []
    for (scenario, target, users), levels in groups.items():
        valid = [level for level in levels if level.valid]
        chosen = valid or levels
        middle, low, high = stats.median_interval([level.rps for level in chosen])
        aggregates.append(
            Aggregate(
                scenario=scenario,
                target=target,
                users=users,
                repeats=len(chosen),
                valid=bool(valid),
                rps=round(middle, 2),
                rps_low=round(low, 2),
                rps_high=round(high, 2),
                p50_ms=_median([level.latency.p50 for level in chosen]),
                p99_ms=_median([level.latency.p99 for level in chosen]),
                efficiency=_median([level.efficiency for level in chosen]),
                ceiling_rps=_median([level.ceiling_rps for level in chosen]),
                binding=_most_common([level.binding for level in chosen]),
            )
        )
    return aggregates


def _most_common(values: Sequence[str | None]) -> str | None:
    present = [value for value in values if value is not None]
    return statistics.mode(present) if present else None


def _median(values: Sequence[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return round(statistics.median(present), 4) if present else None
