"""The slow work behind each endpoint, written the idiomatic non-blocking way (asyncio).

The Starlette app's ``async def`` endpoints use it. Every wait yields to the event loop, except
in ``blocking_sleep`` and in CPU work done in place, which are there to show what happens
when something does not.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import psycopg
import psycopg_pool
from psycopg.rows import dict_row

from blockbench.apps import contract, upstream_clients
from blockbench.apps.cpu import pool_child_init, spin
from blockbench.apps.io_blocking import DB_QUERY, DB_ROW, DB_SEED, DB_SLEEP, ROWS_TABLE, SEEDED
from blockbench.apps.settings import AppSettings

log = logging.getLogger("blockbench.io")


class AsyncIO:
    """One per app process (event loop): pooled HTTP client, database pool, process pool."""

    def __init__(self, settings: AppSettings) -> None:
        self.settings = settings
        self.client_kind = upstream_clients.choose(settings.upstream_client, "async")
        self.http = upstream_clients.asynchronous(
            self.client_kind, settings.upstream_url, settings.upstream_pool_size
        )
        self._db: psycopg_pool.AsyncConnectionPool[Any] | None = None
        self._db_lock = asyncio.Lock()
        self._seeding = asyncio.Lock()
        self._processes: ProcessPoolExecutor | None = None

    async def run(self, endpoint: contract.Endpoint, params: contract.Params) -> contract.JSON:
        """Do an endpoint's work and return its result, as the contract's body carries it."""
        ms = int(params.get("ms", 0))
        if endpoint is contract.IO_SLEEP:
            await self.sleep(ms)
            return {"waited_ms": ms}
        if endpoint is contract.IO_BLOCKING:
            self.blocking_sleep(ms)
            return {"waited_ms": ms}
        if endpoint is contract.IO_UPSTREAM:
            return {"upstream": await self.upstream(ms)}
        if endpoint is contract.IO_DB:
            return {"answer": await self.db(ms)}
        if endpoint is contract.IO_FANOUT:
            bodies = await self.fanout(int(params["n"]), ms, str(params["mode"]))
            return {"calls": len(bodies)}
        if endpoint is contract.CPU:
            return {"checksum": await self.cpu(int(params["work"]), str(params["offload"]))}
        if endpoint is contract.CPU_THEN_SLEEP:
            # The work holds the event loop, as a handler's own code does; only the wait yields.
            checksum = spin(int(params["work"]))
            await self.sleep(ms)
            return {"checksum": checksum, "waited_ms": ms}
        if endpoint is contract.IO_DB_ROW:
            return {"row": await self.db_row(int(params["id"]), ms)}
        raise LookupError(f"no async work for {endpoint.path}")

    async def sleep(self, ms: int) -> None:
        await asyncio.sleep(ms / 1000)

    def blocking_sleep(self, ms: int) -> None:
        # Deliberately wrong: time.sleep inside async code stops the whole event loop.
        time.sleep(ms / 1000)

    async def upstream(self, ms: int) -> dict[str, Any]:
        timeout = ms / 1000 + self.settings.upstream_timeout_margin
        return await self.http.get(f"/delay?ms={ms}", timeout)

    async def fanout(self, n: int, ms: int, mode: str) -> list[dict[str, Any]]:
        if mode == "seq":
            return [await self.upstream(ms) for _ in range(n)]
        # The event loop's own way: every call a task, no pool; the HTTP pool is the only cap.
        return list(await asyncio.gather(*(self.upstream(ms) for _ in range(n))))

    async def db(self, ms: int) -> int:
        pool = await self._db_pool()
        try:
            async with pool.connection() as conn:
                await conn.execute(DB_SLEEP, (ms / 1000,))
                cursor = await conn.execute(DB_QUERY)
                row = await cursor.fetchone()
        except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
            log.warning("database round trip failed: %r", exc)
            raise contract.Unavailable("database") from exc
        assert row is not None
        answer: int = row[0]
        return answer

    async def db_row(self, row_id: int, ms: int) -> dict[str, Any]:
        pool = await self._db_pool()
        try:
            async with pool.connection() as conn:
                await self._seed(conn)
                if ms > 0:
                    await conn.execute(DB_SLEEP, (ms / 1000,))
                cursor = await conn.cursor(row_factory=dict_row).execute(DB_ROW, (row_id,))
                row = await cursor.fetchone()
        except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
            log.warning("database row lookup failed: %r", exc)
            raise contract.Unavailable("database") from exc
        assert row is not None, f"row {row_id} of {ROWS_TABLE} is missing"
        found: dict[str, Any] = row
        return found

    async def _seed(self, conn: psycopg.AsyncConnection[Any]) -> None:
        # Once per process (io_blocking.SEEDED); the lock keeps a burst of first requests from
        # each taking a connection to wait on the database's lock in turn.
        url = str(self.settings.database_url)
        if url in SEEDED:
            return
        async with self._seeding:
            if url not in SEEDED:
                async with conn.transaction():
                    for statement in DB_SEED:
                        await conn.execute(statement)
                SEEDED.add(url)

    async def cpu(self, work: int, offload: str) -> int:
        if offload == "process":
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._process_pool(), functools.partial(spin, work))
        # In the async def itself, which is the honest cost: the loop waits for it.
        return spin(work)

    async def _db_pool(self) -> psycopg_pool.AsyncConnectionPool[Any]:
        if self.settings.database_url is None:
            raise contract.Unavailable("database")
        async with self._db_lock:
            if self._db is None:
                pool: psycopg_pool.AsyncConnectionPool[Any] = psycopg_pool.AsyncConnectionPool(
                    self.settings.database_url,
                    min_size=1,
                    max_size=self.settings.db_pool_size,
                    timeout=self.settings.db_pool_timeout,
                    kwargs={"autocommit": True, "connect_timeout": 5},
                    open=False,
                )
                await pool.open(wait=False)
                self._db = pool
            return self._db

    def _process_pool(self) -> ProcessPoolExecutor:
        if self._processes is None:
            self._processes = ProcessPoolExecutor(
                max_workers=self.settings.cpu_processes, initializer=pool_child_init
            )
        return self._processes

    async def close(self) -> None:
        await self.http.close()
        if self._db is not None:
            await self._db.close()
        if self._processes is not None:
            self._processes.shutdown(cancel_futures=True)
