"""The bounds: their arithmetic, checked against a simulated closed system and recorded runs."""

from __future__ import annotations

import heapq
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from blockbench import results
from blockbench.apps import contract
from blockbench.load import scenarios
from blockbench.load.scenarios import Request, Scenario
from blockbench.results import bounds, judging
from blockbench.results.bounds import Measured, RequestPath, Setting
from tests import recorded

# Recorded runs: two tiny ones from before bounds existed (judged again here), and a quick
# profile recorded with them.
RECORDED = sorted([*recorded.RESULTS.iterdir(), *recorded.BOUNDS.iterdir()])


def _caps(workers: int = 1, per_worker: int | None = None, **pools: int) -> list[results.Cap]:
    caps = [
        results.Cap(name="server workers", value=workers, where="target", kind="workers"),
        results.Cap(name="gunicorn --threads", value=per_worker, where="worker", kind="model"),
    ]
    names = {"http_pool": "upstream HTTP pool (urllib3)", "db_pool": "database pool"}
    for kind, size in pools.items():
        caps.append(results.Cap(name=names[kind], value=size, where="process", kind=kind))  # type: ignore[arg-type]
    return caps


def _setting(caps: list[results.Cap], cores: int = 1, **extra: object) -> Setting:
    values: dict[str, object] = {
        "caps": caps,
        "cores": cores,
        "model": "threads",
        "generator_rps": None,
        "upstream_calls_rps": None,
    }
    return Setting(**(values | extra))  # type: ignore[arg-type]


def simulate(users: int, slots: int | None, wait_s: float, cpu_s: float) -> float:
    """Throughput of a closed system: each of ``users`` sends a request as soon as its last
    returns; a request takes one of ``slots`` (or waits for one), then ``cpu_s`` on one
    first-come-first-served core, then waits ``wait_s`` still holding its slot.

    Measured over the second half of the run (past the start, where every user sends at once)
    with no edge effect: each request is credited with the share of its own duration inside
    that window, those still in flight at its end too (the generalised Little's law, H = λG:
    the credits sum to throughput x window).
    """
    done, limit = 0, max(3000, 40 * users)
    free = users if slots is None else slots
    waiting: list[tuple[int, float]] = [(user, 0.0) for user in range(users)]  # (user, sent)
    cpu_free_at = 0.0
    events: list[tuple[float, int]] = []  # (when a user's request finishes, the user)
    requests: list[tuple[float, float]] = []  # (sent, finished)

    def start(now: float) -> None:
        nonlocal free, cpu_free_at
        while free and waiting:
            free -= 1
            user, sent = waiting.pop(0)
            cpu_free_at = max(cpu_free_at, now) + cpu_s
            heapq.heappush(events, (cpu_free_at + wait_s, user))
            requests.append((sent, cpu_free_at + wait_s))

    start(0.0)
    halfway = clock = 0.0
    while done < limit:
        clock, user = heapq.heappop(events)
        done += 1
        if done == limit // 2:
            halfway = clock
        free += 1
        waiting.append((user, clock))
        start(clock)
    credit = sum(
        (min(end, clock) - max(sent, halfway)) / (end - sent)
        for sent, end in requests
        if end > halfway and sent < clock
    )
    return credit / (clock - halfway)


@settings(max_examples=60, deadline=None)
@given(
    users=st.integers(1, 300),
    slots=st.one_of(st.none(), st.integers(1, 64)),
    wait_ms=st.sampled_from([0.0, 1.0, 20.0, 100.0]),
    cpu_ms=st.floats(0.05, 15.0),
)
def test_a_simulated_closed_system_never_beats_its_tightest_bound(
    users: int, slots: int | None, wait_ms: float, cpu_ms: float
) -> None:
    measured = simulate(users, slots, wait_ms / 1000, cpu_ms / 1000)
    found = bounds.level_bounds(
        RequestPath(wait_s=wait_ms / 1000),
        Measured(users=users, cpu_demand_s=cpu_ms / 1000),
        _setting(_caps(per_worker=slots)),
    )
    tightest = bounds.binding(found)
    assert tightest is not None
    assert tightest.rps == min(bound.rps for bound in found)
    # Bounds are rounded to the hundredth of a request per second.
    assert measured <= tightest.rps * 1.0001 + 0.01
    # And they are asymptotes: far from the knee the system reaches them.
    least = wait_ms / 1000 + cpu_ms / 1000
    in_flight = users if slots is None else min(users, slots)
    knee = least / (cpu_ms / 1000)
    if in_flight >= 4 * knee or in_flight * 4 <= knee:
        assert measured >= 0.95 * tightest.rps


def test_the_binding_bound_names_the_limit() -> None:
    path = RequestPath(wait_s=0.1)
    caps = _caps(per_worker=32)
    few = bounds.level_bounds(path, Measured(10, 0.0005), _setting(caps))
    assert bounds.binding(few).name == "users"  # type: ignore[union-attr]
    many = bounds.level_bounds(path, Measured(250, 0.0005), _setting(caps))
    assert bounds.binding(many).name == "gunicorn --threads"  # type: ignore[union-attr]
    assert bounds.binding(many).rps == pytest.approx(32 / 0.1005, abs=0.01)  # type: ignore[union-attr]
    cpu = bounds.level_bounds(path, Measured(250, 0.004), _setting(_caps()))
    assert bounds.binding(cpu).name == "target CPU"  # type: ignore[union-attr]
    assert bounds.binding(cpu).rps == 250.0  # type: ignore[union-attr]
    generator = _setting(_caps(), generator_rps=1000.0)
    limited = bounds.level_bounds(path, Measured(1000, 0.0001), generator)
    assert bounds.binding(limited).name == "load generator"  # type: ignore[union-attr]


def test_pools_count_per_process_and_by_how_long_a_request_holds_them() -> None:
    caps = _caps(workers=3, per_worker=1000, http_pool=100, db_pool=20)
    fanout = RequestPath(wait_s=0.4, upstream_calls=4, upstream_call_s=0.1)
    found = {b.name: b for b in bounds.level_bounds(fanout, Measured(1000, None), _setting(caps))}
    # 3 processes x 100 connections, each request holding one 4 x 100 ms.
    assert found["upstream HTTP pool (urllib3)"].rps == pytest.approx(300 / 0.4)
    assert "database pool" not in found
    db = RequestPath(wait_s=0.1, db_hold_s=0.1)
    found = {b.name: b for b in bounds.level_bounds(db, Measured(1000, None), _setting(caps))}
    assert found["database pool"].rps == pytest.approx(60 / 0.1)


def test_upstream_and_database_bounds_per_request() -> None:
    path = RequestPath(wait_s=0.4, upstream_calls=4, upstream_call_s=0.1)
    setting = _setting(_caps(), upstream_calls_rps=100_000.0)
    measured = Measured(10, None, database_demand_s=0.002, database_cpus=2)
    found = {b.name: b.rps for b in bounds.level_bounds(path, measured, setting)}
    assert found["upstream service"] == 25_000.0
    assert found["PostgreSQL CPU"] == 1000.0


def test_the_generator_is_a_resource_of_the_loop_too() -> None:
    path = RequestPath(wait_s=0.1)
    # Locust (and the upstream beside it) spend 0.2 ms of their one CPU per request.
    measured = Measured(1000, 0.0001, generator_demand_s=0.0002, generator_cpus=1)
    found = bounds.level_bounds(path, measured, _setting(_caps(), generator_rps=7000.0))
    assert [(b.name, b.rps) for b in found[:2]] == [
        ("load generator CPU", 5000.0),
        ("load generator", 7000.0),
    ]


def test_a_blocked_event_loop_serves_one_request_per_worker() -> None:
    path = RequestPath(wait_s=0.1, blocking=1.0, blocking_s=0.1)
    caps = _caps(workers=2, per_worker=None)
    loop = bounds.level_bounds(path, Measured(100, 0.0003), _setting(caps, model="event-loop"))
    assert bounds.binding(loop).name == "event loop blocked by a sync call"  # type: ignore[union-attr]
    assert bounds.binding(loop).rps == 20.0  # type: ignore[union-attr]
    threads = bounds.level_bounds(path, Measured(100, 0.0003), _setting(caps))
    assert bounds.binding(threads).name == "users"  # type: ignore[union-attr]


def test_threads_waiting_on_one_event_loop_are_held_by_it() -> None:
    # starlette-a2wsgi: 32 gunicorn threads per worker, each waiting on the one loop a2wsgi
    # starts per process, which the blocking sleep holds.
    path = RequestPath(wait_s=0.1, blocking=1.0, blocking_s=0.1)
    loop = results.Cap(
        name="event loop of the async endpoints", value=1, where="worker", kind="event_loop"
    )
    caps = [*_caps(workers=2, per_worker=32), loop]
    found = bounds.level_bounds(path, Measured(100, 0.0003), _setting(caps))
    assert bounds.binding(found).name == "event loop blocked by a sync call"  # type: ignore[union-attr]
    assert bounds.binding(found).rps == 20.0  # type: ignore[union-attr]
    # Without the blocking call the threads are the limit again.
    waits = bounds.level_bounds(RequestPath(wait_s=0.1), Measured(100, 0.0003), _setting(caps))
    assert bounds.binding(waits).name == "gunicorn --threads"  # type: ignore[union-attr]


def test_in_flight_is_what_the_concurrency_model_serves_at_once() -> None:
    assert bounds.in_flight(_caps(workers=4, per_worker=32)) == 128
    sync = [
        results.Cap(name="server workers", value=3, where="target", kind="workers"),
        results.Cap(name="one request per worker process", value=1, where="worker", kind="model"),
    ]
    assert bounds.in_flight(sync) == 3
    # An event loop takes whatever comes.
    assert bounds.in_flight(_caps(workers=2, per_worker=None)) is None


def test_request_paths_of_the_catalogue(scenario_catalogue: scenarios.Catalogue) -> None:
    seq = RequestPath.of(scenario_catalogue.scenario("fanout-seq"))
    par = RequestPath.of(scenario_catalogue.scenario("fanout-par"))
    assert (seq.wait_s, seq.upstream_calls, seq.parallel_calls) == (0.4, 4, False)
    assert (par.wait_s, par.upstream_calls, par.parallel_calls) == (0.1, 4, True)
    assert RequestPath.of(scenario_catalogue.scenario("cpu")).wait_s == 0
    assert RequestPath.of(scenario_catalogue.scenario("cpu-offload")).offloaded == 1
    assert RequestPath.of(scenario_catalogue.scenario("db")).db_hold_s == 0.1
    mixed = scenario_catalogue.scenario("mixed")
    assert RequestPath.of(mixed).wait_s == pytest.approx(0.09)
    # The mix actually sent: 80 waits and 20 CPU requests wait 80 ms on average.
    sent = RequestPath.of(mixed, {"/io/sleep": 80, "/cpu": 20})
    assert sent.wait_s == pytest.approx(0.08)


def _one(endpoint: contract.Endpoint, **params: int) -> RequestPath:
    return RequestPath.of(Scenario("one", "Workload", "", (Request(endpoint, params),)))


def test_cpu_then_sleep_waits_its_ms_and_its_cpu_is_the_measured_demand() -> None:
    path = _one(contract.CPU_THEN_SLEEP, work=25_000, ms=20)
    # Its CPU is in the target's measured demand, not a wait; nor does it hold a pool.
    assert path == RequestPath(wait_s=0.02)
    # So the users' bound is users over the wait plus the measured CPU: 100 / 22 ms.
    found = bounds.level_bounds(path, Measured(100, 0.002), _setting(_caps(per_worker=None)))
    assert {b.name: b.rps for b in found}["users"] == pytest.approx(100 / 0.022, abs=0.01)


def test_a_row_lookup_holds_a_database_connection_for_its_sleep() -> None:
    path = _one(contract.IO_DB_ROW, id=7, ms=10)
    assert path == RequestPath(wait_s=0.01, db_hold_s=0.01)
    # 2 processes x 5 connections, each request holding one 10 ms.
    caps = _caps(workers=2, per_worker=1000, db_pool=5)
    found = {b.name: b.rps for b in bounds.level_bounds(path, Measured(1000, None), _setting(caps))}
    assert found["database pool"] == pytest.approx(10 / 0.01)
    # Without the sleep it is a lookup alone: no wait the bounds can count, no pool term.
    assert _one(contract.IO_DB_ROW, id=7, ms=0) == RequestPath()


def test_demand_is_cpu_seconds_per_completed_request() -> None:
    level = _level(rps=200.0, cpu_percent=50.0, requests=1000, successes=1000)
    assert bounds.cpu_demand_s(level) == pytest.approx(0.0025)
    # A failed request used CPU too: 10% failures means 10% more completions.
    failing = _level(rps=180.0, cpu_percent=50.0, requests=1000, successes=900)
    assert bounds.cpu_demand_s(failing) == pytest.approx(0.0025)
    assert bounds.cpu_demand_s(_level(rps=0.0, cpu_percent=50.0)) is None


def test_the_utilisation_law_flags_instruments_that_disagree() -> None:
    assert results.UtilisationLaw(kernel_cores=0.97, target_cores=0.92).holds
    assert not results.UtilisationLaw(kernel_cores=0.95, target_cores=0.70).holds
    # Below a few hundredths of a core the kernel's tick counters cannot tell.
    assert results.UtilisationLaw(kernel_cores=0.025, target_cores=0.005).holds
    level = _level(rps=100.0, cpu_percent=60.0).model_copy(update={"target_cpu_utilisation": 0.95})
    law = results.UtilisationLaw.of(level, cores=1)
    assert law is not None and not law.holds


@pytest.mark.parametrize("run_dir", RECORDED, ids=lambda path: path.name)
def test_recorded_runs_judged_today_sit_under_their_bounds(run_dir: Path) -> None:
    run = judging.revalidate(results.load_run(run_dir), "today")
    valid = [level for cell in run.cells for level in cell.levels if level.valid]
    assert valid
    for level in valid:
        assert level.binding is not None, (level.scenario, level.target, level.users)
        assert level.efficiency is not None and level.efficiency <= 1.02, (
            level.scenario,
            level.target,
            level.users,
            level.efficiency,
            level.bounds[0].detail,
        )


def _level(
    *, rps: float, cpu_percent: float, requests: int = 100, successes: int = 100
) -> results.LevelResult:
    return results.LevelResult(
        scenario="io-sleep",
        target="flask-gthread",
        repeat=0,
        users=10,
        window_s=10.0,
        requests=requests,
        successes=successes,
        rps=rps,
        latency=results.Latency(p50=None, p90=None, p99=None, max=None, mean=None),
        failures=results.Failures(),
        failure_rate=1 - successes / requests,
        ceiling_rps=None,
        efficiency=None,
        target_resources=results.Resources(
            samples=20,
            cpu_percent_mean=cpu_percent,
            cpu_percent_max=cpu_percent,
            rss_mib_max=None,
            threads_max=None,
            processes_max=None,
        ),
        generator=results.Generator(processes=1, cpu_percent_max=None, saturated=False),
        flags=[],
        histogram={},
    )


def test_a_run_recorded_with_bounds_is_judged_the_same_again() -> None:
    run = results.load_run(recorded.BOUNDS / "20261128-quick-a")
    assert judging.revalidate(run, "today") == run
    levels = [level for cell in run.cells for level in cell.levels]
    assert all(level.valid for level in levels)
    names = {level.binding for level in levels}
    # Its plateaus: the users at first, then the workers, threads, a2wsgi's, and the core.
    assert {"users", "worker processes", "gunicorn --threads", "target CPU"} <= names
    for level in levels:
        law = results.UtilisationLaw.of(level, cores=1)
        assert law is not None and law.holds
