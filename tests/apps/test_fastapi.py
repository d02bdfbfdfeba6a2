"""The FastAPI twin's own parts: typed parameters that match the contract, its validation-error
handler, and the thread pool its ``def`` flavour runs on. Its answers are checked against Flask
by the conformance suite (tests/apps/test_conformance.py)."""

from __future__ import annotations

import asyncio
import inspect

import anyio.to_thread
import pytest
from fastapi import APIRouter
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.testclient import TestClient

from blockbench.apps import contract
from blockbench.apps.settings import AppSettings
from fastapi_app import async_routes, def_routes, responses
from fastapi_app.app import create_app

FLAVOURS = {"async": async_routes.router, "def": def_routes.router}


def _routes(router: APIRouter) -> dict[str, APIRoute]:
    return {route.path: route for route in router.routes if isinstance(route, APIRoute)}


@pytest.mark.parametrize("style", FLAVOURS)
def test_each_flavour_types_every_parameter_with_the_contracts_bounds(style: str) -> None:
    routes = _routes(FLAVOURS[style])
    expected = {endpoint.path for endpoint in contract.ENDPOINTS} - {contract.HEALTHZ.path}
    assert set(routes) == expected
    for path, route in routes.items():
        endpoint = contract.find(path)
        assert endpoint is not None
        assert route.methods == set(contract.ALLOWED_METHODS)
        assert inspect.iscoroutinefunction(route.endpoint) == (style == "async")
        declared = {field.name: field for field in route.dependant.query_params}
        assert list(declared) == [param.name for param in endpoint.params], path
        for param in endpoint.params:
            if isinstance(param, contract.IntParam):
                bounds = {
                    type(rule).__name__: rule for rule in declared[param.name].field_info.metadata
                }
                assert bounds["Ge"].ge == param.minimum, (path, param.name)
                assert bounds["Le"].le == param.maximum, (path, param.name)


def _request(path: str, query: bytes) -> Request:
    scope = {"type": "http", "method": "GET", "path": path, "query_string": query, "headers": []}
    return Request(scope)


def test_a_validation_error_gets_the_contracts_400_body() -> None:
    request = _request(contract.IO_SLEEP.path, b"ms=60001")
    reply = asyncio.run(responses.validation_error(request, RequestValidationError([])))
    expected = contract.InvalidParameter(contract.MS, "out_of_range", "60001")
    assert reply.status_code == 400
    assert reply.body == contract.render(expected.body())


def test_a_validation_error_on_what_the_contract_accepts_is_the_apps_fault() -> None:
    request = _request(contract.IO_SLEEP.path, b"ms=5")
    reply = asyncio.run(responses.validation_error(request, RequestValidationError([])))
    assert reply.status_code == 500
    assert reply.body == contract.render(contract.InternalError().body())


async def _tokens() -> float:
    return anyio.to_thread.current_default_thread_limiter().total_tokens


@pytest.mark.parametrize(("tokens", "expected"), [(None, 40), (7, 7)])
def test_def_routes_run_on_anyio_tokens_from_the_settings(
    tokens: int | None, expected: int
) -> None:
    # None keeps anyio's default, the 40 the catalogue records as the def flavour's cap.
    app = create_app(AppSettings(endpoint_style="def", thread_tokens=tokens))
    with TestClient(app) as client:
        assert client.portal is not None
        assert client.portal.call(_tokens) == expected
