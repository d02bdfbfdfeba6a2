"""How numbers read on report pages and in the terminal: one place, so a page and a table agree."""

from __future__ import annotations

import datetime as dt

MISSING = "—"


def rps(value: float | None) -> str:
    """Requests per second with the digits that mean something at that size."""
    if value is None:
        return MISSING
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def ms(value: float | None) -> str:
    if value is None:
        return MISSING
    if value >= 10:
        return f"{value:,.0f} ms"
    return f"{value:.1f} ms"


def duration(value_ms: float | None) -> str:
    """A latency in the unit that reads at its size: 120 ms, 1.5 s, 12 s."""
    if value_ms is None or value_ms < 1000:
        return ms(value_ms)
    seconds = value_ms / 1000
    return f"{seconds:,.0f} s" if seconds >= 10 else f"{seconds:.2g} s"


def ratio(value: float | None) -> str:
    if value is None:
        return MISSING
    if value >= 10:
        return f"{value:,.0f}×"
    # Near 1 the second digit is the news: 1.03× is not 1.0×.
    if value >= 2:
        return f"{value:.1f}×"
    return f"{value:.2f}×"


def percent(fraction: float | None) -> str:
    """A share as a percentage; small shares keep the digits that tell 0.2% from 0.9%."""
    if fraction is None:
        return MISSING
    value = fraction * 100
    if value == 0:
        return "0%"
    if abs(value) < 1:
        return f"{value:.2f}%"
    if abs(value) < 10:
        return f"{value:.1f}%"
    return f"{value:.0f}%"


def change(fraction: float | None) -> str:
    """A relative change, signed: +12%, -3.4%."""
    if fraction is None:
        return MISSING
    text = percent(abs(fraction))
    return f"+{text}" if fraction >= 0 else f"-{text}"


def mib(value: float | None) -> str:
    if value is None:
        return MISSING
    if abs(value) < 1:
        return f"{value * 1024:.0f} KiB"
    if abs(value) < 100:
        return f"{value:.1f} MiB"
    return f"{value:,.0f} MiB"


def cpu(value: float | None) -> str:
    """CPU where 100% is one core busy, as psutil counts it."""
    if value is None:
        return MISSING
    return f"{value:.0f}%"


def number(value: float | None) -> str:
    """A bare number to three significant digits, for tables that name the unit once."""
    if value is None:
        return MISSING
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def count(value: int | None) -> str:
    return MISSING if value is None else f"{value:,}"


def users(value: int) -> str:
    """A level as words: 1 user, 1,000 users."""
    return f"{value:,} user" if value == 1 else f"{value:,} users"


def moment(iso: str | None) -> str:
    """An ISO 8601 time as a reader writes it: 2025-03-08 10:15 UTC; other text as it is."""
    if not iso:
        return MISSING
    try:
        when = dt.datetime.fromisoformat(iso)
    except ValueError:
        return iso
    if when.utcoffset() == dt.timedelta(0):
        return f"{when:%Y-%m-%d %H:%M} UTC"
    return f"{when:%Y-%m-%d %H:%M %z}" if when.tzinfo else f"{when:%Y-%m-%d %H:%M}"
