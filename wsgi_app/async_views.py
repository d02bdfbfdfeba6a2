"""The work behind Flask's ``async def`` views (ENDPOINT_STYLE=async), one request at a time.

Flask runs an ``async def`` view through asgiref's ``async_to_sync``, which starts a fresh event
loop in a helper thread for every request and closes it afterwards, while the worker waits. An
``httpx.AsyncClient`` or a psycopg async pool is bound to the loop it first ran on, so nothing of
the kind can be shared between requests: each request opens its own client and pool and closes
them before its loop ends. That cost, and the worker still serving one request at a time, is what
a target with async views measures.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor

from blockbench.apps import contract
from blockbench.apps.io_async import AsyncIO
from blockbench.apps.io_blocking import BlockingIO
from blockbench.apps.settings import AppSettings


class _RequestIO(AsyncIO):
    """AsyncIO for one request; the process pool is the app's, as it outlives any loop."""

    def __init__(self, settings: AppSettings, shared: BlockingIO) -> None:
        super().__init__(settings)
        self._shared = shared

    def _process_pool(self) -> ProcessPoolExecutor:
        # Forking a process pool per request would measure process start-up, not the view.
        return self._shared._process_pool()


async def run(
    settings: AppSettings, shared: BlockingIO, endpoint: contract.Endpoint, params: contract.Params
) -> contract.JSON:
    io = _RequestIO(settings, shared)
    try:
        return await io.run(endpoint, params)
    finally:
        await io.close()
