"""Responses with the contract's bytes, and the handlers that turn every error into them."""

from __future__ import annotations

import logging

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from blockbench.apps import contract

log = logging.getLogger("blockbench.fastapi")


def respond(status: int, body: bytes, headers: dict[str, str] | None = None) -> Response:
    return Response(body, status_code=status, media_type=contract.MEDIA_TYPE, headers=headers)


def result(endpoint: contract.Endpoint, params: contract.Params, value: contract.JSON) -> Response:
    return respond(200, contract.render(contract.result_body(endpoint, params, value)))


def error(exc: contract.ContractError) -> Response:
    return respond(exc.status, contract.render(exc.body()), exc.headers())


async def contract_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, contract.ContractError)
    return error(exc)


async def validation_error(request: Request, exc: Exception) -> Response:
    """FastAPI refused a parameter: answer with the contract's verdict on the same query.

    The contract's parser runs first on every route, so this is reached only if FastAPI refuses
    what the contract accepts; that is a disagreement in this app, not a client error.
    """
    assert isinstance(exc, RequestValidationError)
    endpoint = contract.find(request.url.path)
    if endpoint is not None:
        try:
            contract.parse_query(endpoint, request.scope["query_string"])
        except contract.ContractError as refused:
            return error(refused)
    log.error("FastAPI refused what the contract accepts: %s", exc.errors())
    return error(contract.InternalError())


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        return error(contract.MethodNotAllowed())
    if exc.status_code == 404:
        return error(contract.NotFound())
    log.error("unexpected HTTP error %s", exc.status_code)
    return error(contract.InternalError())


async def unexpected(request: Request, exc: Exception) -> Response:
    log.error("unhandled error", exc_info=exc)
    return error(contract.InternalError())
