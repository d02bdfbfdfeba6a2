from __future__ import annotations

import pytest

from blockbench import ceiling


@pytest.mark.parametrize(
    ("users", "capacity", "cores", "expected"),
    [
        (1, 3, None, 1),
        (10, 3, None, 3),
        (10, None, None, 10),  # an event loop: the users are the limit
        (500, 1000, None, 500),
        (10, None, 1, 1),  # CPU-bound work on one core
        (10, 3, 2, 2),
    ],
)
def test_in_flight_is_the_smallest_limit(
    users: int, capacity: int | None, cores: int | None, expected: int
) -> None:
    assert ceiling.in_flight(users, capacity, cores) == expected


def test_ceiling_is_littles_law() -> None:
    # 3 sync workers, 100 ms per request: at most 30 requests per second, whatever the users.
    assert ceiling.ceiling_rps(10, 3, 0.1) == pytest.approx(30)
    assert ceiling.ceiling_rps(1000, None, 0.1) == pytest.approx(10_000)
    assert ceiling.ceiling_rps(5, None, 0.0) is None


def test_efficiency() -> None:
    assert ceiling.efficiency(29.5, 30.0) == pytest.approx(0.98333, rel=1e-4)
    assert ceiling.efficiency(10.0, None) is None
