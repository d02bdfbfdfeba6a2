"""The slow work behind each endpoint, written the idiomatic blocking way.

Flask uses it, and so does the Starlette app when its endpoints are plain ``def`` functions
(Starlette runs those on anyio's thread pool). Every wait blocks the calling thread; under
gevent's monkey-patching the same calls yield to other green threads instead.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any, Protocol

import psycopg
import psycopg_pool
from psycopg.rows import dict_row

from blockbench.apps import contract, upstream_clients
from blockbench.apps.cpu import pool_child_init, spin
from blockbench.apps.settings import AppSettings

log = logging.getLogger("blockbench.io")

DB_SLEEP = "SELECT pg_sleep(%s)"
DB_QUERY = "SELECT sum(i)::int FROM generate_series(1, 100) AS i"

# /io/db-row's table, created and filled by the apps themselves on first use, with the same rows
# every time so that every twin's bodies agree. Seeding is one transaction that first takes an
# advisory lock: a server's workers and servers sharing one database seed at once on their first
# requests, and CREATE TABLE IF NOT EXISTS alone can still fail when two sessions race.
ROWS_TABLE = "blockbench_rows"
_SEED_LOCK_KEY = 0x626C6B62_726F7773  # "blkbrows": any key no other client of the database uses
DB_SEED = (
    f"SELECT pg_advisory_xact_lock({_SEED_LOCK_KEY})",
    f"CREATE TABLE IF NOT EXISTS {ROWS_TABLE}"
    " (id integer PRIMARY KEY, name text NOT NULL, value integer NOT NULL)",
    f"INSERT INTO {ROWS_TABLE} (id, name, value)"
    " SELECT i, 'row-' || i, (i * 7919) % 100000"
    f" FROM generate_series(1, {contract.DB_ROWS}) AS i ON CONFLICT (id) DO NOTHING",
)
DB_ROW = f"SELECT id, name, value FROM {ROWS_TABLE} WHERE id = %s"
# The databases this process has seeded (by URL): each of its requests after the first finds
# the rows there, so only the first one pays for the seeding.
SEEDED: set[str] = set()


def seed_rows(conn: psycopg.Connection[Any]) -> None:
    """Create and fill /io/db-row's table if it is not already; safe to run at once anywhere."""
    with conn.transaction():
        for statement in DB_SEED:
            conn.execute(statement)


class BlockingIO:
    """One per app process: the pooled HTTP client, the database pool, the process pool, and
    the pool that runs a request's parallel upstream calls."""

    def __init__(self, settings: AppSettings) -> None:
        self.settings = settings
        self.context = upstream_clients.running_context("blocking")
        self.client_kind = upstream_clients.choose(settings.upstream_client, self.context)
        self.http = upstream_clients.blocking(
            self.client_kind, settings.upstream_url, settings.upstream_pool_size
        )
        self._lock = threading.Lock()
        # Apart from _lock: the first db-row requests wait here for the seeding, which is slow.
        self._seeding = threading.Lock()
        self._db: psycopg_pool.ConnectionPool[Any] | None = None
        self._processes: ProcessPoolExecutor | None = None
        self._fanout: FanoutPool | None = None

    def run(self, endpoint: contract.Endpoint, params: contract.Params) -> contract.JSON:
        """Do an endpoint's work and return its result, as the contract's body carries it."""
        ms = int(params.get("ms", 0))
        if endpoint is contract.IO_SLEEP or endpoint is contract.IO_BLOCKING:
            self.sleep(ms)
            return {"waited_ms": ms}
        if endpoint is contract.IO_UPSTREAM:
            return {"upstream": self.upstream(ms)}
        if endpoint is contract.IO_DB:
            return {"answer": self.db(ms)}
        if endpoint is contract.IO_FANOUT:
            return {"calls": len(self.fanout(int(params["n"]), ms, str(params["mode"])))}
        if endpoint is contract.CPU:
            return {"checksum": self.cpu(int(params["work"]), str(params["offload"]))}
        if endpoint is contract.CPU_THEN_SLEEP:
            checksum = spin(int(params["work"]))
            self.sleep(ms)
            return {"checksum": checksum, "waited_ms": ms}
        if endpoint is contract.IO_DB_ROW:
            return {"row": self.db_row(int(params["id"]), ms)}
        raise LookupError(f"no blocking work for {endpoint.path}")

    def sleep(self, ms: int) -> None:
        time.sleep(ms / 1000)

    def upstream(self, ms: int) -> dict[str, Any]:
        timeout = ms / 1000 + self.settings.upstream_timeout_margin
        return self.http.get(f"/delay?ms={ms}", timeout)

    def fanout(self, n: int, ms: int, mode: str) -> list[dict[str, Any]]:
        if mode == "seq":
            return [self.upstream(ms) for _ in range(n)]
        return self._fanout_pool().map(self.upstream, [ms] * n)

    def db(self, ms: int) -> int:
        pool = self._db_pool()
        try:
            with pool.connection() as conn:
                conn.execute(DB_SLEEP, (ms / 1000,))
                row = conn.execute(DB_QUERY).fetchone()
        except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
            log.warning("database round trip failed: %r", exc)
            raise contract.Unavailable("database") from exc
        assert row is not None
        answer: int = row[0]
        return answer

    def db_row(self, row_id: int, ms: int) -> dict[str, Any]:
        pool = self._db_pool()
        try:
            with pool.connection() as conn:
                self._seed(conn)
                if ms > 0:
                    conn.execute(DB_SLEEP, (ms / 1000,))
                row = conn.cursor(row_factory=dict_row).execute(DB_ROW, (row_id,)).fetchone()
        except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
            log.warning("database row lookup failed: %r", exc)
            raise contract.Unavailable("database") from exc
        assert row is not None, f"row {row_id} of {ROWS_TABLE} is missing"
        found: dict[str, Any] = row
        return found

    def _seed(self, conn: psycopg.Connection[Any]) -> None:
        url = str(self.settings.database_url)
        if url in SEEDED:
            return
        with self._seeding:
            if url not in SEEDED:
                seed_rows(conn)
                SEEDED.add(url)

    def cpu(self, work: int, offload: str) -> int:
        if offload == "process":
            return self._process_pool().submit(spin, work).result()
        return spin(work)

    def _db_pool(self) -> psycopg_pool.ConnectionPool[Any]:
        if self.settings.database_url is None:
            raise contract.Unavailable("database")
        with self._lock:
            if self._db is None:
                self._db = psycopg_pool.ConnectionPool(
                    self.settings.database_url,
                    min_size=1,
                    max_size=self.settings.db_pool_size,
                    timeout=self.settings.db_pool_timeout,
                    kwargs={"autocommit": True, "connect_timeout": 5},
                    open=False,
                )
                self._db.open(wait=False)
            return self._db

    def _fanout_pool(self) -> FanoutPool:
        with self._lock:
            if self._fanout is None:
                size = self.settings.fanout_pool_size
                self._fanout = GreenletPool(size) if self.context == "gevent" else ThreadPool(size)
            return self._fanout

    def _process_pool(self) -> ProcessPoolExecutor:
        # Created on first use, inside the worker process, so a forking server never shares one.
        with self._lock:
            if self._processes is None:
                self._processes = ProcessPoolExecutor(
                    max_workers=self.settings.cpu_processes, initializer=pool_child_init
                )
            return self._processes

    def close(self) -> None:
        self.http.close()
        if self._fanout is not None:
            self._fanout.close()
        if self._db is not None:
            self._db.close()
        if self._processes is not None:
            self._processes.shutdown(cancel_futures=True)


class FanoutPool(Protocol):
    def map(
        self, call: Callable[[int], dict[str, Any]], args: list[int]
    ) -> list[dict[str, Any]]: ...

    def close(self) -> None: ...


class ThreadPool:
    """One thread pool per process for the parallel calls of every request, the way a threaded
    app does it: starting threads per request would cost more than the calls."""

    def __init__(self, size: int) -> None:
        self._threads = ThreadPoolExecutor(max_workers=size, thread_name_prefix="fanout")

    def map(self, call: Callable[[int], dict[str, Any]], args: list[int]) -> list[dict[str, Any]]:
        return list(self._threads.map(call, args))

    def close(self) -> None:
        self._threads.shutdown(wait=False, cancel_futures=True)


class GreenletPool:
    """Under gevent, a gevent pool: spawning a greenlet is cheap and a thread pool's queue would
    only add a hop."""

    def __init__(self, size: int) -> None:
        import gevent.pool

        self._greenlets = gevent.pool.Pool(size)

    def map(self, call: Callable[[int], dict[str, Any]], args: list[int]) -> list[dict[str, Any]]:
        return list(self._greenlets.map(call, args))

    def close(self) -> None:
        self._greenlets.kill(block=False)
