"""The endpoint contract both twin apps serve: paths, parameters, bounds, bodies and errors.

Framework-free on purpose (standard library only): the Flask app, the Starlette app, the
OpenAPI description and the tests all read it, so no bound or message is ever written twice.
It also renders the response bytes itself, because Flask's ``jsonify`` sorts keys and
Starlette's ``JSONResponse`` does not; letting each framework serialise would make the twins'
bodies differ.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qsl

JSON = dict[str, Any]
ParamValue = int | str
Params = dict[str, ParamValue]

MEDIA_TYPE = "application/json"
ALLOWED_METHODS = ("GET", "HEAD")
# Long enough to show in an error which value was refused, short enough that a hostile query
# string cannot make the error body large.
_ECHO_LIMIT = 40
_INTEGER = re.compile(r"-?[0-9]{1,12}")


@dataclass(frozen=True)
class IntParam:
    name: str
    minimum: int
    maximum: int
    description: str

    @property
    def rule(self) -> str:
        return f"{self.name} must be an integer from {self.minimum} to {self.maximum}"

    def allowed(self) -> JSON:
        return {"type": "integer", "minimum": self.minimum, "maximum": self.maximum}

    def parse(self, raw: str) -> int:
        if not _INTEGER.fullmatch(raw):
            raise InvalidParameter(self, "not_an_integer", raw)
        value = int(raw)
        if not self.minimum <= value <= self.maximum:
            raise InvalidParameter(self, "out_of_range", raw)
        return value


@dataclass(frozen=True)
class ChoiceParam:
    name: str
    choices: tuple[str, ...]
    description: str
    default: str | None = None

    @property
    def rule(self) -> str:
        return f"{self.name} must be one of: {', '.join(self.choices)}"

    def allowed(self) -> JSON:
        return {"type": "string", "enum": list(self.choices)}

    def parse(self, raw: str) -> str:
        if raw not in self.choices:
            raise InvalidParameter(self, "not_allowed", raw)
        return raw


Param = IntParam | ChoiceParam


@dataclass(frozen=True)
class Endpoint:
    name: str
    path: str
    summary: str
    params: tuple[Param, ...] = ()
    # Endpoints that depend on another service document a 503 for when it is down.
    dependency: Literal["upstream", "database"] | None = None


MS = IntParam("ms", 0, 60_000, "How long the I/O waits, in milliseconds.")
CALLS = IntParam("n", 1, 32, "How many upstream calls the request makes.")
MODE = ChoiceParam("mode", ("seq", "par"), "seq: one call after another; par: all at once.")
# One unit of work is one step of a linear congruential generator in pure Python, roughly
# 50-100 ns on current hardware, so the maximum pins a core for about a second.
WORK = IntParam("work", 0, 10_000_000, "Units of deterministic pure-Python CPU work.")
OFFLOAD = ChoiceParam(
    "offload",
    ("none", "process"),
    "none: compute in the request handler; process: on a process pool.",
    default="none",
)

HEALTHZ = Endpoint(
    "healthz",
    "/healthz",
    "Liveness; names the app, its concurrency mode, and the catalogue target it serves and the "
    "cores that target was sized for (null when started outside the catalogue).",
)
IO_SLEEP = Endpoint("io_sleep", "/io/sleep", "Waits ms without using CPU.", (MS,))
IO_UPSTREAM = Endpoint(
    "io_upstream",
    "/io/upstream",
    "One HTTP request to the slow upstream service, which answers after ms.",
    (MS,),
    dependency="upstream",
)
IO_DB = Endpoint(
    "io_db",
    "/io/db",
    "A PostgreSQL round trip: SELECT pg_sleep(ms) and a small query, over a pool.",
    (MS,),
    dependency="database",
)
IO_FANOUT = Endpoint(
    "io_fanout",
    "/io/fanout",
    "n upstream calls of ms each, sequential or concurrent.",
    (CALLS, MS, MODE),
    dependency="upstream",
)
CPU = Endpoint("cpu", "/cpu", "Fixed, deterministic CPU work in the handler.", (WORK, OFFLOAD))
IO_BLOCKING = Endpoint(
    "io_blocking",
    "/io/blocking",
    "The classic mistake: a blocking sleep (in an async app, it blocks the event loop).",
    (MS,),
)
# A typical handler in one request: it computes, then waits. The decision map sweeps both
# (blockbench/load/scenarios.toml, [maps]) to find where each concurrency model wins.
CPU_THEN_SLEEP = Endpoint(
    "cpu_then_sleep",
    "/cpu-then-sleep",
    "A handler's life: work units of CPU in the handler, then a wait of ms without CPU.",
    (WORK, MS),
)
# The rows /io/db-row reads; the apps create and fill the table on first use, the same rows
# every time, so the twins' bodies agree.
DB_ROWS = 10_000
ROW_ID = IntParam("id", 1, DB_ROWS, "Which row of the seeded table to read, by primary key.")
IO_DB_ROW = Endpoint(
    "io_db_row",
    "/io/db-row",
    "A primary-key lookup of one row of a seeded table over a pool, after SELECT pg_sleep(ms) "
    "when ms is above 0 (the two peer benchmarks' workloads).",
    (ROW_ID, MS),
    dependency="database",
)

ENDPOINTS: tuple[Endpoint, ...] = (
    HEALTHZ,
    IO_SLEEP,
    IO_UPSTREAM,
    IO_DB,
    IO_FANOUT,
    CPU,
    IO_BLOCKING,
    CPU_THEN_SLEEP,
    IO_DB_ROW,
)
OPENAPI_PATH = "/openapi.json"

# The answer of the small query /io/db runs after its sleep: sum of 1..100.
DB_ANSWER = 5050


class ContractError(Exception):
    """A request the contract answers with an error body instead of a result."""

    status: int = 500

    def body(self) -> JSON:
        raise NotImplementedError

    def headers(self) -> dict[str, str]:
        return {}


class InvalidParameter(ContractError):
    status = 400

    def __init__(self, param: Param, problem: str, raw: str | None = None) -> None:
        super().__init__(f"{param.name}: {problem}")
        self.param = param
        self.problem = problem
        self.raw = raw

    def body(self) -> JSON:
        message = self.param.rule
        if self.problem == "missing":
            message += "; it is missing"
        elif self.problem == "repeated":
            message += "; give it once"
        else:
            message += f"; got {_echo(self.raw or '')!r}"
        return {
            "error": "invalid_parameter",
            "parameter": self.param.name,
            "problem": self.problem,
            "message": message,
            "allowed": self.param.allowed(),
        }


class UnknownParameter(ContractError):
    status = 400

    def __init__(self, endpoint: Endpoint, name: str) -> None:
        super().__init__(name)
        self.endpoint = endpoint
        self.name = name

    def body(self) -> JSON:
        known = [param.name for param in self.endpoint.params]
        listed = ", ".join(known) if known else "none"
        name = _echo(self.name)
        return {
            "error": "unknown_parameter",
            "parameter": name,
            "message": f"{self.endpoint.path} takes no {name!r}; its parameters: {listed}",
            "allowed": known,
        }


class NotFound(ContractError):
    status = 404

    def body(self) -> JSON:
        return {
            "error": "not_found",
            "message": f"No endpoint at this path; GET {OPENAPI_PATH} lists them.",
        }


class MethodNotAllowed(ContractError):
    status = 405

    def body(self) -> JSON:
        return {
            "error": "method_not_allowed",
            "message": "This endpoint only answers GET (and HEAD).",
            "allowed": list(ALLOWED_METHODS),
        }

    def headers(self) -> dict[str, str]:
        return {"Allow": ", ".join(ALLOWED_METHODS)}


class Unavailable(ContractError):
    """The upstream service or the database could not serve this request (503)."""

    status = 503
    _HINTS = {
        "upstream": "is the upstream service running at UPSTREAM_URL?",
        "database": "is DATABASE_URL set and the database up?",
    }

    def __init__(self, dependency: Literal["upstream", "database"]) -> None:
        super().__init__(dependency)
        self.dependency = dependency

    def body(self) -> JSON:
        return {
            "error": f"{self.dependency}_unavailable",
            "message": f"The {self.dependency} did not answer; {self._HINTS[self.dependency]}",
        }


class InternalError(ContractError):
    """Anything unexpected: still a JSON body, the same in both apps."""

    status = 500

    def body(self) -> JSON:
        return {"error": "internal_error", "message": "The server failed; see its log."}


def _echo(raw: str) -> str:
    return raw if len(raw) <= _ECHO_LIMIT else raw[:_ECHO_LIMIT] + "..."


def parse_query(endpoint: Endpoint, query_string: bytes | str) -> Params:
    """Validate a raw query string against an endpoint's parameters.

    Both apps hand over the raw bytes rather than their framework's parsed view, because Flask
    keeps the first of a repeated key and Starlette the last; here a repeat is an error.
    """
    if isinstance(query_string, bytes):
        query_string = query_string.decode("latin-1")
    pairs = parse_qsl(query_string, keep_blank_values=True, encoding="utf-8", errors="replace")
    known = {param.name: param for param in endpoint.params}
    given: dict[str, str] = {}
    for name, raw in pairs:
        param = known.get(name)
        if param is None:
            raise UnknownParameter(endpoint, name)
        if name in given:
            raise InvalidParameter(param, "repeated")
        given[name] = raw
    params: Params = {}
    for param in endpoint.params:
        value = given.get(param.name)
        if value is not None:
            params[param.name] = param.parse(value)
        elif isinstance(param, ChoiceParam) and param.default is not None:
            params[param.name] = param.default
        else:
            raise InvalidParameter(param, "missing")
    return params


def result_body(endpoint: Endpoint, params: Mapping[str, ParamValue], result: JSON) -> JSON:
    """The 200 body: which endpoint answered, the parameters it used, and what it computed."""
    return {"endpoint": endpoint.path, "params": dict(params), "result": result}


def health_body(app: str, interface: str, mode: str, target: str | None, cores: int | None) -> JSON:
    # The target and its cores are all a load generator needs to find the target's limits in
    # the catalogue (its workers follow from the cores): Locust's ceiling tab reads them.
    return {
        "status": "ok",
        "app": app,
        "interface": interface,
        "mode": mode,
        "target": target,
        "cores": cores,
    }


def render(body: JSON) -> bytes:
    """The exact response bytes: sorted keys, no spaces, ASCII only, so both twins agree."""
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def find(path: str) -> Endpoint | None:
    return next((endpoint for endpoint in ENDPOINTS if endpoint.path == path), None)
