"""The Ceiling tab's reading: which target a host serves, which workload runs, and the bound,
efficiency and sentences the tab shows; the same bounds as the report's, fed live."""

from __future__ import annotations

import json

import pytest

from blockbench.apps import contract
from blockbench.load import ceiling, scenarios
from blockbench.results import bounds
from blockbench.targets import catalogue

CATALOGUE = scenarios.load()
IO_SLEEP = CATALOGUE.scenario("io-sleep")
CPU = CATALOGUE.scenario("cpu")
SCENARIOS = {IO_SLEEP.workload: IO_SLEEP, CPU.workload: CPU}
URL = "http://127.0.0.1:8001"


def health(target: str | None, cores: int | None) -> ceiling.Fetch:
    """A host whose /healthz says what a twin started as ``target`` says."""

    def fetch(url: str) -> bytes:
        assert url == URL + "/healthz"
        return contract.render(contract.health_body("flask", "wsgi", "threads", target, cores))

    return fetch


def refused(url: str) -> bytes:
    raise ConnectionRefusedError(111, "Connection refused")


def served(name: str, cores: int = 1) -> ceiling.Served:
    return ceiling.served(URL + "/", health(name, cores))


def io_sleep(users: int, rps: float, on: ceiling.Served, seconds: int = 10) -> ceiling.Reading:
    rate = ceiling.Rate(rps, seconds)
    return ceiling.read(users, rate, on, ceiling.workload({"IoSleep": users}, SCENARIOS))


def test_the_host_names_its_target_and_the_cores_that_size_it() -> None:
    for cores in (1, 3):
        found = served("flask-sync", cores)
        assert found.target == catalogue.load(cores=cores).get("flask-sync")
        assert found.reason is None and found.source == URL + "/healthz"
    # 2 x cores + 1 workers: the cores the host reports are the ones its workers came from.
    workers = [sized.workers for c in (1, 3) if (sized := served("flask-sync", c).target)]
    assert workers == [3, 7]


@pytest.mark.parametrize(
    ("host", "fetch", "reason"),
    [
        (None, refused, "no host is set"),
        (URL, refused, "http://127.0.0.1:8001/healthz gave no answer of the contract"),
        (URL, lambda url: b"<html>", "gave no answer of the contract"),
        (URL, lambda url: b"[1]", "names no catalogue target"),
        # A twin started by hand, outside the catalogue, names no target.
        (URL, health(None, None), "names no catalogue target"),
        (URL, health("flask-sync", None), "names no catalogue target"),
        (URL, health("nginx", 1), "names 'nginx', which this checkout's catalogue lacks"),
    ],
)
def test_a_host_that_names_no_known_target_says_why(
    host: str | None, fetch: ceiling.Fetch, reason: str
) -> None:
    found = ceiling.served(host, fetch)
    assert found.target is None
    assert found.reason is not None and reason in found.reason


def test_the_workload_is_the_one_user_class_running() -> None:
    assert ceiling.workload({"IoSleep": 5, "Cpu": 0}, SCENARIOS) == ceiling.Workload(
        "IoSleep", IO_SLEEP
    )
    cases = [
        ({}, "no users are running"),
        ({"IoSleep": 0}, "no users are running"),
        ({"IoSleep": 2, "Cpu": 1}, "Cpu and IoSleep run at once"),
        ({"Browse": 3}, "Browse is not a workload of the scenario catalogue"),
    ]
    for running, reason in cases:
        found = ceiling.workload(running, SCENARIOS)
        assert found.scenario is None and found.reason is not None and reason in found.reason


def test_a_thread_pool_is_bound_by_its_threads_and_reads_its_arithmetic() -> None:
    on = served("flask-gthread")
    target = on.target
    assert target is not None and target.capacity is not None
    capacity = target.capacity  # 1 core: 1 worker x 32 threads
    reading = io_sleep(250, 312.0, on)
    ceiling_now = reading.ceiling
    assert ceiling_now is not None
    assert (ceiling_now.kind, ceiling_now.name) == ("capacity", target.bounded_by)
    assert ceiling_now.rps == pytest.approx(capacity / 0.1)
    assert reading.efficiency == pytest.approx(312.0 / (capacity / 0.1))
    assert reading.unknown is None
    assert reading.arithmetic() == (
        f"{capacity} in flight / 100 ms waiting = {capacity * 10:,} req/s; "
        f"250 users / 100 ms waiting = 2,500 req/s → {capacity * 10:,} req/s"
    )
    rows = {row["what"]: row["value"] for row in reading.rows()}
    assert rows["users"] == "250"
    assert rows["throughput"] == "312 req/s successful, over the last 10 s at 250 users"
    assert rows["bound: users"] == "250 users / 100 ms waiting = 2,500 req/s"
    assert rows["ceiling"] == f"{capacity * 10:,} req/s, limited by {target.bounded_by}"
    assert rows["efficiency"] == f"{312 / (capacity * 10):.2f} (312 of {capacity * 10:,} req/s)"
    assert rows["target"].startswith("flask-gthread (threads")
    assert rows["workload"] == "IoSleep (io-sleep): 100 ms waiting per request"


def test_few_users_leave_littles_law_binding() -> None:
    reading = io_sleep(10, 99.0, served("flask-gthread"))
    assert reading.ceiling is not None
    assert (reading.ceiling.name, reading.ceiling.rps) == ("users", 100.0)
    assert reading.efficiency == pytest.approx(0.99)


def test_the_bounds_are_the_reports() -> None:
    # The tab feeds the report's level_bounds with what a run would record for the cell.
    on = served("starlette-threadpool")
    assert on.target is not None
    reading = io_sleep(100, 390.0, on)
    setting = bounds.Setting(ceiling.caps(on.target), 1, on.target.model, None, None)
    expected = bounds.level_bounds(
        bounds.RequestPath.of(IO_SLEEP), bounds.Measured(100, None), setting
    )
    assert list(reading.bounds) == expected
    assert reading.ceiling == expected[0]


def test_an_unknown_target_leaves_the_ceiling_unknown_not_guessed() -> None:
    reading = io_sleep(250, 312.0, ceiling.served(URL, refused))
    assert reading.ceiling is None and reading.efficiency is None
    # Little's law holds whatever the target: listed, but not passed off as the ceiling.
    assert [bound.name for bound in reading.bounds] == ["users"]
    assert reading.unknown is not None
    assert reading.unknown.startswith("the target's limits are unknown: ")
    assert reading.unknown.endswith("Little's law alone allows 2,500 req/s")
    rows = {row["what"]: row["value"] for row in reading.rows()}
    assert rows["ceiling"] == f"unknown: {reading.unknown}"
    assert rows["efficiency"] == "unknown: no ceiling to divide by"
    assert rows["target"].startswith("unknown: http://127.0.0.1:8001/healthz gave no answer")


def test_a_workload_that_never_waits_has_no_live_bound() -> None:
    workload = ceiling.workload({"Cpu": 50}, SCENARIOS)
    reading = ceiling.read(50, ceiling.Rate(70.0, 10), served("flask-gthread"), workload)
    assert reading.bounds == [] and reading.ceiling is None and reading.efficiency is None
    assert reading.unknown == "cpu does not wait, so only CPU bounds it, which is not measured here"


def test_no_users_no_bound() -> None:
    reading = ceiling.read(0, None, served("flask-gthread"), ceiling.workload({}, SCENARIOS))
    assert reading.ceiling is None
    assert reading.unknown == "no users are running: start a test"
    assert {row["what"]: row["value"] for row in reading.rows()}["workload"] == (
        "unknown: no users are running: start a test"
    )


def test_an_event_loop_without_a_limit_is_bound_by_its_users() -> None:
    reading = io_sleep(1000, 4000.0, served("starlette-uvicorn"))
    assert reading.ceiling is not None and reading.ceiling.name == "users"
    assert reading.ceiling.rps == 10_000


# Requests per wall-clock second as Locust counts them: 10 users until second 103, then 50.
REQUESTS = {100: 95, 101: 98, 102: 97, 103: 200, 104: 310, 105: 320, 106: 316, 107: 90}
FAILURES = {105: 20}


def test_the_rate_counts_only_whole_seconds_since_the_users_settled() -> None:
    # Settled at 103.4: seconds 104 on. The last request at 108.9: its second and the two
    # before it are left out, as Locust does (still running, or not yet reported by workers).
    rate = ceiling.rate(REQUESTS, FAILURES, 103.4, 108.9)
    assert rate == ceiling.Rate((310 + 320 - 20) / 2, 2)
    # While the users change (None), or before a whole second of them is in: no rate.
    assert ceiling.rate(REQUESTS, FAILURES, None, 108.9) is None
    assert ceiling.rate(REQUESTS, FAILURES, 103.4, 106.9) is None
    assert ceiling.rate(REQUESTS, FAILURES, 103.4, None) is None
    # Long settled: Locust's own ten seconds.
    steady = {second: 300 for second in range(0, 100)}
    assert ceiling.rate(steady, {}, 0.0, 99.5) == ceiling.Rate(300.0, ceiling.WINDOW_S)
    assert ceiling.rate({**steady, 86: 0}, {}, 0.0, 99.5) == ceiling.Rate(300.0, 10)
    assert ceiling.rate({**steady, 87: 0}, {}, 0.0, 99.5) == ceiling.Rate(270.0, 10)


def test_without_a_rate_yet_the_ceiling_stands_and_the_efficiency_waits() -> None:
    workload = ceiling.workload({"IoSleep": 10}, SCENARIOS)
    reading = ceiling.read(10, None, served("flask-gthread"), workload)
    assert reading.ceiling is not None and reading.efficiency is None
    rows = {row["what"]: row["value"] for row in reading.rows()}
    waiting = "not yet: no whole second counted since the users last changed"
    assert rows["throughput"] == rows["efficiency"] == waiting
    assert reading.as_json()["rps"] is None


def test_the_json_carries_every_number_and_reads_back() -> None:
    reading = io_sleep(250, 312.0, served("flask-gthread"))
    data = json.loads(json.dumps(reading.as_json()))
    assert data["users"] == 250 and data["rps"] == 312.0
    assert (data["target"], data["workload"], data["scenario"]) == (
        "flask-gthread",
        "IoSleep",
        "io-sleep",
    )
    assert data["ceiling"]["rps"] == 320.0 and data["limited_by"] == "gunicorn --threads"
    assert data["efficiency"] == 0.975
    assert [bound["name"] for bound in data["bounds"]] == ["gunicorn --threads", "users"]
    assert data["unknown"] is None and data["rate_seconds"] == 10


def test_each_level_keeps_its_last_settled_reading_against_its_own_ceiling() -> None:
    on = served("flask-gthread")
    levels = ceiling.Levels()
    levels.record(io_sleep(10, 99.0, on))
    levels.record(io_sleep(50, 300.0, on))
    levels.record(io_sleep(50, 313.0, on))  # later in the same level: replaces it
    # No whole second of its users yet, or no ceiling: not a level's reading.
    levels.record(ceiling.read(100, None, on, ceiling.workload({"IoSleep": 100}, SCENARIOS)))
    levels.record(io_sleep(200, 300.0, ceiling.served(URL, refused)))
    assert levels.rows() == [
        ("held at 10 users", "0.99 (99.0 of 100 req/s over 10 s, limited by users)"),
        ("held at 50 users", "0.98 (313 of 320 req/s over 10 s, limited by gunicorn --threads)"),
    ]
    # In the tab, after the reading now and before what it leaves out.
    whats = [row["what"] for row in io_sleep(50, 313.0, on).rows(levels)]
    assert whats[-4:] == ["efficiency", "held at 10 users", "held at 50 users", "not counted"]
    assert [(level["users"], level["limited_by"]) for level in levels.as_json()] == [
        (10, "users"),
        (50, "gunicorn --threads"),
    ]
    assert levels.as_json()[1]["efficiency"] == pytest.approx(313 / 320, abs=0.001)
    levels.clear()
    assert levels.rows() == [] and levels.as_json() == []
