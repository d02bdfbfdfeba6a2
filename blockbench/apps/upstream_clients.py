"""The HTTP clients an endpoint can call the upstream service with, chosen by UPSTREAM_CLIENT.

Which client a server uses decides, at high concurrency, more of its throughput than its
concurrency model does: httpx's pools spend CPU per request that grows with the number in flight
(httpx issue #3215). So the client is a setting, every serious candidate stays selectable, and
each model's default is the one `benchmarks/http_clients.py` measured as cheapest per call
(docs/http-clients.md has the table).

Every client turns any failure (refused, reset, timed out, a non-2xx answer, a body that is not
a JSON object) into ``contract.Unavailable("upstream")``, the documented 503. The libraries are
imported when a client is made, so an app process loads only the one it uses.
"""

from __future__ import annotations

import asyncio
import functools
import io
import json
import logging
import ssl
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from typing import Any, Literal, Protocol

from blockbench.apps import contract

log = logging.getLogger("blockbench.io")

Family = Literal["async", "blocking"]
# Where a client runs: on an event loop, on OS threads, or on gevent's green threads.
Context = Literal["async", "threads", "gevent"]
Body = dict[str, Any]


@dataclass(frozen=True)
class ClientKind:
    name: str
    family: Family
    # The distribution whose version the results record.
    package: str
    # The contexts it works in: a blocking client must yield under gevent, or it stalls the hub.
    contexts: tuple[Context, ...]


KINDS: tuple[ClientKind, ...] = (
    ClientKind("aiohttp", "async", "aiohttp", ("async",)),
    ClientKind("httpx-aiohttp", "async", "httpx-aiohttp", ("async",)),
    ClientKind("httpx", "async", "httpx", ("async",)),
    ClientKind("urllib3", "blocking", "urllib3", ("threads", "gevent")),
    ClientKind("requests", "blocking", "requests", ("threads", "gevent")),
    # httpx's blocking client shares its name with the async one; the context tells them apart.
    ClientKind("httpx", "blocking", "httpx", ("threads", "gevent")),
    # libcurl does its socket I/O in C, where gevent's patches cannot reach: under gevent a call
    # would block every green thread of the worker.
    ClientKind("pycurl", "blocking", "pycurl", ("threads",)),
    # Built on gevent's own sockets and queues: it needs a gevent hub.
    ClientKind("geventhttpclient", "blocking", "geventhttpclient", ("gevent",)),
)
NAMES: tuple[str, ...] = tuple(dict.fromkeys(kind.name for kind in KINDS))

# Each context's default: the cheapest client per call in benchmarks/http_clients.py, among
# those a well-informed user of that model would pick (docs/http-clients.md).
DEFAULTS: dict[Context, str] = {
    "async": "aiohttp",
    "threads": "urllib3",
    "gevent": "geventhttpclient",
}


class ClientChoiceError(ValueError):
    """UPSTREAM_CLIENT names a client that cannot run where the endpoint runs."""


def choose(name: str | None, context: Context) -> ClientKind:
    """The client for ``context``: ``name`` if it works there, the context's default if None."""
    wanted = name or DEFAULTS[context]
    for kind in KINDS:
        if kind.name == wanted and context in kind.contexts:
            return kind
    usable = [kind.name for kind in KINDS if context in kind.contexts]
    raise ClientChoiceError(
        f"UPSTREAM_CLIENT={wanted!r} cannot serve endpoints that run {_WHERE[context]}; "
        f"choose one of {', '.join(usable)}"
    )


_WHERE: dict[Context, str] = {
    "async": "on an event loop",
    "threads": "on OS threads",
    "gevent": "on gevent's green threads",
}


def running_context(family: Family) -> Context:
    """Where the calling app's blocking or async endpoints run in this process."""
    if family == "async":
        return "async"
    # Asked without importing gevent: a process that never imported it is not patched.
    monkey = sys.modules.get("gevent.monkey")
    patched = monkey is not None and bool(monkey.is_module_patched("socket"))
    return "gevent" if patched else "threads"


def version(kind: ClientKind) -> str | None:
    try:
        return metadata.version(kind.package)
    except metadata.PackageNotFoundError:
        return None


def _unavailable(exc: BaseException) -> contract.Unavailable:
    log.warning("upstream call failed: %r", exc)
    return contract.Unavailable("upstream")


def _body(status: int, raw: bytes) -> Body:
    """The answer's JSON object, or the 503 for anything else."""
    if not 200 <= status < 300:
        raise _unavailable(RuntimeError(f"upstream answered HTTP {status}"))
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise _unavailable(exc) from exc
    if not isinstance(body, dict):
        raise _unavailable(ValueError(f"upstream answered {type(body).__name__}, not an object"))
    return body


@functools.cache
def _tls() -> ssl.SSLContext:
    # Building an SSL context costs about 20 ms of CPU and httpx builds one per client unless
    # given one; Flask's async views make a client per request. The upstream is plain HTTP.
    import httpx

    return httpx.create_ssl_context()


# -- blocking clients: one per app process, shared by its threads or green threads -----------


class BlockingClient(Protocol):
    def get(self, path: str, timeout: float) -> Body: ...
    def close(self) -> None: ...


class _Urllib3:
    def __init__(self, base_url: str, pool_size: int) -> None:
        import urllib3

        # block=True: a thread waits for a free connection instead of opening one it would then
        # throw away, so the pool size is a real cap. No retries: a failed call is a 503.
        self._pool = urllib3.PoolManager(maxsize=pool_size, block=True, retries=False)
        self._base = base_url
        self._timeout = urllib3.Timeout
        self._errors = (urllib3.exceptions.HTTPError, OSError)

    def get(self, path: str, timeout: float) -> Body:
        try:
            response = self._pool.request(
                "GET", self._base + path, timeout=self._timeout(total=timeout), pool_timeout=timeout
            )
        except self._errors as exc:
            raise _unavailable(exc) from exc
        return _body(response.status, response.data)

    def close(self) -> None:
        self._pool.clear()


class _Requests:
    def __init__(self, base_url: str, pool_size: int) -> None:
        import requests
        from requests.adapters import HTTPAdapter

        self._session = requests.Session()
        adapter = HTTPAdapter(pool_maxsize=pool_size, pool_block=True, max_retries=0)
        self._session.mount("http://", adapter)
        self._base = base_url
        self._errors = (requests.RequestException, OSError)

    def get(self, path: str, timeout: float) -> Body:
        try:
            response = self._session.get(self._base + path, timeout=timeout)
        except self._errors as exc:
            raise _unavailable(exc) from exc
        return _body(response.status_code, response.content)

    def close(self) -> None:
        self._session.close()


class _HttpxBlocking:
    def __init__(self, base_url: str, pool_size: int) -> None:
        import httpx

        limits = httpx.Limits(max_connections=pool_size, max_keepalive_connections=pool_size)
        self._client = httpx.Client(base_url=base_url, verify=_tls(), limits=limits)
        self._errors = (httpx.HTTPError, OSError)

    def get(self, path: str, timeout: float) -> Body:
        try:
            response = self._client.get(path, timeout=timeout)
        except self._errors as exc:
            raise _unavailable(exc) from exc
        return _body(response.status_code, response.content)

    def close(self) -> None:
        self._client.close()


class _Pycurl:
    """A libcurl handle per thread: a handle keeps its connection alive between calls."""

    def __init__(self, base_url: str, pool_size: int) -> None:
        import pycurl

        self._pycurl = pycurl
        self._base = base_url
        self._local = threading.local()
        self._handles: list[Any] = []
        self._lock = threading.Lock()

    def _handle(self) -> Any:
        handle = getattr(self._local, "handle", None)
        if handle is None:
            handle = self._local.handle = self._pycurl.Curl()
            # No signals: libcurl's timeouts must not use SIGALRM in a threaded server.
            handle.setopt(self._pycurl.NOSIGNAL, 1)
            with self._lock:
                self._handles.append(handle)
        return handle

    def get(self, path: str, timeout: float) -> Body:
        handle, buffer = self._handle(), io.BytesIO()
        handle.setopt(self._pycurl.URL, self._base + path)
        handle.setopt(self._pycurl.WRITEDATA, buffer)
        handle.setopt(self._pycurl.TIMEOUT_MS, max(1, int(timeout * 1000)))
        try:
            handle.perform()
        except self._pycurl.error as exc:
            raise _unavailable(exc) from exc
        return _body(int(handle.getinfo(self._pycurl.RESPONSE_CODE)), buffer.getvalue())

    def close(self) -> None:
        with self._lock:
            handles, self._handles = self._handles, []
        for handle in handles:
            handle.close()


class _GeventHttpClient:
    def __init__(self, base_url: str, pool_size: int) -> None:
        import gevent
        from geventhttpclient import HTTPClient
        from geventhttpclient.response import HTTPParseError

        # Its own timeouts are per connection; each call's deadline is the gevent.Timeout below.
        self._client = HTTPClient.from_url(
            base_url, concurrency=pool_size, connection_timeout=60.0, network_timeout=3600.0
        )
        self._gevent = gevent
        self._errors = (OSError, ValueError, HTTPParseError)

    def get(self, path: str, timeout: float) -> Body:
        try:
            # gevent.Timeout is a BaseException; asking for TimeoutError makes it an ordinary one.
            with self._gevent.Timeout(timeout, TimeoutError):
                response = self._client.get(path)
                try:
                    raw = response.read()
                finally:
                    response.release()
        except self._errors as exc:
            raise _unavailable(exc) from exc
        return _body(response.status_code, raw)

    def close(self) -> None:
        self._client.close()


_BLOCKING: dict[str, Callable[[str, int], BlockingClient]] = {
    "urllib3": _Urllib3,
    "requests": _Requests,
    "httpx": _HttpxBlocking,
    "pycurl": _Pycurl,
    "geventhttpclient": _GeventHttpClient,
}


def blocking(kind: ClientKind, base_url: str, pool_size: int) -> BlockingClient:
    return _BLOCKING[kind.name](base_url, pool_size)


# -- async clients: one per event loop --------------------------------------------------------


class AsyncClient(Protocol):
    async def get(self, path: str, timeout: float) -> Body: ...
    async def close(self) -> None: ...


class _Aiohttp:
    """aiohttp's session, made on first use: it belongs to the loop that creates it."""

    def __init__(self, base_url: str, pool_size: int) -> None:
        import aiohttp

        self._aiohttp = aiohttp
        self._base = base_url
        self._pool_size = pool_size
        self._session: aiohttp.ClientSession | None = None
        self._errors = (aiohttp.ClientError, asyncio.TimeoutError, OSError)

    def _open(self) -> Any:
        if self._session is None:
            connector = self._aiohttp.TCPConnector(limit=self._pool_size)
            self._session = self._aiohttp.ClientSession(connector=connector)
        return self._session

    async def get(self, path: str, timeout: float) -> Body:
        limit = self._aiohttp.ClientTimeout(total=timeout)
        try:
            async with self._open().get(self._base + path, timeout=limit) as response:
                raw = await response.read()
                status = response.status
        except self._errors as exc:
            raise _unavailable(exc) from exc
        return _body(status, raw)

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()


class _HttpxAsync:
    def __init__(self, base_url: str, pool_size: int, *, on_aiohttp: bool = False) -> None:
        import httpx

        limits = httpx.Limits(max_connections=pool_size, max_keepalive_connections=pool_size)
        transport: httpx.AsyncBaseTransport | None = None
        if on_aiohttp:
            from httpx_aiohttp import AiohttpTransport

            transport = AiohttpTransport(verify=_tls(), limits=limits)
        self._client = httpx.AsyncClient(
            base_url=base_url, verify=_tls(), limits=limits, transport=transport
        )
        self._errors = (httpx.HTTPError, OSError)

    async def get(self, path: str, timeout: float) -> Body:
        try:
            response = await self._client.get(path, timeout=timeout)
        except self._errors as exc:
            raise _unavailable(exc) from exc
        return _body(response.status_code, response.content)

    async def close(self) -> None:
        await self._client.aclose()


def asynchronous(kind: ClientKind, base_url: str, pool_size: int) -> AsyncClient:
    if kind.name == "aiohttp":
        return _Aiohttp(base_url, pool_size)
    return _HttpxAsync(base_url, pool_size, on_aiohttp=kind.name == "httpx-aiohttp")
