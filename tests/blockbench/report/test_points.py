from __future__ import annotations

from typing import Any

from blockbench.report.points import scenarios
from blockbench.results import Resources, Run, Service
from tests.blockbench.synthetic import make_run, without_bounds


def flag_level(run: Run, flag: str, **services: Service) -> Run:
    """The run with flask-sync's io-sleep 20 users flagged, and the services measured there."""
    cells = []
    for cell in run.cells:
        if (cell.scenario, cell.target) == ("io-sleep", "flask-sync"):
            update: dict[str, Any] = {"flags": [flag], **services}
            levels = [
                # model_copy does not validate: a flag no schema knows stays as it is.
                level.model_copy(update=update) if level.users == 20 else level
                for level in cell.levels
            ]
            cell = cell.model_copy(update={"levels": levels})
        cells.append(cell)
    return run.model_copy(update={"cells": cells})


def reasons(run: Run) -> tuple[str, ...]:
    sync = next(s for s in scenarios(run)[0].series if s.target == "flask-sync")
    point = sync.at(20)
    assert point is not None
    return point.reasons


def service(cpu_mean: float, busiest: float, cpus: int, calls: float | None = None) -> Service:
    resources = Resources(
        samples=30,
        cpu_percent_mean=cpu_mean,
        cpu_percent_max=cpu_mean,
        rss_mib_max=50.0,
        threads_max=4,
        processes_max=cpus,
    )
    return Service(resources=resources, busiest_cpu_percent=busiest, cpus=cpus, calls_rps=calls)


def test_a_bound_upstream_is_named_as_the_limit_with_its_numbers() -> None:
    upstream = service(120.0, 96.0, 2, calls=4321.0)
    (reason,) = reasons(flag_level(make_run(), "upstream_bound", upstream=upstream))
    assert reason.startswith("the upstream service was near its own limit")
    assert "busiest process at 96% CPU (limit 90%)" in reason
    assert "4,321 calls/s" in reason


def test_a_bound_database_is_named_as_the_limit_with_its_share() -> None:
    # 190% of a core on 2 CPUs: 95% of what it may use.
    (reason,) = reasons(flag_level(make_run(), "database_bound", database=service(190.0, 99, 2)))
    assert reason.startswith("PostgreSQL's CPU was saturated (95% of its CPUs, limit 90%)")


def test_a_flag_without_words_is_shown_by_its_name_not_as_another() -> None:
    (reason,) = reasons(flag_level(make_run(), "disk_full"))
    assert reason == "flagged disk full"
    assert reasons(make_run()) == ()


def test_a_point_names_its_binding_bound_with_the_arithmetic_of_a_repeat() -> None:
    sync = scenarios(make_run())[0].series[0]
    point = sync.at(20)
    assert point is not None
    assert point.binding == "worker processes"
    assert point.bound is not None
    assert point.bound.kind == "capacity"
    assert point.bound.detail.startswith("3 in flight / 100 ms waiting")


def test_without_the_runs_word_the_repeats_name_the_binding() -> None:
    run = make_run()
    aggregates = [a.model_copy(update={"binding": None}) for a in run.aggregates]
    sync = scenarios(run.model_copy(update={"aggregates": aggregates}))[0].series[0]
    assert [point.binding for point in sync.points] == [
        "users",
        "worker processes",
        "worker processes",
    ]
    blank = scenarios(without_bounds(run))[0].series[0]
    assert all(point.binding is None and point.bound is None for point in blank.points)


def test_a_level_where_the_utilisation_law_fails_says_by_how_much() -> None:
    run = make_run()
    cells = []
    for cell in run.cells:
        if (cell.scenario, cell.target) == ("io-sleep", "flask-sync"):
            levels = [
                level.model_copy(
                    update={"flags": ["utilisation_law_off"], "target_cpu_utilisation": 0.5}
                )
                if level.users == 20
                else level
                for level in cell.levels
            ]
            cell = cell.model_copy(update={"levels": levels})
        cells.append(cell)
    (reason,) = reasons(run.model_copy(update={"cells": cells}))
    assert reason.startswith("the utilisation law does not hold")
    assert "more than 15%" in reason
    assert "the kernel counted 0.50 of the target's cores busy" in reason
