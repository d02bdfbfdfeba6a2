"""The migration paths of the catalogue, measured: for each pair of targets a run has (the stack
run today and the one moved to), how each scenario went on both.

Each scenario compares the two at the highest level both measured validly, so a move is never
judged by a level one side could not be measured at; their peaks are given beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from blockbench.report.points import Point, ScenarioResults, Series
from blockbench.targets.catalogue import Migration


@dataclass(frozen=True)
class Step:
    """One scenario of a path: both targets' series, and where they were compared."""

    scenario: str
    # The scenario's page, beside the run's overview.
    page: str
    before: Series
    after: Series
    # The highest level both measured validly; None when there is none.
    users: int | None

    def _at(self, series: Series) -> Point | None:
        return series.at(self.users) if self.users is not None else None

    @property
    def before_at(self) -> Point | None:
        return self._at(self.before)

    @property
    def after_at(self) -> Point | None:
        return self._at(self.after)

    @property
    def ratio(self) -> float | None:
        """The target moved to's req/s over the one moved from, at ``users``."""
        before, after = self.before_at, self.after_at
        if before is None or after is None or before.aggregate.rps <= 0:
            return None
        return after.aggregate.rps / before.aggregate.rps


@dataclass(frozen=True)
class Path:
    migration: Migration
    steps: tuple[Step, ...]


def paths(
    migrations: Sequence[Migration], scenarios: Sequence[tuple[ScenarioResults, str]]
) -> tuple[Path, ...]:
    """Each migration both of whose targets a scenario of the run measured, with the scenarios
    that measured both; ``scenarios`` are (results, page) in the run's order."""
    found = []
    for migration in migrations:
        steps = []
        for results, page in scenarios:
            by_target = {series.target: series for series in results.series}
            before, after = by_target.get(migration.before), by_target.get(migration.after)
            if before is not None and after is not None:
                steps.append(Step(results.name, page, before, after, common_level(before, after)))
        if steps:
            found.append(Path(migration, tuple(steps)))
    return tuple(found)


def common_level(before: Series, after: Series) -> int | None:
    """The highest level both series measured validly."""
    both = {p.users for p in before.valid_points} & {p.users for p in after.valid_points}
    return max(both, default=None)
