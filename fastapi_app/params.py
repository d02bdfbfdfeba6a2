"""The typed query parameters and the dependencies every route of the FastAPI twin shares.

The bounds come from the endpoint contract. FastAPI's own parsing is laxer than the contract
(pydantic takes "+5" and keeps the last of a repeated key, and unknown keys pass), so each route
also depends on ``checked``, which runs the contract's parser on the raw query string first;
its error is the one the client sees, byte for byte as in the other twins.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Query, Request

from blockbench.apps import contract
from blockbench.apps.io_async import AsyncIO
from blockbench.apps.io_blocking import BlockingIO
from blockbench.apps.settings import AppSettings


def _bounded(param: contract.IntParam) -> object:
    return Query(ge=param.minimum, le=param.maximum, description=param.description)


Ms = Annotated[int, _bounded(contract.MS)]
Calls = Annotated[int, _bounded(contract.CALLS)]
Work = Annotated[int, _bounded(contract.WORK)]
RowId = Annotated[int, _bounded(contract.ROW_ID)]
Mode = Annotated[str, Query(description=contract.MODE.description)]
Offload = Annotated[str, Query(description=contract.OFFLOAD.description)]


def checked(endpoint: contract.Endpoint) -> Callable[[Request], Awaitable[contract.Params]]:
    # async, so that it never takes one of the thread pool's tokens from a `def` endpoint.
    async def parse(request: Request) -> contract.Params:
        return contract.parse_query(endpoint, request.scope["query_string"])

    return parse


async def _settings(request: Request) -> AppSettings:
    settings: AppSettings = request.app.state.settings
    return settings


async def _async_io(request: Request) -> AsyncIO:
    io = request.app.state.resources.open()
    assert isinstance(io, AsyncIO)
    return io


async def _blocking_io(request: Request) -> BlockingIO:
    io = request.app.state.resources.open()
    assert isinstance(io, BlockingIO)
    return io


Settings = Annotated[AppSettings, Depends(_settings)]
NonBlocking = Annotated[AsyncIO, Depends(_async_io)]
Blocking = Annotated[BlockingIO, Depends(_blocking_io)]
