"""Clients for the twin apps, in-process and over real sockets, behind one small interface.

The conformance suite sends each request to both twins through these and compares replies.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol, cast

import httpx
from starlette.testclient import TestClient

from asgi_app.app import create_app as create_starlette
from blockbench.apps.settings import AppSettings
from blockbench.targets import supervisor
from blockbench.targets.catalogue import Target
from blockbench.targets.launch import start_target
from blockbench.targets.pinning import CpuBudget
from fastapi_app.app import create_app as create_fastapi
from quart_app.app import create_app as create_quart
from tests import servers
from wsgi_app.app import create_app as create_flask

# Fields of /healthz that name the app itself (and the catalogue target serving it, with the
# cores it was sized for), which is all the twins may differ in.
APP_IDENTITY = ("app", "interface", "mode", "target", "cores")


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def comparable(self) -> tuple[int, str | None, str | None, Any]:
        """What must be identical between the twins: status, content type, Allow, body."""
        body: Any = self.body
        if self.body:
            body = self.json()
            if isinstance(body, dict) and body.get("status") == "ok":
                body = {key: value for key, value in body.items() if key not in APP_IDENTITY}
        return (self.status, self.headers.get("content-type"), self.headers.get("allow"), body)


class Client(Protocol):
    name: str

    def request(self, method: str, url: str) -> Reply: ...


class FlaskClient:
    def __init__(self, settings: AppSettings) -> None:
        self.name = "flask"
        self.app = create_flask(settings)
        self._client = self.app.test_client()

    def request(self, method: str, url: str) -> Reply:
        response = self._client.open(url, method=method)
        headers = {key.lower(): value for key, value in response.headers.items()}
        return Reply(response.status_code, headers, response.get_data())


class StarletteClient:
    """Any ASGI twin through Starlette's TestClient (FastAPI's is the same class)."""

    def __init__(self, client: TestClient, name: str = "starlette") -> None:
        self.name = name
        self._client = client

    def request(self, method: str, url: str) -> Reply:
        response = self._client.request(method, url)
        return Reply(response.status_code, dict(response.headers), response.content)


class QuartClient:
    """The Quart twin driven as an ASGI app through httpx, as a server would call it.

    One event loop for the client's life, so that the app's pools belong to it; the lifespan
    (Quart's startup and shutdown) runs on it as a server runs it.
    """

    def __init__(self, settings: AppSettings) -> None:
        self.name = "quart"
        self.app = create_quart(settings)
        self._loop = asyncio.new_event_loop()
        self._loop.run_until_complete(self.app.startup())
        # Quart types ASGI messages as TypedDicts, httpx as plain mappings: the same protocol.
        transport = httpx.ASGITransport(app=cast(Any, self.app))
        self._client = httpx.AsyncClient(transport=transport, base_url="http://testserver")

    def request(self, method: str, url: str) -> Reply:
        response = self._loop.run_until_complete(self._client.request(method, url))
        return Reply(response.status_code, dict(response.headers), response.content)

    def close(self) -> None:
        try:
            self._loop.run_until_complete(self._client.aclose())
            self._loop.run_until_complete(self.app.shutdown())
        finally:
            self._loop.close()


class LiveClient:
    def __init__(self, name: str, base_url: str) -> None:
        self.name = name
        self._client = httpx.Client(base_url=base_url, timeout=30)

    def request(self, method: str, url: str) -> Reply:
        response = self._client.request(method, url)
        return Reply(response.status_code, dict(response.headers), response.content)

    def close(self) -> None:
        self._client.close()


@contextlib.contextmanager
def in_process(settings: AppSettings) -> Iterator[tuple[Client, Client]]:
    flask = FlaskClient(settings)
    try:
        with TestClient(create_starlette(settings)) as starlette:
            yield flask, StarletteClient(starlette)
    finally:
        # Flask has no lifespan: close its pools here, as a server's exit would.
        flask.app.extensions["blockbench"].close()


# The FastAPI twin's two flavours, by client name: its ENDPOINT_STYLE.
FASTAPI_STYLES = {"fastapi": "async", "fastapi-def": "def"}


@contextlib.contextmanager
def fastapi_in_process(settings: AppSettings, name: str) -> Iterator[Client]:
    app = create_fastapi(replace(settings, endpoint_style=FASTAPI_STYLES[name]))
    with TestClient(app) as client:
        yield StarletteClient(client, name)


@contextlib.contextmanager
def quart_in_process(settings: AppSettings) -> Iterator[QuartClient]:
    quart = QuartClient(settings)
    try:
        yield quart
    finally:
        quart.close()


def app_env(settings: AppSettings) -> dict[str, str]:
    env = {
        "UPSTREAM_URL": settings.upstream_url,
        "DB_POOL_TIMEOUT": str(settings.db_pool_timeout),
        "DATABASE_URL": settings.database_url or "",
    }
    return env


@contextlib.contextmanager
def live(settings: AppSettings, logs: Path) -> Iterator[tuple[LiveClient, LiveClient]]:
    """Both twins as real servers on loopback: Flask on gunicorn, Starlette on uvicorn."""
    with contextlib.ExitStack() as stack:
        flask = stack.enter_context(
            serving("flask", servers.flask(logs / "flask.log", app_env(settings)))
        )
        starlette = stack.enter_context(
            serving("starlette", servers.starlette(logs / "starlette.log", app_env(settings)))
        )
        yield flask, starlette


@contextlib.contextmanager
def serving(name: str, process: supervisor.ManagedProcess) -> Iterator[LiveClient]:
    """A client named ``name`` of a server just started; both closed on the way out."""
    client = LiveClient(name, process.url)
    try:
        yield client
    finally:
        client.close()
        process.stop()


def live_fastapi(
    settings: AppSettings, logs: Path, name: str
) -> contextlib.AbstractContextManager[LiveClient]:
    """One flavour of the FastAPI twin as a real server on loopback, on uvicorn."""
    env = app_env(settings) | {"ENDPOINT_STYLE": FASTAPI_STYLES[name]}
    return serving(name, servers.fastapi(logs / f"{name}.log", env))


def live_quart(settings: AppSettings, logs: Path) -> contextlib.AbstractContextManager[LiveClient]:
    """The Quart twin as a real server on loopback, on Hypercorn."""
    return serving("quart", servers.quart(logs / "quart.log", app_env(settings)))


def live_target(
    target: Target, settings: AppSettings, logs: Path, budget: CpuBudget
) -> contextlib.AbstractContextManager[LiveClient]:
    """A catalogue target as the harness starts it (its server, workers and pinning), named
    after it: the conformance suite runs against every server of the catalogue this way."""
    port = supervisor.free_port()
    process = start_target(target, port=port, budget=budget, log_dir=logs, env=app_env(settings))
    return serving(target.name, process)
