"""The contract's endpoints as ``async def`` routes: non-blocking waits on the event loop."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from blockbench.apps import contract
from fastapi_app.params import Calls, Mode, Ms, NonBlocking, Offload, RowId, Work, checked
from fastapi_app.responses import result

router = APIRouter()
GET = list(contract.ALLOWED_METHODS)


@router.api_route(contract.IO_SLEEP.path, methods=GET, name=contract.IO_SLEEP.name)
async def io_sleep(
    params: Annotated[contract.Params, Depends(checked(contract.IO_SLEEP))],
    io: NonBlocking,
    ms: Ms,
) -> Response:
    return result(contract.IO_SLEEP, params, await io.run(contract.IO_SLEEP, params))


@router.api_route(contract.IO_UPSTREAM.path, methods=GET, name=contract.IO_UPSTREAM.name)
async def io_upstream(
    params: Annotated[contract.Params, Depends(checked(contract.IO_UPSTREAM))],
    io: NonBlocking,
    ms: Ms,
) -> Response:
    return result(contract.IO_UPSTREAM, params, await io.run(contract.IO_UPSTREAM, params))


@router.api_route(contract.IO_DB.path, methods=GET, name=contract.IO_DB.name)
async def io_db(
    params: Annotated[contract.Params, Depends(checked(contract.IO_DB))],
    io: NonBlocking,
    ms: Ms,
) -> Response:
    return result(contract.IO_DB, params, await io.run(contract.IO_DB, params))


@router.api_route(contract.IO_FANOUT.path, methods=GET, name=contract.IO_FANOUT.name)
async def io_fanout(
    params: Annotated[contract.Params, Depends(checked(contract.IO_FANOUT))],
    io: NonBlocking,
    n: Calls,
    ms: Ms,
    mode: Mode,
) -> Response:
    return result(contract.IO_FANOUT, params, await io.run(contract.IO_FANOUT, params))


@router.api_route(contract.CPU.path, methods=GET, name=contract.CPU.name)
async def cpu(
    params: Annotated[contract.Params, Depends(checked(contract.CPU))],
    io: NonBlocking,
    work: Work,
    offload: Offload = str(contract.OFFLOAD.default),
) -> Response:
    return result(contract.CPU, params, await io.run(contract.CPU, params))


@router.api_route(contract.IO_BLOCKING.path, methods=GET, name=contract.IO_BLOCKING.name)
async def io_blocking(
    params: Annotated[contract.Params, Depends(checked(contract.IO_BLOCKING))],
    io: NonBlocking,
    ms: Ms,
) -> Response:
    return result(contract.IO_BLOCKING, params, await io.run(contract.IO_BLOCKING, params))


@router.api_route(contract.CPU_THEN_SLEEP.path, methods=GET, name=contract.CPU_THEN_SLEEP.name)
async def cpu_then_sleep(
    params: Annotated[contract.Params, Depends(checked(contract.CPU_THEN_SLEEP))],
    io: NonBlocking,
    work: Work,
    ms: Ms,
) -> Response:
    return result(contract.CPU_THEN_SLEEP, params, await io.run(contract.CPU_THEN_SLEEP, params))


@router.api_route(contract.IO_DB_ROW.path, methods=GET, name=contract.IO_DB_ROW.name)
async def io_db_row(
    params: Annotated[contract.Params, Depends(checked(contract.IO_DB_ROW))],
    io: NonBlocking,
    id: RowId,
    ms: Ms,
) -> Response:
    return result(contract.IO_DB_ROW, params, await io.run(contract.IO_DB_ROW, params))
