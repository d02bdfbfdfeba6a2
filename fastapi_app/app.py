"""The FastAPI app: the contract's routes on an APIRouter, ``async def`` by default.

Start it with ``uvicorn --factory fastapi_app.app:create_app``. With ENDPOINT_STYLE=def its
routes are plain functions doing blocking waits, which FastAPI runs on anyio's thread pool
(40 tokens unless THREAD_TOKENS says otherwise).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Depends, FastAPI, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from asgi_app.app import Resources
from blockbench.apps import contract, openapi
from blockbench.apps.settings import AppSettings
from fastapi_app import async_routes, def_routes, responses
from fastapi_app.params import Settings, checked

meta = APIRouter()


@meta.api_route(contract.HEALTHZ.path, methods=list(contract.ALLOWED_METHODS), name="healthz")
async def healthz(
    params: Annotated[contract.Params, Depends(checked(contract.HEALTHZ))], settings: Settings
) -> Response:
    default_mode = "threadpool" if settings.endpoint_style == "def" else "event-loop"
    mode = settings.mode or default_mode
    body = contract.health_body("fastapi", "asgi", mode, settings.target, settings.cores)
    return responses.respond(200, contract.render(body))


@meta.api_route(contract.OPENAPI_PATH, methods=list(contract.ALLOWED_METHODS), name="openapi")
async def describe() -> Response:
    # The contract's own description, the same document every twin serves.
    return responses.respond(200, openapi.document_bytes())


def create_app(settings: AppSettings | None = None) -> FastAPI:
    settings = settings or AppSettings.from_env()
    resources = Resources(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.thread_tokens is not None:
            anyio.to_thread.current_default_thread_limiter().total_tokens = settings.thread_tokens
        resources.open()
        try:
            yield
        finally:
            await resources.close()

    # FastAPI's generated docs are off: /openapi.json is the contract's, as in the other twins.
    app = FastAPI(lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None)
    # Flask answers /healthz/ with 404, so FastAPI must not redirect it to /healthz.
    app.router.redirect_slashes = False
    app.state.settings = settings
    app.state.resources = resources
    app.include_router(meta)
    routes = def_routes if settings.endpoint_style == "def" else async_routes
    app.include_router(routes.router)
    app.add_exception_handler(contract.ContractError, responses.contract_error)
    app.add_exception_handler(RequestValidationError, responses.validation_error)
    app.add_exception_handler(HTTPException, responses.http_error)
    app.add_exception_handler(Exception, responses.unexpected)
    return app
