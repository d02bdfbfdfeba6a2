"""Judging stored levels: bounds and validity with the current rules, as when a run ends or runs
are merged, and a run's conclusion."""

from __future__ import annotations

import pytest

from blockbench.results import judging
from tests.blockbench.results.test_schema import make_level, make_run


def test_revalidate_applies_todays_rules_and_says_so() -> None:
    run = make_run()
    # Recorded as valid, but 30 req/s is at the generator ceiling this run measured.
    run = run.model_copy(update={"generator_ceiling_rps": 32.0})
    judged = judging.revalidate(run, "today")
    level = judged.cells[0].levels[0]
    assert level.flags == ["near_generator_ceiling"]
    # The bounds are computed from what the level recorded, the tightest named.
    assert level.binding == level.bounds[0].name and level.ceiling_rps == level.bounds[0].rps
    assert any("1 level(s) changed" in note for note in judged.notes)
    assert judging.revalidate(judged, "today") == judged  # nothing more to change


def test_a_started_target_that_went_unsampled_is_not_a_result() -> None:
    # Without its CPU the level has no CPU bound, so its efficiency would be measured against
    # whatever bound is left.
    run = make_run()
    unsampled = make_level().model_copy(update={"target_resources": None})
    cell = run.cells[0].model_copy(update={"levels": [unsampled]})
    judged = judging.revalidate(run.model_copy(update={"cells": [cell]}), "today")
    assert judged.cells[0].levels[0].flags == ["target_unsampled"]
    # A target given by URL is not the harness's to sample.
    external = cell.model_copy(update={"external": True})
    judged = judging.revalidate(run.model_copy(update={"cells": [external]}), "today")
    assert judged.cells[0].levels[0].flags == []


def test_revalidate_names_the_rules_that_judged() -> None:
    run = make_run().model_copy(update={"generator_ceiling_rps": 32.0})
    judged = judging.revalidate(run, "0.1.0 (abc)")
    assert judged.notes[-1] == (
        "Bounds and validity re-computed with the rules of blockbench 0.1.0 (abc): "
        "1 level(s) changed."
    )


@pytest.mark.parametrize(
    ("planned", "interrupted", "status"),
    [([10], False, "complete"), ([10], True, "partial"), ([1, 10], False, "partial")],
)
def test_a_finished_run_is_complete_only_with_every_planned_level(
    planned: list[int], interrupted: bool, status: str
) -> None:
    run = make_run()
    run = run.model_copy(
        update={"cells": [run.cells[0].model_copy(update={"planned_levels": planned})]}
    )
    done = judging.finish(
        run, interrupted=interrupted, rules="today", finished="2026-11-28T12:00:00+00:00"
    )
    assert done.status == status
    assert done.finished == "2026-11-28T12:00:00+00:00"
    # Judged, then aggregated: the aggregate carries the bound judging found.
    (aggregate,) = done.aggregates
    level = done.cells[0].levels[0]
    assert (aggregate.users, aggregate.rps, aggregate.binding) == (10, 30.0, level.binding)
    assert level.binding is not None
