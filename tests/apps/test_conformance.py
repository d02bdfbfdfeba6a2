"""One conformance suite for the twins: same requests, same statuses, same bytes.

Every case runs in-process (Flask's test client, Starlette's TestClient, Quart as ASGI through
httpx) and against real servers on loopback (gunicorn, uvicorn, Hypercorn), comparing Flask with
each other twin in turn: Starlette, the FastAPI twin's two flavours (``async def`` and ``def``
routes) and Quart.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest

from blockbench.apps import contract, openapi
from blockbench.apps.cpu import spin
from blockbench.targets import catalogue, pinning
from tests.apps.twins import Client


@dataclass(frozen=True)
class Case:
    url: str
    status: int
    error: str | None = None
    method: str = "GET"

    @property
    def id(self) -> str:
        return f"{self.method} {self.url}"


GOOD = [
    Case("/healthz", 200),
    Case("/io/sleep?ms=0", 200),
    Case("/io/sleep?ms=5", 200),
    Case("/io/sleep?ms=005", 200),
    Case("/io/%73leep?ms=1", 200),
    Case("/io/upstream?ms=1", 200),
    Case("/io/fanout?n=3&ms=1&mode=seq", 200),
    Case("/io/fanout?mode=par&ms=1&n=3", 200),
    Case("/io/fanout?n=32&ms=0&mode=par", 200),
    Case("/io/fanout?n=1&ms=0&mode=seq", 200),
    Case("/cpu?work=0", 200),
    Case("/cpu?work=1000", 200),
    Case("/cpu?work=1000&offload=none", 200),
    Case("/cpu?work=1000&offload=process", 200),
    Case("/io/blocking?ms=1", 200),
    Case("/cpu-then-sleep?work=0&ms=0", 200),
    Case("/cpu-then-sleep?work=1000&ms=5", 200),
    Case("/cpu-then-sleep?ms=1&work=2000", 200),
    Case("/healthz", 200, method="HEAD"),
    Case("/io/sleep?ms=1", 200, method="HEAD"),
    Case("/cpu-then-sleep?work=10&ms=1", 200, method="HEAD"),
]

INVALID = "invalid_parameter"
UNKNOWN = "unknown_parameter"
BAD = [
    Case("/io/sleep", 400, INVALID),
    Case("/io/sleep?", 400, INVALID),
    Case("/io/sleep?ms=", 400, INVALID),
    Case("/io/sleep?ms", 400, INVALID),
    Case("/io/sleep?ms=abc", 400, INVALID),
    Case("/io/sleep?ms=-1", 400, INVALID),
    Case("/io/sleep?ms=60001", 400, INVALID),
    Case("/io/sleep?ms=99999999999999999999999", 400, INVALID),
    Case("/io/sleep?ms=1.5", 400, INVALID),
    Case("/io/sleep?ms=1e3", 400, INVALID),
    Case("/io/sleep?ms=+5", 400, INVALID),
    Case("/io/sleep?ms=%205", 400, INVALID),
    Case("/io/sleep?ms=5%00", 400, INVALID),
    Case("/io/sleep?ms=%D9%A1", 400, INVALID),  # ARABIC-INDIC DIGIT ONE: not ASCII
    Case("/io/sleep?ms=0x10", 400, INVALID),
    Case("/io/sleep?ms=1&ms=2", 400, INVALID),
    Case("/io/sleep?ms=1&ms=1", 400, INVALID),
    Case("/io/sleep?MS=1", 400, UNKNOWN),
    Case("/io/sleep?ms=1&extra=2", 400, UNKNOWN),
    Case("/io/sleep?ms=1&" + "x" * 500 + "=1", 400, UNKNOWN),
    Case("/io/sleep?ms=%FF%FE", 400, INVALID),
    Case("/healthz?verbose=1", 400, UNKNOWN),
    Case("/io/upstream?ms=-5", 400, INVALID),
    Case("/io/db?ms=x", 400, INVALID),
    Case("/io/db", 400, INVALID),
    Case("/io/fanout?ms=1&mode=par", 400, INVALID),
    Case("/io/fanout?n=0&ms=1&mode=par", 400, INVALID),
    Case("/io/fanout?n=33&ms=1&mode=par", 400, INVALID),
    Case("/io/fanout?n=2&ms=1&mode=both", 400, INVALID),
    Case("/io/fanout?n=2&ms=1&mode=PAR", 400, INVALID),
    Case("/io/fanout?n=2&ms=1", 400, INVALID),
    Case("/cpu", 400, INVALID),
    Case("/cpu?work=10000001", 400, INVALID),
    Case("/cpu?work=-1", 400, INVALID),
    Case("/cpu?work=10&offload=thread", 400, INVALID),
    Case("/cpu?work=10&offload=", 400, INVALID),
    Case("/io/blocking?ms=60001", 400, INVALID),
    Case("/cpu-then-sleep", 400, INVALID),
    Case("/cpu-then-sleep?work=1000", 400, INVALID),
    Case("/cpu-then-sleep?ms=5", 400, INVALID),
    Case("/cpu-then-sleep?work=10000001&ms=0", 400, INVALID),
    Case("/cpu-then-sleep?work=-1&ms=0", 400, INVALID),
    Case("/cpu-then-sleep?work=1&ms=60001", 400, INVALID),
    Case("/cpu-then-sleep?work=1&ms=1&ms=1", 400, INVALID),
    Case("/cpu-then-sleep?work=1&ms=1&offload=none", 400, UNKNOWN),
    Case("/io/db-row", 400, INVALID),
    Case("/io/db-row?ms=0", 400, INVALID),
    Case("/io/db-row?id=1", 400, INVALID),
    Case("/io/db-row?id=0&ms=0", 400, INVALID),
    Case("/io/db-row?id=10001&ms=0", 400, INVALID),
    Case("/io/db-row?id=-1&ms=0", 400, INVALID),
    Case("/io/db-row?id=abc&ms=0", 400, INVALID),
    Case("/io/db-row?id=1&ms=60001", 400, INVALID),
    Case("/io/db-row?id=1&ms=0&table=x", 400, UNKNOWN),
    Case("/io/db-row?ID=1&ms=0", 400, UNKNOWN),
    Case("/nope", 404, "not_found"),
    Case("/", 404, "not_found"),
    Case("/io", 404, "not_found"),
    Case("/healthz/", 404, "not_found"),
    Case("/io/sleep/?ms=1", 404, "not_found"),
    Case("/IO/SLEEP?ms=1", 404, "not_found"),
    Case("/nope", 404, "not_found", method="POST"),
    Case("/io/sleep?ms=1", 405, "method_not_allowed", method="POST"),
    Case("/healthz", 405, "method_not_allowed", method="PUT"),
    Case("/healthz", 405, "method_not_allowed", method="DELETE"),
    Case("/healthz", 405, "method_not_allowed", method="PATCH"),
    Case("/healthz", 405, "method_not_allowed", method="OPTIONS"),
    Case("/cpu?work=1", 405, "method_not_allowed", method="POST"),
    Case("/cpu-then-sleep?work=1&ms=1", 405, "method_not_allowed", method="POST"),
    Case("/io/db-row?id=1&ms=0", 405, "method_not_allowed", method="DELETE"),
    Case("/cpu-then-sleep/?work=1&ms=1", 404, "not_found"),
]


@pytest.mark.parametrize("case", GOOD + BAD, ids=lambda case: case.id)
def test_twins_answer_alike(case: Case, both: tuple[Client, Client]) -> None:
    flask, starlette = both
    flask_reply = flask.request(case.method, case.url)
    starlette_reply = starlette.request(case.method, case.url)

    assert flask_reply.status == case.status, flask_reply.body
    assert flask_reply.comparable() == starlette_reply.comparable()
    if case.method == "HEAD":
        assert flask_reply.body == b""
        return
    assert flask_reply.headers["content-type"] == contract.MEDIA_TYPE
    body = flask_reply.json()
    if case.error is not None:
        assert body["error"] == case.error
        assert body["message"]
    if case.status == 405:
        assert flask_reply.headers["allow"] == "GET, HEAD"


@pytest.mark.parametrize("case", [case for case in GOOD if case.method == "GET"], ids=str)
def test_results_are_what_the_contract_says(case: Case, both: tuple[Client, Client]) -> None:
    flask, _ = both
    body = flask.request("GET", case.url).json()
    path, _, query = case.url.replace("%73", "s").partition("?")
    endpoint = contract.find(path)
    assert endpoint is not None
    if endpoint is contract.HEALTHZ:
        assert body["status"] == "ok"
        return
    params = contract.parse_query(endpoint, query)
    assert body["endpoint"] == endpoint.path
    assert body["params"] == params
    expected = {
        "io_sleep": {"waited_ms": params.get("ms")},
        "io_blocking": {"waited_ms": params.get("ms")},
        "io_upstream": {"upstream": {"ms": params.get("ms")}},
        "io_fanout": {"calls": params.get("n")},
        "cpu": {"checksum": spin(int(params.get("work", 0)))},
        "cpu_then_sleep": {
            "checksum": spin(int(params.get("work", 0))),
            "waited_ms": params.get("ms"),
        },
    }
    assert body["result"] == expected[endpoint.name]


# spin(1000): worked out from the generator's closed form in tests/blockbench/apps/test_cpu.py.
CPU_CHECKSUM_1000 = 1219259225


@pytest.mark.parametrize(
    "url",
    [
        "/cpu?work=1000&offload=none",
        "/cpu?work=1000&offload=process",
        "/cpu-then-sleep?work=1000&ms=0",
    ],
)
def test_both_do_the_known_cpu_work(both: tuple[Client, Client], url: str) -> None:
    for client in both:
        reply = client.request("GET", url)
        assert reply.status == 200, reply.body
        assert reply.json()["result"]["checksum"] == CPU_CHECKSUM_1000, client.name


def test_cpu_then_sleep_waits_its_ms(both: tuple[Client, Client]) -> None:
    for client in both:
        started = time.perf_counter()
        reply = client.request("GET", "/cpu-then-sleep?work=0&ms=50")
        elapsed = time.perf_counter() - started
        assert reply.json()["result"] == {"checksum": 1, "waited_ms": 50}, client.name
        # The body alone cannot tell a wait from none: the reply cannot come before it.
        assert elapsed >= 0.05, client.name


def test_errors_name_the_parameter_and_its_range(both: tuple[Client, Client]) -> None:
    flask, starlette = both
    for client in (flask, starlette):
        body = client.request("GET", "/io/sleep?ms=60001").json()
        assert body["parameter"] == "ms"
        assert body["allowed"] == {"type": "integer", "minimum": 0, "maximum": 60000}
        assert "60000" in body["message"] and "'60001'" in body["message"]


# What each twin's /healthz names: app, interface and mode, by client name.
IDENTITY = {
    "flask": ("flask", "wsgi", "blocking"),
    "starlette": ("starlette", "asgi", "event-loop"),
    "fastapi": ("fastapi", "asgi", "event-loop"),
    "fastapi-def": ("fastapi", "asgi", "threadpool"),
    "quart": ("quart", "asgi", "event-loop"),
}


def identity(name: str) -> tuple[str, str, str]:
    """What /healthz of the client named ``name`` says it is: a twin's, or a catalogue
    target's, which names its app, that app's interface, and the target's model."""
    if name in IDENTITY:
        return IDENTITY[name]
    target = catalogue.load(cores=1).get(name)
    return (target.app, "wsgi" if target.app == "flask" else "asgi", target.model)


def test_health_names_app_and_mode(both: tuple[Client, Client]) -> None:
    for client in both:
        body = client.request("GET", "/healthz").json()
        assert (body["app"], body["interface"], body["mode"]) == identity(client.name)
        # A catalogue target also names itself and the cores it was sized for; a bare twin
        # does neither.
        bare = client.name in IDENTITY
        assert body.get("target") == (None if bare else client.name)
        assert body.get("cores") == (None if bare else pinning.budget().cores)


def test_both_serve_the_same_openapi_document(both: tuple[Client, Client]) -> None:
    flask, starlette = both
    for client in (flask, starlette):
        reply = client.request("GET", contract.OPENAPI_PATH)
        assert reply.status == 200
        assert reply.body == openapi.document_bytes()


def test_every_endpoint_has_cases() -> None:
    covered = {urlsplit(case.url).path.replace("%73", "s") for case in GOOD + BAD}
    assert {endpoint.path for endpoint in contract.ENDPOINTS} <= covered
