from __future__ import annotations

from blockbench.apps.cpu import spin


def test_spin_is_deterministic_and_depends_on_work() -> None:
    assert spin(0) == 1
    assert spin(1000) == spin(1000)
    assert spin(1000) != spin(1001)
