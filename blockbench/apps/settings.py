"""The twin apps' configuration, read from the environment in one place.

Every default works on a laptop with nothing else running: the upstream service on its default
port, no database (then /io/db answers 503).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from blockbench.apps import upstream_clients

DEFAULT_UPSTREAM_HOST = "127.0.0.1"
DEFAULT_UPSTREAM_PORT = 8900
DEFAULT_UPSTREAM_URL = f"http://{DEFAULT_UPSTREAM_HOST}:{DEFAULT_UPSTREAM_PORT}"
# Requests one app process can have in flight, as its server is configured. The target
# catalogue sets it for each target; pools are sized from it so they are never the hidden cap.
DEFAULT_CONCURRENCY = 100
# /io/fanout sends up to this many calls per request at once; the default HTTP pool allows it
# for every in-flight request of the typical fan-out in the scenarios.
FANOUT_POOL_FACTOR = 4
A2WSGI_DEFAULT_THREADS = 10
# An app process whose server sets no limit (a bare event loop: the catalogue sets no
# CONCURRENCY for it) may have any number of requests in flight. Its upstream pool is sized for
# the most the shipped profiles send (1,000 users x 4 fan-out calls), so that no level is capped
# by the pool rather than by the model; measured: with 400 connections Starlette on uvicorn
# stopped at 4,000 calls/s, ~900 fan-out requests/s, with its core a third idle.
UNBOUNDED_UPSTREAM_POOL = 1000 * FANOUT_POOL_FACTOR


class SettingsError(ValueError):
    """A configuration value in the environment that cannot be used; names the key."""


def _int(env: Mapping[str, str], key: str, default: int, minimum: int = 1) -> int:
    raw = env.get(key)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{key} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{key} must be at least {minimum}, got {value}")
    return value


def _float(env: Mapping[str, str], key: str, default: float) -> float:
    raw = env.get(key)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{key} must be a number of seconds, got {raw!r}") from None
    if value <= 0:
        raise SettingsError(f"{key} must be positive, got {value}")
    return value


def _choice(
    env: Mapping[str, str], key: str, default: str | None, choices: tuple[str, ...]
) -> str | None:
    value = env.get(key) or default
    if value is not None and value not in choices:
        raise SettingsError(f"{key} must be one of {', '.join(choices)}, got {value!r}")
    return value


@dataclass(frozen=True)
class AppSettings:
    upstream_url: str = DEFAULT_UPSTREAM_URL
    database_url: str | None = None
    concurrency: int = DEFAULT_CONCURRENCY
    upstream_pool_size: int = UNBOUNDED_UPSTREAM_POOL
    db_pool_size: int = DEFAULT_CONCURRENCY
    # How long a request may wait for a pooled database connection before it gets a 503.
    db_pool_timeout: float = 10.0
    # Added to the requested ms: how much slower than asked the upstream may be before a 503.
    upstream_timeout_margin: float = 10.0
    cpu_processes: int = field(default_factory=lambda: os.cpu_count() or 1)
    # Which style the endpoints take; None is each app's own: Starlette "async" (the event loop),
    # Flask "def". Starlette "def" runs them on anyio's thread pool; Flask "async" registers
    # ``async def`` views, which Flask runs through asgiref, one fresh event loop per request.
    endpoint_style: str | None = None
    # anyio's thread-pool tokens for "def" endpoints; None keeps anyio's default of 40.
    thread_tokens: int | None = None
    # Threads of a2wsgi's WSGIMiddleware when Flask runs under an ASGI server (wsgi_app.asgi).
    # a2wsgi's own default is 10, a ceiling users rarely notice; the catalogue sets it.
    a2wsgi_threads: int = A2WSGI_DEFAULT_THREADS
    # The HTTP client for upstream calls (blockbench.apps.upstream_clients); None is the default of
    # where the endpoints run: aiohttp on an event loop, urllib3 on threads, geventhttpclient
    # under gevent.
    upstream_client: str | None = None
    # What /healthz reports: the catalogue target name, its concurrency model, and the cores
    # the catalogue sized its workers for.
    target: str | None = None
    mode: str | None = None
    cores: int | None = None

    @property
    def fanout_pool_size(self) -> int:
        # The threads (or greenlets) that make a process's parallel upstream calls: as many as
        # the HTTP pool has connections, since a call beyond that would only wait for one.
        return self.upstream_pool_size

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AppSettings:
        env = os.environ if env is None else env
        concurrency = _int(env, "CONCURRENCY", DEFAULT_CONCURRENCY)
        # The database pool stays at CONCURRENCY even then: PostgreSQL allows 100 connections.
        bounded = bool(env.get("CONCURRENCY"))
        pool = concurrency * FANOUT_POOL_FACTOR if bounded else UNBOUNDED_UPSTREAM_POOL
        tokens = env.get("THREAD_TOKENS")
        return cls(
            upstream_url=(env.get("UPSTREAM_URL") or DEFAULT_UPSTREAM_URL).rstrip("/"),
            database_url=env.get("DATABASE_URL") or None,
            concurrency=concurrency,
            upstream_pool_size=_int(env, "UPSTREAM_POOL_SIZE", pool),
            db_pool_size=_int(env, "DB_POOL_SIZE", concurrency),
            db_pool_timeout=_float(env, "DB_POOL_TIMEOUT", 10.0),
            upstream_timeout_margin=_float(env, "UPSTREAM_TIMEOUT_MARGIN", 10.0),
            cpu_processes=_int(env, "CPU_PROCESSES", os.cpu_count() or 1),
            endpoint_style=_choice(env, "ENDPOINT_STYLE", None, ("async", "def")),
            thread_tokens=_int(env, "THREAD_TOKENS", 40) if tokens else None,
            a2wsgi_threads=_int(env, "A2WSGI_THREADS", A2WSGI_DEFAULT_THREADS),
            upstream_client=_choice(env, "UPSTREAM_CLIENT", None, upstream_clients.NAMES),
            target=env.get("BLOCKBENCH_TARGET") or None,
            mode=env.get("BLOCKBENCH_MODE") or None,
            cores=_int(env, "BLOCKBENCH_CORES", 0) or None,
        )
