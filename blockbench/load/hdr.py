"""HDR histograms of an open-loop level's latencies: recorded in microseconds to 3 significant
digits by each Locust process, carried as HdrHistogram's compressed base64 text in its level
line, and merged exactly by the harness (decode and add), which a percentile of percentiles
could not be."""

from __future__ import annotations

from collections.abc import Iterable

from hdrh.histogram import HdrHistogram

# From 1 µs to an hour: any latency a level can see, Locust's 60 s timeout included, many times.
LOWEST_US = 1
HIGHEST_US = 3_600_000_000
SIGNIFICANT_DIGITS = 3
# The percentiles a level reports (schema.Percentiles), by field name.
PERCENTILES = {"p50": 50.0, "p90": 90.0, "p99": 99.0, "p999": 99.9}


def new() -> HdrHistogram:
    return HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)


def record_ms(histogram: HdrHistogram, ms: float) -> None:
    """Record ``ms`` milliseconds, clamped into the histogram's range (0 ms counts as 1 µs)."""
    histogram.record_value(min(max(round(ms * 1000), LOWEST_US), HIGHEST_US))


def encode(histogram: HdrHistogram) -> str:
    encoded: bytes = histogram.encode()
    return encoded.decode("ascii")


def decode(text: str) -> HdrHistogram:
    histogram: HdrHistogram = HdrHistogram.decode(text.encode("ascii"))
    return histogram


def merge(texts: Iterable[str]) -> HdrHistogram:
    """The encoded histograms of several processes as one."""
    merged = new()
    for text in texts:
        merged.add(decode(text))
    return merged


def count(histogram: HdrHistogram) -> int:
    total: int = histogram.get_total_count()
    return total


def percentiles_ms(histogram: HdrHistogram) -> dict[str, float] | None:
    """p50, p90, p99, p99.9 and max in milliseconds; None for an empty histogram."""
    if not count(histogram):
        return None
    found = {name: histogram.get_value_at_percentile(at) / 1000 for name, at in PERCENTILES.items()}
    found["max"] = histogram.get_max_value() / 1000
    return found


def count_above_ms(histogram: HdrHistogram, ms: float) -> int:
    """How many values recorded certainly exceed ``ms``: those whose bucket (3 significant
    digits) lies wholly above it, so a value at the limit is never counted."""
    limit = ms * 1000
    above = 0
    for item in histogram.get_recorded_iterator():
        if histogram.get_lowest_equivalent_value(item.value_iterated_to) > limit:
            above += item.count_added_in_this_iter_step
    return above
