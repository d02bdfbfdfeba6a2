"""Little's law: the throughput a concurrency model can reach at best, and how close we came.

A server that can have ``capacity`` requests in flight, each taking ``latency`` seconds, cannot
complete more than ``capacity / latency`` requests per second. A closed-loop load generator with
``users`` users never has more than ``users`` requests in flight, hence ``min(users, capacity)``.
Work that needs the CPU is also capped by the cores the target may use.
"""

from __future__ import annotations


def in_flight(users: int, capacity: int | None, cores: int | None = None) -> int:
    """Requests that can be served at once: None capacity means the server sets no limit."""
    limit = users if capacity is None else min(users, capacity)
    return limit if cores is None else min(limit, cores)


def ceiling_rps(
    users: int, capacity: int | None, latency_s: float, cores: int | None = None
) -> float | None:
    """The Little's-law ceiling in requests per second; None when latency is zero or unknown."""
    if latency_s <= 0:
        return None
    return in_flight(users, capacity, cores) / latency_s


def efficiency(measured_rps: float, ceiling: float | None) -> float | None:
    if not ceiling:
        return None
    return measured_rps / ceiling
