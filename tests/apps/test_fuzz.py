"""Schema-driven fuzzing of every endpoint of the twins (Flask, Starlette, FastAPI in both its
flavours, Quart), from the OpenAPI description.

Schemathesis generates valid and invalid queries; no input may get a 5xx, except the 503 the
contract documents for an endpoint whose upstream or database is unavailable. Responses must
also match the description (status codes, content type, body schemas).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import hypothesis
import pytest
import schemathesis
from fastapi import FastAPI
from flask import Flask
from quart import Quart
from schemathesis import GenerationMode
from starlette.applications import Starlette

from asgi_app.app import create_app as create_starlette
from blockbench.apps import contract, openapi
from blockbench.apps.settings import AppSettings
from fastapi_app.app import create_app as create_fastapi
from quart_app.app import create_app as create_quart
from wsgi_app.app import create_app as create_flask

# Valid waits are shrunk to a few milliseconds (and valid CPU work to a little) so a fuzz run
# stays short; invalid values are left as generated, since those are what is being tested.
_SHRINK = {"ms": 20, "work": 5_000}


def _shrink_valid_values(context: Any, query: dict[str, Any] | None) -> dict[str, Any] | None:
    if not query:
        return query
    shrunk = dict(query)
    for name, modulus in _SHRINK.items():
        value = shrunk.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 60_000:
            shrunk[name] = value % modulus
    return shrunk


def _configure(schema: Any) -> Any:
    schema.hook("map_query")(_shrink_valid_values)
    return schema


@pytest.fixture(scope="module")
def flask_app(upstream_url: str) -> Iterator[Flask]:
    app = create_flask(AppSettings(upstream_url=upstream_url, db_pool_timeout=1.0))
    yield app
    app.extensions["blockbench"].close()


@pytest.fixture(scope="module")
def starlette_app(upstream_url: str) -> Starlette:
    return create_starlette(AppSettings(upstream_url=upstream_url, db_pool_timeout=1.0))


@pytest.fixture(scope="module")
def quart_app(upstream_url: str) -> Quart:
    return create_quart(AppSettings(upstream_url=upstream_url, db_pool_timeout=1.0))


def _fastapi(upstream_url: str, style: str) -> FastAPI:
    settings = AppSettings(upstream_url=upstream_url, db_pool_timeout=1.0)
    return create_fastapi(replace(settings, endpoint_style=style))


@pytest.fixture(scope="module")
def fastapi_app(upstream_url: str) -> FastAPI:
    """The FastAPI twin's async def routes."""
    return _fastapi(upstream_url, "async")


@pytest.fixture(scope="module")
def fastapi_def_app(upstream_url: str) -> FastAPI:
    """The FastAPI twin's plain def routes, on the thread pool."""
    return _fastapi(upstream_url, "def")


@pytest.fixture(scope="module")
def flask_schema(flask_app: Flask) -> Any:
    return _configure(schemathesis.openapi.from_wsgi(contract.OPENAPI_PATH, flask_app))


@pytest.fixture(scope="module")
def starlette_schema(starlette_app: Starlette) -> Any:
    return _configure(schemathesis.openapi.from_asgi(contract.OPENAPI_PATH, starlette_app))


@pytest.fixture(scope="module")
def quart_schema(quart_app: Quart) -> Any:
    return _configure(schemathesis.openapi.from_asgi(contract.OPENAPI_PATH, quart_app))


@pytest.fixture(scope="module")
def fastapi_schema(fastapi_app: FastAPI) -> Any:
    return _configure(schemathesis.openapi.from_asgi(contract.OPENAPI_PATH, fastapi_app))


@pytest.fixture(scope="module")
def fastapi_def_schema(fastapi_def_app: FastAPI) -> Any:
    return _configure(schemathesis.openapi.from_asgi(contract.OPENAPI_PATH, fastapi_def_app))


def _check(case: Any) -> None:
    response = case.call()
    endpoint = contract.find(case.operation.path)
    assert endpoint is not None
    documented_503 = endpoint.dependency is not None and response.status_code == 503
    assert response.status_code < 500 or documented_503, (case.query, response.content)
    # Its own 5xx rule above replaces schemathesis' "not a server error".
    case.validate_response(response, excluded_checks=[schemathesis.checks.not_a_server_error])


# Drives schemathesis' strategies with hypothesis directly: its pytest plugin
# (schemathesis.pytest.from_fixture) does not work with pytest 9 yet.
@pytest.mark.parametrize(
    ("path", "mode"),
    [
        (endpoint.path, mode)
        for endpoint in contract.ENDPOINTS
        for mode in GenerationMode
        # Nothing can be invalid about a request to an endpoint that takes no parameters.
        if endpoint.params or mode is GenerationMode.POSITIVE
    ],
)
@pytest.mark.parametrize(
    "schema_fixture",
    ["flask_schema", "starlette_schema", "fastapi_schema", "fastapi_def_schema", "quart_schema"],
)
def test_no_input_gets_an_undocumented_5xx(
    schema_fixture: str, path: str, mode: GenerationMode, request: pytest.FixtureRequest
) -> None:
    schema = request.getfixturevalue(schema_fixture)
    strategy = schema[path]["GET"].as_strategy(generation_mode=mode)

    @hypothesis.settings(max_examples=40, deadline=None, database=None)
    @hypothesis.given(case=strategy)
    def fuzz(case: Any) -> None:
        _check(case)

    fuzz()


def test_the_fuzzer_reads_every_endpoint() -> None:
    assert set(openapi.document()["paths"]) == {e.path for e in contract.ENDPOINTS}
