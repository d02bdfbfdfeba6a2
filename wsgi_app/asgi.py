"""The Flask app as an ASGI app: a2wsgi's WSGIMiddleware, the "just wrap it" migration.

Start it with ``uvicorn --factory wsgi_app.asgi:create_app``. Every request still runs the
blocking Flask view, on the middleware's thread pool; its size (A2WSGI_THREADS) is written out
because a2wsgi's silent default of 10 threads is the real ceiling of the wrapped app.
"""

from __future__ import annotations

from typing import cast

from a2wsgi import WSGIMiddleware
from a2wsgi.wsgi_typing import WSGIApp

from blockbench.apps.settings import AppSettings
from wsgi_app.app import create_app as create_flask


def create_app(settings: AppSettings | None = None) -> WSGIMiddleware:
    settings = settings or AppSettings.from_env()
    # a2wsgi types the environ as a TypedDict, Flask as a plain dict: the same WSGI callable.
    flask = cast(WSGIApp, create_flask(settings))
    return WSGIMiddleware(flask, workers=settings.a2wsgi_threads)
