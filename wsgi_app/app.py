"""The Flask app: routes from the endpoint contract, blocking waits, contract-rendered bodies.

Start it with ``gunicorn 'wsgi_app.app:create_app()'``. With ENDPOINT_STYLE=async its views are
``async def`` functions doing asyncio waits, which Flask runs through asgiref (see
wsgi_app.async_views): the common belief is that this makes Flask non-blocking.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, request
from flask.typing import RouteCallable
from werkzeug.exceptions import HTTPException

from blockbench.apps import contract, openapi
from blockbench.apps.io_blocking import BlockingIO
from blockbench.apps.settings import AppSettings
from wsgi_app import async_views

log = logging.getLogger("blockbench.flask")


def _respond(status: int, body: bytes, headers: dict[str, str] | None = None) -> Response:
    return Response(body, status=status, mimetype=contract.MEDIA_TYPE, headers=headers)


def _error(exc: contract.ContractError) -> Response:
    return _respond(exc.status, contract.render(exc.body()), exc.headers())


def _http_error(exc: HTTPException) -> Response:
    if exc.code == 405:
        return _error(contract.MethodNotAllowed())
    if exc.code == 404:
        return _error(contract.NotFound())
    log.exception("unexpected HTTP error", exc_info=exc)
    return _error(contract.InternalError())


def _unexpected(exc: Exception) -> Response:
    log.exception("unhandled error", exc_info=exc)
    return _error(contract.InternalError())


def create_app(settings: AppSettings | None = None) -> Flask:
    settings = settings or AppSettings.from_env()
    app = Flask(__name__)
    io = BlockingIO(settings)
    app.extensions["blockbench"] = io
    async_style = settings.endpoint_style == "async"
    default_mode = "async-views" if async_style else "blocking"
    health = contract.render(
        contract.health_body(
            "flask", "wsgi", settings.mode or default_mode, settings.target, settings.cores
        )
    )

    def healthz() -> Response:
        contract.parse_query(contract.HEALTHZ, request.query_string)
        return _respond(200, health)

    def describe() -> Response:
        return _respond(200, openapi.document_bytes())

    def make_view(endpoint: contract.Endpoint) -> RouteCallable:
        def view() -> Response:
            params = contract.parse_query(endpoint, request.query_string)
            result = io.run(endpoint, params)
            return _respond(200, contract.render(contract.result_body(endpoint, params, result)))

        async def async_view() -> Response:
            params = contract.parse_query(endpoint, request.query_string)
            result = await async_views.run(settings, io, endpoint, params)
            return _respond(200, contract.render(contract.result_body(endpoint, params, result)))

        return async_view if async_style else view

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
    return app
