from __future__ import annotations

import pytest

from blockbench.report.points import scenarios
from blockbench.report.verdict import headline, reference_users, verdict, verdicts
from tests.blockbench.synthetic import make_client_run, make_run

# Every model of the catalogue at the same closeness to its bound, so only the models differ.
MODELS = ("flask-sync", "flask-gthread", "flask-gevent", "starlette-uvicorn")
EVEN = {(scenario, target): 0.95 for scenario in ("io-sleep", "cpu") for target in MODELS}


def test_green_threads_are_set_against_the_best_blocking_target_not_beside_it() -> None:
    # A request holds a process (flask-sync) or an OS thread (flask-gthread) for its whole
    # wait; flask-gevent gives the wait back. So gevent, faster here, is the one compared.
    run = make_run(targets=("flask-sync", "flask-gthread", "flask-gevent"), efficiency=EVEN)
    io_sleep, cpu = verdicts(run)
    rows = {row.target: row for row in io_sleep.rows}
    assert [name for name, row in rows.items() if row.blocking] == ["flask-sync", "flask-gthread"]
    assert io_sleep.best_blocking == "flask-gthread"
    assert rows["flask-gevent"].ratio is not None and rows["flask-gevent"].ratio > 1
    assert io_sleep.sentence.startswith(
        "On io-sleep at 20 users, flask-gevent (green threads) served 1.02× flask-gthread "
        "(threads), the best blocking target:"
    )
    # On CPU work the sync workers edge ahead: processes are the best blocking target there.
    assert cpu.best_blocking == "flask-sync"
    assert "flask-gevent (green threads) served 1.03× flask-sync (processes)" in cpu.sentence


def test_event_loops_and_green_threads_alone_have_nothing_blocking_to_beat() -> None:
    run = make_run(targets=("flask-gevent", "starlette-uvicorn"), efficiency=EVEN)
    for found in verdicts(run):
        assert found.best_blocking is None
        assert all(row.ratio is None and not row.blocking for row in found.rows)
        assert "every target here is non-blocking, so there is no blocking against" in (
            found.sentence
        )


def test_processes_and_threads_alone_are_all_blocking() -> None:
    io_sleep = verdicts(make_run(targets=("flask-sync", "flask-gthread"), efficiency=EVEN))[0]
    assert io_sleep.best_blocking == "flask-gthread"
    rows = {row.target: row for row in io_sleep.rows}
    assert rows["flask-gthread"].ratio == 1.0
    # Three sync workers against 32 threads, at 100 users of 100 ms waits.
    assert rows["flask-sync"].ratio is not None and rows["flask-sync"].ratio < 0.2
    assert io_sleep.sentence == (
        "On io-sleep at 100 users, flask-gthread (threads) served the most (298 req/s); every "
        "target here is blocking, so there is no blocking against non-blocking comparison."
    )


def test_a_target_whose_model_was_not_recorded_is_not_called_blocking() -> None:
    run = make_run(targets=("flask-sync", "flask-gthread", "flask-gevent"), efficiency=EVEN)
    unnamed = [
        cell.model_copy(update={"model": None}) if cell.target == "flask-gthread" else cell
        for cell in run.cells
    ]
    io_sleep = verdicts(run.model_copy(update={"cells": unnamed}))[0]
    # Its 32 threads now count against the blocking side's best, the three sync workers.
    assert io_sleep.best_blocking == "flask-sync"
    gthread = {row.target: row for row in io_sleep.rows}["flask-gthread"]
    assert not gthread.blocking
    assert gthread.ratio is not None and gthread.ratio > 5


def test_the_reference_is_the_highest_level_every_target_measured_validly() -> None:
    io_sleep, cpu = scenarios(make_run())
    # starlette-uvicorn's 100 users on io-sleep saturated the generator.
    assert reference_users(io_sleep) == 20
    assert reference_users(cpu) == 100


def test_a_level_that_is_not_a_result_is_never_a_peak() -> None:
    io_sleep = verdict(scenarios(make_run())[0])
    rows = {row.target: row for row in io_sleep.rows}
    uvicorn = rows["starlette-uvicorn"]
    assert uvicorn.peak is not None and uvicorn.peak.users == 20
    invalid = uvicorn.series.at(100)
    assert invalid is not None and not invalid.valid
    assert "load generator saturated" in invalid.reasons[0]


def test_ratios_are_to_the_best_blocking_target_at_the_reference() -> None:
    io_sleep = verdict(scenarios(make_run(speed={("io-sleep", "flask-gthread"): 0.5}))[0])
    rows = {row.target: row for row in io_sleep.rows}
    assert io_sleep.best_blocking == "flask-gthread"
    assert rows["flask-gthread"].ratio == 1.0
    gthread = rows["flask-gthread"].reference
    uvicorn = rows["starlette-uvicorn"].reference
    assert gthread is not None and uvicorn is not None
    assert rows["starlette-uvicorn"].ratio == pytest.approx(
        uvicorn.aggregate.rps / gthread.aggregate.rps
    )
    assert io_sleep.sentence.startswith(
        "On io-sleep at 20 users, starlette-uvicorn (event loop) served 2.0× flask-gthread "
        "(threads), the best blocking target:"
    )


def test_overlapping_intervals_are_called_the_same() -> None:
    run = make_run()
    # Widen flask-gthread's interval at 20 users over starlette-uvicorn's.
    aggregates = [
        a.model_copy(update={"rps_low": a.rps * 0.9, "rps_high": a.rps * 1.1})
        if (a.scenario, a.target, a.users) == ("io-sleep", "flask-gthread", 20)
        else a
        for a in run.aggregates
    ]
    run = run.model_copy(update={"aggregates": aggregates})
    io_sleep = verdicts(run)[0]
    assert "and flask-gthread (threads), the best blocking target, served about the same" in (
        io_sleep.sentence
    )
    assert headline(run) == io_sleep.sentence


def test_one_repeat_says_there_is_no_spread() -> None:
    run = make_run(repeats=1, speed={("io-sleep", "flask-gthread"): 0.5})
    assert "(one repeat: no spread measured)" in verdicts(run)[0].sentence


def test_without_a_blocking_target_there_is_no_ratio() -> None:
    run = make_run()
    run = run.model_copy(
        update={"cells": [c for c in run.cells if c.target == "starlette-uvicorn"]}
    )
    cpu = verdicts(run)[1]
    assert cpu.best_blocking is None
    assert all(row.ratio is None for row in cpu.rows)
    assert "no blocking against non-blocking comparison" in cpu.sentence


def test_without_a_common_valid_level_nothing_is_compared() -> None:
    run = make_run()
    aggregates = [
        a.model_copy(update={"valid": False})
        if a.target == "flask-sync" and a.scenario == "io-sleep"
        else a
        for a in run.aggregates
    ]
    io_sleep = verdicts(run.model_copy(update={"aggregates": aggregates}))[0]
    assert io_sleep.reference_users is None
    assert "not compared at one level" in io_sleep.sentence


def test_memory_per_request_divides_by_what_was_in_flight() -> None:
    io_sleep = scenarios(make_run())[0]
    sync = {s.target: s for s in io_sleep.series}["flask-sync"]
    top = sync.at(100)
    assert top is not None and top.rss_mib is not None
    # A sync worker holds one request: capacity 3 caps the 100 users at 3 in flight.
    assert top.in_flight == sync.capacity == 3
    assert top.mib_per_request == pytest.approx(top.rss_mib / 3)
    # The processes were started before the load, so more requests cost it nothing.
    assert sync.marginal_mib_per_request == pytest.approx(0.0)


def test_a_variant_is_never_ranked_even_when_it_is_fastest() -> None:
    run = make_client_run(
        efficiency={
            ("upstream", "flask-gthread"): 0.5,
            ("upstream", "starlette-uvicorn"): 0.4,
            ("upstream", "starlette-uvicorn-httpx"): 0.6,
        }
    )
    (upstream,) = scenarios(run)
    fastest = max(upstream.series, key=lambda s: s.at(100).aggregate.rps)  # type: ignore[union-attr]
    assert fastest.target == "starlette-uvicorn-httpx"
    found = verdict(upstream)
    assert [row.target for row in found.rows] == ["flask-gthread", "starlette-uvicorn"]
    assert "httpx" not in found.sentence
    assert found.sentence.startswith(
        "On upstream at 100 users, starlette-uvicorn (event loop) served"
    )


def test_a_variant_alone_is_not_ranked_either() -> None:
    # Without its base there is nothing to set it beside, but it is still no model of its own.
    run = make_client_run(targets=("flask-gthread", "starlette-uvicorn-httpx"))
    found = verdicts(run)[0]
    assert [row.target for row in found.rows] == ["flask-gthread"]
    assert headline(run) == found.sentence
