from __future__ import annotations

import pytest

from blockbench.load import stats


def test_percentiles_follow_locusts_rule() -> None:
    histogram = {100: 98, 110: 1, 500: 1}
    assert stats.percentile(histogram, 0.5) == 100
    assert stats.percentile(histogram, 0.99) == 110
    assert stats.percentile(histogram, 1.0) == 500
    assert stats.percentile({}, 0.5) is None


def test_merge_adds_counts() -> None:
    assert stats.merge([{100: 2, 110: 1}, {100: 3, 120: 4}]) == {100: 5, 110: 1, 120: 4}


def test_mean() -> None:
    assert stats.mean({100: 1, 200: 3}) == pytest.approx(175)
    assert stats.mean({}) is None


def test_median_interval_contains_the_median_and_is_reproducible() -> None:
    values = [100.0, 104.0, 98.0, 150.0, 101.0]
    middle, low, high = stats.median_interval(values)
    assert middle == 101.0
    assert low <= middle <= high
    assert (low, high) != (middle, middle)
    assert stats.median_interval(values) == (middle, low, high)
    assert stats.median_interval([7.0]) == (7.0, 7.0, 7.0)
    with pytest.raises(ValueError):
        stats.median_interval([])
