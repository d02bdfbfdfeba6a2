"""The engine's bookkeeping on stored levels: aggregates across repeats, and re-judging
validity with the current rules when a run ends."""

from __future__ import annotations

from blockbench import results
from blockbench.engine import engine
from tests.blockbench.test_results import make_level, make_run


def test_revalidate_applies_todays_rules_and_says_so() -> None:
    run = make_run()
    # Recorded as valid, but 30 req/s is at the generator ceiling this run measured.
    run = run.model_copy(update={"generator_ceiling_rps": 32.0})
    judged = engine.revalidate(run)
    level = judged.cells[0].levels[0]
    assert level.flags == ["near_generator_ceiling"]
    # The bounds are computed from what the level recorded, the tightest named.
    assert level.binding == level.bounds[0].name and level.ceiling_rps == level.bounds[0].rps
    assert any("1 level(s) changed" in note for note in judged.notes)
    assert engine.revalidate(judged) == judged  # nothing more to change


def test_a_started_target_that_went_unsampled_is_not_a_result() -> None:
    # Without its CPU the level has no CPU bound, so its efficiency would be measured against
    # whatever bound is left.
    run = make_run()
    unsampled = make_level().model_copy(update={"target_resources": None})
    cell = run.cells[0].model_copy(update={"levels": [unsampled]})
    judged = engine.revalidate(run.model_copy(update={"cells": [cell]}))
    assert judged.cells[0].levels[0].flags == ["target_unsampled"]
    # A target given by URL is not the harness's to sample.
    external = cell.model_copy(update={"external": True})
    judged = engine.revalidate(run.model_copy(update={"cells": [external]}))
    assert judged.cells[0].levels[0].flags == []


def test_aggregates_take_the_median_of_valid_repeats_only() -> None:
    base = make_run().cells[0]
    cells = [
        base.model_copy(update={"repeat": 0, "levels": [make_level()]}),
        base.model_copy(
            update={
                "repeat": 1,
                "levels": [make_level().model_copy(update={"repeat": 1, "rps": 20.0})],
            }
        ),
        base.model_copy(
            update={
                "repeat": 2,
                "levels": [
                    make_level(flags=["generator_saturated"]).model_copy(
                        update={"repeat": 2, "rps": 99.0}
                    )
                ],
            }
        ),
    ]
    (aggregate,) = engine.aggregate(cells)
    assert aggregate.valid and aggregate.repeats == 2
    assert aggregate.rps == 25.0  # the saturated 99 req/s is not a result
    assert aggregate.rps_low <= 25.0 <= aggregate.rps_high


def test_a_level_no_repeat_measured_validly_stays_invalid() -> None:
    cell = (
        make_run()
        .cells[0]
        .model_copy(update={"levels": [make_level(flags=["failures_above_threshold"])]})
    )
    (aggregate,) = engine.aggregate([cell])
    assert not aggregate.valid
    assert results.Aggregate.model_validate(aggregate.model_dump()) == aggregate
