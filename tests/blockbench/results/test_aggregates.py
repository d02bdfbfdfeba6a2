"""Aggregates across repeats: the median of the valid ones, never of a flagged level."""

from __future__ import annotations

from blockbench import results
from blockbench.results import aggregates
from tests.blockbench.results.test_schema import make_level, make_run


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
    (aggregate,) = aggregates.aggregate(cells)
    assert aggregate.valid and aggregate.repeats == 2
    assert aggregate.rps == 25.0  # the saturated 99 req/s is not a result
    assert aggregate.rps_low <= 25.0 <= aggregate.rps_high


def test_a_level_no_repeat_measured_validly_stays_invalid() -> None:
    cell = (
        make_run()
        .cells[0]
        .model_copy(update={"levels": [make_level(flags=["failures_above_threshold"])]})
    )
    (aggregate,) = aggregates.aggregate([cell])
    assert not aggregate.valid
    assert results.Aggregate.model_validate(aggregate.model_dump()) == aggregate
