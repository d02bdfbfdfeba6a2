"""The validity rules: each flag from its own rule, and the one saturation rule's consequence."""

from __future__ import annotations

from typing import Any

import pytest

from blockbench import results


@pytest.mark.parametrize(
    ("change", "flag"),
    [
        ({"successes": 0}, "no_successes"),
        ({"failure_rate": 0.02}, "failures_above_threshold"),
        ({"generator_cpu": 95.0}, "generator_saturated"),
        ({"rps": 850.0}, "near_generator_ceiling"),
    ],
)
def test_each_validity_rule(change: dict[str, float], flag: results.Flag) -> None:
    fine: dict[str, float] = {
        "successes": 100,
        "failure_rate": 0.0,
        "rps": 500.0,
        "generator_cpu": 50.0,
    }
    assert results.flags_for(**fine, generator_ceiling_rps=1000.0) == []  # type: ignore[arg-type]
    flags = results.flags_for(**{**fine, **change}, generator_ceiling_rps=1000.0)  # type: ignore[arg-type]
    assert flags == [flag]


def _service(
    busiest: float, mean: float, cpus: int = 1, calls: float | None = None
) -> results.Service:
    resources = results.Resources(
        samples=4,
        cpu_percent_mean=mean,
        cpu_percent_max=busiest,
        rss_mib_max=10.0,
        threads_max=1,
        processes_max=1,
    )
    return results.Service(
        resources=resources, busiest_cpu_percent=busiest, cpus=cpus, calls_rps=calls
    )


def _flags_of_a_fine_level(**changes: Any) -> list[results.Flag]:
    """The flags of a level that is fine in every other way but ``changes`` (its services)."""
    fine: dict[str, Any] = {
        "successes": 100,
        "failure_rate": 0.0,
        "rps": 500.0,
        "generator_cpu": 50.0,
        "generator_ceiling_rps": None,
    }
    return results.flags_for(**{**fine, **changes})


def test_a_level_whose_target_went_unsampled_is_flagged() -> None:
    assert _flags_of_a_fine_level(target_unsampled=True) == ["target_unsampled"]
    assert _flags_of_a_fine_level(target_unsampled=False) == []


@pytest.mark.parametrize(
    ("upstream", "ceiling", "flagged"),
    [
        (_service(busiest=50, mean=40, calls=1000), 10_000.0, False),
        (_service(busiest=92, mean=80, calls=1000), 10_000.0, True),  # its CPU is full
        (_service(busiest=50, mean=40, calls=8500), 10_000.0, True),  # near its ceiling
        (_service(busiest=50, mean=40, calls=8500), None, False),  # no ceiling measured
    ],
)
def test_a_level_the_upstream_held_back_is_flagged(
    upstream: results.Service, ceiling: float | None, flagged: bool
) -> None:
    flags = _flags_of_a_fine_level(upstream=upstream, upstream_ceiling_rps=ceiling)
    assert flags == (["upstream_bound"] if flagged else [])


@pytest.mark.parametrize(
    ("database", "flagged"),
    [
        (_service(busiest=95, mean=95, cpus=2), False),  # one backend busy of two CPUs
        (_service(busiest=99, mean=185, cpus=2), True),
        (_service(busiest=99, mean=95, cpus=1), True),
    ],
)
def test_a_level_postgresql_held_back_is_flagged(database: results.Service, flagged: bool) -> None:
    flags = _flags_of_a_fine_level(database=database)
    assert flags == (["database_bound"] if flagged else [])


@pytest.mark.parametrize(("cpu", "saturated"), [(None, False), (89.9, False), (90.0, True)])
def test_one_saturation_rule_for_the_field_and_the_flag(cpu: float | None, saturated: bool) -> None:
    # The engine records Generator.saturated with this rule and flags_for flags with it: a
    # level never says it was saturated without being flagged, nor the other way round.
    assert results.generator_saturated(cpu) is saturated
    flags = _flags_of_a_fine_level(generator_cpu=cpu)
    assert flags == (["generator_saturated"] if saturated else [])


def test_a_service_not_sampled_has_no_cpu_share_and_is_not_bound() -> None:
    unsampled = results.Service(resources=None, busiest_cpu_percent=None, cpus=2)
    assert results.cpu_share(unsampled) is None
    assert not results.database_bound(unsampled)
    assert results.cpu_share(_service(busiest=99, mean=150, cpus=2)) == 0.75
