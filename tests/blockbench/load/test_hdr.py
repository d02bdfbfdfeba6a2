"""HDR histograms as the open loop carries them: exact through encoding and merging."""

from __future__ import annotations

import random

import pytest
from hdrh.histogram import HdrHistogram

from blockbench.load import hdr


def recorded(values_ms: list[float]) -> HdrHistogram:
    histogram = hdr.new()
    for ms in values_ms:
        hdr.record_ms(histogram, ms)
    return histogram


def test_encoding_keeps_every_count() -> None:
    values = [random.Random(3).expovariate(1 / 150) for _ in range(5000)]
    histogram = recorded(values)
    back = hdr.decode(hdr.encode(histogram))
    assert hdr.count(back) == 5000
    assert hdr.percentiles_ms(back) == hdr.percentiles_ms(histogram)


def test_merging_processes_equals_recording_them_in_one() -> None:
    rng = random.Random(4)
    parts = [[rng.lognormvariate(4, 1) for _ in range(2000)] for _ in range(3)]
    merged = hdr.merge(hdr.encode(recorded(part)) for part in parts)
    together = recorded([value for part in parts for value in part])
    assert hdr.count(merged) == 6000
    assert hdr.percentiles_ms(merged) == hdr.percentiles_ms(together)
    # A percentile of percentiles would not be: the merged p99 is not the processes' mean p99.
    p99s = [p99(recorded(part)) for part in parts]
    assert p99(merged) != pytest.approx(sum(p99s) / 3, rel=1e-6)


def p99(histogram: HdrHistogram) -> float:
    found = hdr.percentiles_ms(histogram)
    assert found is not None
    return found["p99"]


def test_three_significant_digits_in_microseconds() -> None:
    found = hdr.percentiles_ms(recorded([0.0, 1.234, 100.0, 12_345.6]))
    assert found is not None
    # 0 ms is recorded as 1 µs; the rest to 3 significant digits (0.1%).
    assert found["p50"] == pytest.approx(1.234, rel=1e-3)
    assert found["max"] == pytest.approx(12_345.6, rel=1e-3)
    assert hdr.percentiles_ms(hdr.new()) is None


def test_counting_above_a_limit_never_counts_a_value_at_it() -> None:
    histogram = recorded([5.0, 10.0, 10.02, 11.0, 500.0])
    assert hdr.count_above_ms(histogram, 10.0) == 3
    assert hdr.count_above_ms(histogram, 1000.0) == 0
    assert hdr.count_above_ms(histogram, 0.0) == 5
