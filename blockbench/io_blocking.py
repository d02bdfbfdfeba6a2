"""The slow work behind each endpoint, written the idiomatic blocking way.

Flask uses it, and so does the Starlette app when its endpoints are plain ``def`` functions
(Starlette runs those on anyio's thread pool). Every wait blocks the calling thread; under
gevent's monkey-patching the same calls yield to other green threads instead.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any

import httpx
import psycopg
import psycopg_pool

from blockbench import contract
from blockbench.cpu import pool_child_init, spin
from blockbench.settings import AppSettings

log = logging.getLogger("blockbench.io")

DB_SLEEP = "SELECT pg_sleep(%s)"
DB_QUERY = "SELECT sum(i)::int FROM generate_series(1, 100) AS i"


class BlockingIO:
    """One per app process: the pooled HTTP client, the database pool, the process pool."""

    def __init__(self, settings: AppSettings) -> None:
        self.settings = settings
        self.http = httpx.Client(
            base_url=settings.upstream_url,
            limits=httpx.Limits(
                max_connections=settings.upstream_pool_size,
                max_keepalive_connections=settings.upstream_pool_size,
            ),
        )
        self._lock = threading.Lock()
        self._db: psycopg_pool.ConnectionPool[Any] | None = None
        self._processes: ProcessPoolExecutor | None = None

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
        raise LookupError(f"no blocking work for {endpoint.path}")

    def sleep(self, ms: int) -> None:
        time.sleep(ms / 1000)

    def upstream(self, ms: int) -> dict[str, Any]:
        timeout = ms / 1000 + self.settings.upstream_timeout_margin
        try:
            response = self.http.get("/delay", params={"ms": ms}, timeout=timeout)
            response.raise_for_status()
            body: dict[str, Any] = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("upstream call failed: %r", exc)
            raise contract.Unavailable("upstream") from exc
        return body

    def fanout(self, n: int, ms: int, mode: str) -> list[dict[str, Any]]:
        if mode == "seq":
            return [self.upstream(ms) for _ in range(n)]
        # A pool per request, sized to the request: no shared pool can become a hidden cap.
        with ThreadPoolExecutor(max_workers=n) as threads:
            return list(threads.map(self.upstream, [ms] * n))

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
        if self._db is not None:
            self._db.close()
        if self._processes is not None:
            self._processes.shutdown(cancel_futures=True)
