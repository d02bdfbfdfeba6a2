"""The Quart app: the Flask twin's routes on ASGI, ``async def`` views doing asyncio waits.

Quart is Flask's API on an event loop, the path a Flask codebase takes to ASGI. Start it with
``hypercorn 'quart_app.app:create_app()'`` (Quart's default server) or
``uvicorn --factory quart_app.app:create_app``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from quart import Quart, Response, request
from werkzeug.exceptions import HTTPException

from blockbench.apps import contract, openapi
from blockbench.apps.io_async import AsyncIO
from blockbench.apps.settings import AppSettings

log = logging.getLogger("blockbench.quart")

View = Callable[[], Awaitable[Response]]


def _respond(status: int, body: bytes, headers: dict[str, str] | None = None) -> Response:
    return Response(body, status=status, mimetype=contract.MEDIA_TYPE, headers=headers)


def _error(exc: contract.ContractError) -> Response:
    return _respond(exc.status, contract.render(exc.body()), exc.headers())


def _http_error(exc: HTTPException) -> Response:
    # Quart's own 404 and 405 pages are HTML: the contract's bodies replace them.
    if exc.code == 405:
        return _error(contract.MethodNotAllowed())
    if exc.code == 404:
        return _error(contract.NotFound())
    log.error("unexpected HTTP error %s", exc.code)
    return _error(contract.InternalError())


def _unexpected(exc: Exception) -> Response:
    log.error("unhandled error", exc_info=exc)
    return _error(contract.InternalError())


class _Resources:
    """The app's AsyncIO, opened per serving (Quart's lifespan).

    Opened at startup rather than in create_app, so that pools belong to the event loop that
    serves requests. Servers and test clients that skip the lifespan get it on first use.
    """

    def __init__(self, settings: AppSettings) -> None:
        self.settings = settings
        self.current: AsyncIO | None = None

    def open(self) -> AsyncIO:
        if self.current is None:
            self.current = AsyncIO(self.settings)
        return self.current

    async def close(self) -> None:
        io, self.current = self.current, None
        if io is not None:
            await io.close()


def create_app(settings: AppSettings | None = None) -> Quart:
    settings = settings or AppSettings.from_env()
    app = Quart(__name__)
    resources = _Resources(settings)
    app.extensions["blockbench"] = resources
    health = contract.render(
        contract.health_body(
            "quart", "asgi", settings.mode or "event-loop", settings.target, settings.cores
        )
    )

    async def healthz() -> Response:
        contract.parse_query(contract.HEALTHZ, request.query_string)
        return _respond(200, health)

    async def describe() -> Response:
        return _respond(200, openapi.document_bytes())

    def make_view(endpoint: contract.Endpoint) -> View:
        async def view() -> Response:
            params = contract.parse_query(endpoint, request.query_string)
            result = await resources.open().run(endpoint, params)
            return _respond(200, contract.render(contract.result_body(endpoint, params, result)))

        return view

    for endpoint in contract.ENDPOINTS:
        view = healthz if endpoint is contract.HEALTHZ else make_view(endpoint)
        # No automatic OPTIONS: Starlette has none, and the twins must answer alike.
        app.add_url_rule(
            endpoint.path, endpoint.name, view, methods=["GET"], provide_automatic_options=False
        )
    app.add_url_rule(
        contract.OPENAPI_PATH, "openapi", describe, methods=["GET"], provide_automatic_options=False
    )
    app.register_error_handler(contract.ContractError, _error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)

    @app.before_serving
    async def open_resources() -> None:
        resources.open()

    @app.after_serving
    async def close_resources() -> None:
        await resources.close()

    return app
