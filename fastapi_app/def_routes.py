"""The contract's endpoints as plain ``def`` routes: blocking waits on anyio's thread pool."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from blockbench.apps import contract
from fastapi_app.params import Blocking, Calls, Mode, Ms, Offload, RowId, Work, checked
from fastapi_app.responses import result

router = APIRouter()
GET = list(contract.ALLOWED_METHODS)


@router.api_route(contract.IO_SLEEP.path, methods=GET, name=contract.IO_SLEEP.name)
def io_sleep(
    params: Annotated[contract.Params, Depends(checked(contract.IO_SLEEP))],
    io: Blocking,
    ms: Ms,
) -> Response:
    return result(contract.IO_SLEEP, params, io.run(contract.IO_SLEEP, params))


@router.api_route(contract.IO_UPSTREAM.path, methods=GET, name=contract.IO_UPSTREAM.name)
def io_upstream(
    params: Annotated[contract.Params, Depends(checked(contract.IO_UPSTREAM))],
    io: Blocking,
    ms: Ms,
) -> Response:
    return result(contract.IO_UPSTREAM, params, io.run(contract.IO_UPSTREAM, params))


@router.api_route(contract.IO_DB.path, methods=GET, name=contract.IO_DB.name)
def io_db(
    params: Annotated[contract.Params, Depends(checked(contract.IO_DB))],
    io: Blocking,
    ms: Ms,
) -> Response:
    return result(contract.IO_DB, params, io.run(contract.IO_DB, params))


@router.api_route(contract.IO_FANOUT.path, methods=GET, name=contract.IO_FANOUT.name)
def io_fanout(
    params: Annotated[contract.Params, Depends(checked(contract.IO_FANOUT))],
    io: Blocking,
    n: Calls,
    ms: Ms,
    mode: Mode,
) -> Response:
    return result(contract.IO_FANOUT, params, io.run(contract.IO_FANOUT, params))


@router.api_route(contract.CPU.path, methods=GET, name=contract.CPU.name)
def cpu(
    params: Annotated[contract.Params, Depends(checked(contract.CPU))],
    io: Blocking,
    work: Work,
    offload: Offload = str(contract.OFFLOAD.default),
) -> Response:
    return result(contract.CPU, params, io.run(contract.CPU, params))


@router.api_route(contract.IO_BLOCKING.path, methods=GET, name=contract.IO_BLOCKING.name)
def io_blocking(
    params: Annotated[contract.Params, Depends(checked(contract.IO_BLOCKING))],
    io: Blocking,
    ms: Ms,
) -> Response:
    return result(contract.IO_BLOCKING, params, io.run(contract.IO_BLOCKING, params))


@router.api_route(contract.CPU_THEN_SLEEP.path, methods=GET, name=contract.CPU_THEN_SLEEP.name)
def cpu_then_sleep(
    params: Annotated[contract.Params, Depends(checked(contract.CPU_THEN_SLEEP))],
    io: Blocking,
    work: Work,
    ms: Ms,
) -> Response:
    return result(contract.CPU_THEN_SLEEP, params, io.run(contract.CPU_THEN_SLEEP, params))


@router.api_route(contract.IO_DB_ROW.path, methods=GET, name=contract.IO_DB_ROW.name)
def io_db_row(
    params: Annotated[contract.Params, Depends(checked(contract.IO_DB_ROW))],
    io: Blocking,
    id: RowId,
    ms: Ms,
) -> Response:
    return result(contract.IO_DB_ROW, params, io.run(contract.IO_DB_ROW, params))
