"""The Starlette app: routes from the endpoint contract, non-blocking waits by default.

Start it with ``uvicorn --factory asgi_app.app:create_app``. With ENDPOINT_STYLE=def its
endpoints are plain functions doing blocking waits, which Starlette runs on anyio's thread pool.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import anyio.to_thread
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, Router

from blockbench.apps import contract, openapi
from blockbench.apps.io_async import AsyncIO
from blockbench.apps.io_blocking import BlockingIO
from blockbench.apps.settings import AppSettings

log = logging.getLogger("blockbench.starlette")


def _respond(status: int, body: bytes, headers: dict[str, str] | None = None) -> Response:
    return Response(body, status_code=status, media_type=contract.MEDIA_TYPE, headers=headers)


def _error(exc: contract.ContractError) -> Response:
    return _respond(exc.status, contract.render(exc.body()), exc.headers())


async def _contract_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, contract.ContractError)
    return _error(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        return _error(contract.MethodNotAllowed())
    if exc.status_code == 404:
        return _error(contract.NotFound())
    log.error("unexpected HTTP error %s", exc.status_code)
    return _error(contract.InternalError())


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.error("unhandled error", exc_info=exc)
    return _error(contract.InternalError())


Endpoint = Callable[[Request], Awaitable[Response]] | Callable[[Request], Response]


class Resources:
    """The app's I/O resources, opened per lifespan.

    Opened at startup rather than in create_app, so that pools belong to the event loop that
    serves requests and a server (or test client) that runs the lifespan twice gets fresh ones.
    Servers that skip the lifespan get them on first use.
    """

    def __init__(self, settings: AppSettings) -> None:
        self.settings = settings
        self.current: AsyncIO | BlockingIO | None = None

    def open(self) -> AsyncIO | BlockingIO:
        if self.current is None:
            if self.settings.endpoint_style == "def":
                self.current = BlockingIO(self.settings)
            else:
                self.current = AsyncIO(self.settings)
        return self.current

    async def close(self) -> None:
        io, self.current = self.current, None
        if isinstance(io, AsyncIO):
            await io.close()
        elif io is not None:
            io.close()


def _async_view(resources: Resources, endpoint: contract.Endpoint) -> Endpoint:
    async def view(request: Request) -> Response:
        params = contract.parse_query(endpoint, request.scope["query_string"])
        io = resources.open()
        assert isinstance(io, AsyncIO)
        result = await io.run(endpoint, params)
        return _respond(200, contract.render(contract.result_body(endpoint, params, result)))

    return view


def _def_view(resources: Resources, endpoint: contract.Endpoint) -> Endpoint:
    def view(request: Request) -> Response:
        params = contract.parse_query(endpoint, request.scope["query_string"])
        io = resources.open()
        assert isinstance(io, BlockingIO)
        result = io.run(endpoint, params)
        return _respond(200, contract.render(contract.result_body(endpoint, params, result)))

    return view


def create_app(settings: AppSettings | None = None) -> Starlette:
    settings = settings or AppSettings.from_env()
    resources = Resources(settings)
    default_mode = "threadpool" if settings.endpoint_style == "def" else "event-loop"
    health = contract.render(
        contract.health_body(
            "starlette", "asgi", settings.mode or default_mode, settings.target, settings.cores
        )
    )

    async def healthz(request: Request) -> Response:
        contract.parse_query(contract.HEALTHZ, request.scope["query_string"])
        return _respond(200, health)

    async def describe(request: Request) -> Response:
        return _respond(200, openapi.document_bytes())

    make_view = _def_view if settings.endpoint_style == "def" else _async_view
    routes = [Route(contract.HEALTHZ.path, healthz, methods=["GET"], name="healthz")]
    for endpoint in contract.ENDPOINTS:
        if endpoint is not contract.HEALTHZ:
            routes.append(
                Route(
                    endpoint.path,
                    make_view(resources, endpoint),
                    methods=["GET"],
                    name=endpoint.name,
                )
            )
    routes.append(Route(contract.OPENAPI_PATH, describe, methods=["GET"], name="openapi"))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if settings.thread_tokens is not None:
            anyio.to_thread.current_default_thread_limiter().total_tokens = settings.thread_tokens
        resources.open()
        try:
            yield
        finally:
            await resources.close()

    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={
            contract.ContractError: _contract_error,
            HTTPException: _http_error,
            Exception: _unexpected,
        },
    )
    # Flask answers /healthz/ with 404, so Starlette must not redirect it to /healthz.
    assert isinstance(app.router, Router)
    app.router.redirect_slashes = False
    app.state.resources = resources
    return app
