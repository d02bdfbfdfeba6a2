"""The Starlette app as a WSGI app: a2wsgi's ASGIMiddleware, the reverse migration path.

Start it with ``gunicorn 'asgi_app.wsgi:create_app()'``. The middleware runs one event loop in a
background thread of each worker process; every WSGI request thread hands its request to that
loop and blocks until the answer is complete, so the WSGI server's threads stay the ceiling.
ASGIMiddleware sends no lifespan events: the app opens its resources on first use instead.
"""

from __future__ import annotations

from typing import cast

from a2wsgi import ASGIMiddleware
from a2wsgi.asgi_typing import ASGIApp

from asgi_app.app import create_app as create_starlette
from blockbench.apps.settings import AppSettings


def create_app(settings: AppSettings | None = None) -> ASGIMiddleware:
    settings = settings or AppSettings.from_env()
    # a2wsgi types ASGI messages as TypedDicts, Starlette as mappings: the same ASGI callable.
    starlette = cast(ASGIApp, create_starlette(settings))
    return ASGIMiddleware(starlette)
