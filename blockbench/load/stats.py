"""Statistics over Locust's response-time histograms and over repeats of a level."""

from __future__ import annotations

import random
import statistics
from collections.abc import Mapping, Sequence
from typing import TypeVar

# Enough resamples for a stable 95% interval of a median of a handful of repeats.
BOOTSTRAP_RESAMPLES = 2000


K = TypeVar("K")


def merge(histograms: Sequence[Mapping[K, int]]) -> dict[K, int]:
    """Counts summed key by key: Locust's histograms, or its error and endpoint counts."""
    merged: dict[K, int] = {}
    for histogram in histograms:
        for value, count in histogram.items():
            merged[value] = merged.get(value, 0) + count
    return merged


def percentile(histogram: Mapping[int, int], fraction: float) -> float | None:
    """The smallest recorded value with at least ``fraction`` of the samples at or below it.

    The same rule as Locust's own percentiles, so our p99 matches its UI for one process.
    """
    total = sum(histogram.values())
    if total == 0:
        return None
    wanted = fraction * total
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= wanted:
            return float(value)
    return float(max(histogram))


def mean(histogram: Mapping[int, int]) -> float | None:
    total = sum(histogram.values())
    if total == 0:
        return None
    return sum(value * count for value, count in histogram.items()) / total


def median_interval(
    values: Sequence[float], seed: int = 0, confidence: float = 0.95
) -> tuple[float, float, float]:
    """The median and a percentile-bootstrap interval for it; a single value gives no spread.

    Seeded so that rebuilding a report from the same results gives the same numbers.
    """
    if not values:
        raise ValueError("median_interval needs at least one value")
    middle = statistics.median(values)
    if len(values) == 1:
        return middle, middle, middle
    rng = random.Random(seed)
    medians = sorted(
        statistics.median(rng.choices(values, k=len(values))) for _ in range(BOOTSTRAP_RESAMPLES)
    )
    tail = (1 - confidence) / 2
    low = medians[int(tail * (len(medians) - 1))]
    high = medians[int((1 - tail) * (len(medians) - 1))]
    return middle, low, high
