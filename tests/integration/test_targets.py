"""Every catalogue target, started for real: it boots, answers, holds its declared capacity,
refuses requests too large just where docs/server-limits.md says, and stops with nothing left
behind.

These check concurrency models, not speed: a wave is one WAIT_MS wait, and a target that can
have C requests in flight serves k x C requests at once in k waves.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from blockbench.apps import contract
from blockbench.apps.cpu import spin
from blockbench.targets import catalogue, pinning, supervisor
from blockbench.targets.catalogue import Catalogue, Target
from blockbench.targets.launch import start_target
from blockbench.targets.pinning import CpuBudget
from tests.integration import limits
from tests.integration.probes import (
    WAIT,
    WAIT_MS,
    answer_spread,
    first_wave,
    group_members,
    left_after,
    process_tree,
    send_burst,
)

pytestmark = pytest.mark.integration

CATALOGUE = catalogue.load(cores=pinning.budget().cores)
NAMES = CATALOGUE.names()
# Waves sent to a target with a capacity: enough to see queueing, few enough to stay quick.
WAVES = 2
# Requests at once for an event loop, which declares no capacity: more than any thread-bound
# target here holds, so a hidden thread pool would show as a second wave; far more would
# measure the test's client and the single pinned core rather than the model.
UNBOUNDED_SAMPLE = 100
# For the overlap of upstream and database calls: enough to make serialising obvious.
OVERLAP_SAMPLE = 20


@dataclass
class Running:
    target: Target
    process: supervisor.ManagedProcess

    def url(self, path: str) -> str:
        return self.process.url + path


@pytest.fixture(scope="module", params=NAMES)
def running(
    request: pytest.FixtureRequest,
    targets: Catalogue,
    budget: CpuBudget,
    upstream_url: str,
    database_url: str,
    logs_dir: Path,
) -> Iterator[Running]:
    """One target at a time, for all the tests of this module (pytest groups them by target)."""
    target = targets.get(request.param)
    process = _start(target, budget, upstream_url, logs_dir, database_url=database_url)
    yield Running(target, process)
    process.stop()


def _start(
    target: Target,
    budget: CpuBudget,
    upstream_url: str,
    logs_dir: Path,
    *,
    database_url: str | None = None,
) -> supervisor.ManagedProcess:
    env = {"UPSTREAM_URL": upstream_url, "DB_POOL_TIMEOUT": "5"}
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    port = supervisor.free_port()
    return start_target(target, port=port, budget=budget, log_dir=logs_dir, env=env)


def _expected(url: str) -> bytes:
    """The exact 200 body the contract prescribes for a GET of ``url``."""
    path, _, query = url.partition("?")
    endpoint = contract.find(path)
    assert endpoint is not None
    params = contract.parse_query(endpoint, query)
    ms = params.get("ms")
    results: dict[str, contract.JSON] = {
        "io_sleep": {"waited_ms": ms},
        "io_blocking": {"waited_ms": ms},
        "io_upstream": {"upstream": {"ms": ms}},
        "io_fanout": {"calls": params.get("n")},
        "cpu": {"checksum": spin(int(params.get("work", 0)))},
        "cpu_then_sleep": {"checksum": spin(int(params.get("work", 0))), "waited_ms": ms},
    }
    return contract.render(contract.result_body(endpoint, params, results[endpoint.name]))


SMOKE_GOOD = [
    "/io/sleep?ms=5",
    "/io/blocking?ms=5",
    "/io/upstream?ms=5",
    "/io/fanout?n=3&ms=5&mode=par",
    "/io/fanout?n=2&ms=5&mode=seq",
    "/cpu?work=1000",
    "/cpu?work=1000&offload=process",
    "/cpu-then-sleep?work=1000&ms=5",
]
SMOKE_ERRORS = [
    ("GET", "/io/sleep", contract.InvalidParameter(contract.MS, "missing")),
    ("GET", "/io/sleep?ms=1&x=1", contract.UnknownParameter(contract.IO_SLEEP, "x")),
    ("GET", "/nope", contract.NotFound()),
    ("POST", "/io/sleep?ms=1", contract.MethodNotAllowed()),
]


def test_boots_and_answers_the_smoke_cases(running: Running) -> None:
    target = running.target
    with httpx.Client(base_url=running.process.url, timeout=30) as client:
        health = client.get("/healthz")
        assert health.status_code == 200
        body = health.json()
        assert (body["app"], body["target"], body["mode"], body["cores"]) == (
            target.app,
            target.name,
            target.model,
            target.cores,
        )
        head = client.head("/healthz")
        assert (head.status_code, head.content) == (200, b"")
        for url in SMOKE_GOOD:
            reply = client.get(url)
            assert (reply.status_code, reply.content) == (200, _expected(url)), url
            assert reply.headers["content-type"] == contract.MEDIA_TYPE
        for method, url, error in SMOKE_ERRORS:
            reply = client.request(method, url)
            assert (reply.status_code, reply.content) == (
                error.status,
                contract.render(error.body()),
            )
            for name, value in error.headers().items():
                assert reply.headers[name] == value


def test_declared_capacity_is_true(running: Running) -> None:
    capacity = running.target.capacity
    if capacity is None:
        _assert_one_wave(running.url(f"/io/sleep?ms={WAIT_MS}"), UNBOUNDED_SAMPLE)
    elif capacity > 200:
        # gevent's 1000 connections, Granian's 512 threads: twice that many requests would need
        # seconds of CPU per wave on one core. test_a_large_capacity_follows_its_setting checks
        # the rule on a smaller setting; here, a sample must at least fit in one wave.
        _assert_one_wave(running.url(f"/io/sleep?ms={WAIT_MS}"), UNBOUNDED_SAMPLE)
    else:
        _assert_waves(running.url(f"/io/sleep?ms={WAIT_MS}"), capacity)


def test_upstream_calls_overlap(running: Running) -> None:
    # The HTTP client and its pool must not serialise calls the server runs at once.
    count = min(running.target.capacity or OVERLAP_SAMPLE, OVERLAP_SAMPLE)
    _assert_one_wave(running.url(f"/io/upstream?ms={WAIT_MS}"), count)


@pytest.mark.db
def test_database_calls_overlap(running: Running, database_url: str) -> None:
    # Under gevent this is the check that psycopg yields to other greenlets (psycopg >= 3.1.14
    # detects the monkey-patching); elsewhere, that the pool is sized from the capacity.
    count = min(running.target.capacity or OVERLAP_SAMPLE, OVERLAP_SAMPLE)
    url = running.url(f"/io/db?ms={WAIT_MS}")
    with httpx.Client(timeout=30) as client:
        reply = client.get(running.url("/io/db?ms=0"))
    assert reply.status_code == 200, reply.text
    assert reply.json()["result"] == {"answer": contract.DB_ANSWER}
    # psycopg_pool opens connections one at a time as demand stays high, each a login of some
    # milliseconds: a first burst as long as the measured one lets the pool grow to it.
    send_burst(url, count)
    _assert_one_wave(url, count)


@pytest.mark.db
def test_row_lookups_overlap(running: Running) -> None:
    # After test_database_calls_overlap, on the pools it grew. Each worker's first lookup seeds
    # the table (under gevent, behind a patched lock), the workers in turn: a first burst
    # without a wait reaches them all, so that the measured one overlaps like /io/db.
    with httpx.Client(timeout=30) as client:
        reply = client.get(running.url("/io/db-row?id=4242&ms=0"))
    row = {"id": 4242, "name": "row-4242", "value": 4242 * 7919 % 100_000}
    assert reply.status_code == 200, reply.text
    assert reply.json()["result"] == {"row": row}
    count = min(running.target.capacity or OVERLAP_SAMPLE, OVERLAP_SAMPLE)
    send_burst(running.url("/io/db-row?id=17&ms=0"), count)
    _assert_one_wave(running.url(f"/io/db-row?id=17&ms={WAIT_MS}"), count)


def test_request_size_limits_are_its_servers_row(running: Running) -> None:
    # docs/server-limits.md, kept true on the target this module already started; a variant
    # runs its base's server, which is the one the doc lists.
    target = running.target
    assert limits.mismatches(target.variant_of or target.name, running.process.url) == []


def test_stops_with_nothing_left(running: Running) -> None:
    # Last of this module's tests for each target (pytest keeps their order within a target).
    process = running.process
    tree = process_tree(process.pid)
    assert len(tree) >= running.target.workers
    process.stop()
    assert left_after(tree) == []
    assert left_after(group_members(process.pid)) == []
    assert not supervisor.port_is_bound(process.port)


# Targets whose declared capacity is too large to fill here (test_declared_capacity_is_true only
# samples them), each started with a small setting of the key that declares it: the rule that
# capacity follows from that key must hold, or the real size is a number typed, not derived.
SMALL = 20
LARGE_CAPACITY = [
    target.name
    for target in CATALOGUE.targets
    if (target.per_worker or 0) > 200 and target.variant_of is None
]


@pytest.mark.parametrize("name", LARGE_CAPACITY)
def test_a_large_capacity_follows_its_setting(
    name: str, targets: Catalogue, budget: CpuBudget, upstream_url: str, logs_dir: Path
) -> None:
    target = targets.get(name)
    if target.model == "threads":
        small = dataclasses.replace(target, threads=SMALL)
    else:
        small = dataclasses.replace(target, connections=SMALL)
    assert small.capacity == small.workers * SMALL
    process = _start(small, budget, upstream_url, logs_dir / f"{name}-{SMALL}")
    try:
        _assert_waves(f"{process.url}/io/sleep?ms={WAIT_MS}", small.capacity)
    finally:
        process.stop()


def test_the_large_capacities_are_the_ones_the_catalogue_names() -> None:
    # gunicorn's gevent worker connections and Granian's blocking threads and backpressure.
    assert {"flask-gevent", "flask-granian", "starlette-granian"} <= set(LARGE_CAPACITY)


def _assert_waves(url: str, capacity: int) -> None:
    result = send_burst(url, WAVES * capacity)
    assert result.ok == result.requests
    # Never more at once than declared: those would all be back within the first wave.
    assert first_wave(result) <= capacity, result
    # Every slot serves WAVES requests in turn, each a whole WAIT: none can be done sooner.
    assert WAVES * WAIT <= result.elapsed, result
    # Never fewer than declared: then a slot serves WAVES + 1 requests in turn, and its last
    # answer comes WAVES x WAIT or more after its first was sent, so after the burst's first
    # answer (less the moment this client took to read that one).
    assert answer_spread(result) < WAVES * WAIT, result


def _assert_one_wave(url: str, count: int) -> None:
    result = send_burst(url, count)
    assert result.ok == result.requests
    assert WAIT <= result.elapsed, result
    # A request queued behind another is answered a whole WAIT after that one.
    assert answer_spread(result) < WAIT, result
