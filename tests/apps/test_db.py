"""/io/db against the real PostgreSQL, and its 503 when there is none or it is down."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from blockbench.apps import contract
from blockbench.apps.settings import AppSettings
from tests.apps import twins

pytestmark = pytest.mark.db


def test_db_round_trip_in_process(upstream_url: str, database_url: str) -> None:
    settings = AppSettings(upstream_url=upstream_url, database_url=database_url)
    with (
        twins.in_process(settings) as (flask, starlette),
        twins.quart_in_process(settings) as quart,
    ):
        flask_reply = flask.request("GET", "/io/db?ms=50")
        starlette_reply = starlette.request("GET", "/io/db?ms=50")
        quart_reply = quart.request("GET", "/io/db?ms=50")
    assert flask_reply.status == 200, flask_reply.body
    assert flask_reply.json()["result"] == {"answer": contract.DB_ANSWER}
    assert flask_reply.comparable() == starlette_reply.comparable() == quart_reply.comparable()


@pytest.mark.parametrize("name", twins.FASTAPI_STYLES)
def test_fastapi_db_round_trip_in_process(upstream_url: str, database_url: str, name: str) -> None:
    settings = AppSettings(upstream_url=upstream_url, database_url=database_url)
    with twins.in_process(settings) as (flask, _):
        flask_reply = flask.request("GET", "/io/db?ms=50")
    with twins.fastapi_in_process(settings, name) as other:
        other_reply = other.request("GET", "/io/db?ms=50")
    assert other_reply.status == 200, other_reply.body
    assert other_reply.json()["result"] == {"answer": contract.DB_ANSWER}
    assert flask_reply.comparable() == other_reply.comparable()


@pytest.mark.integration
def test_db_round_trip_live_waits_in_the_database(
    upstream_url: str, database_url: str, logs_dir: Path
) -> None:
    settings = AppSettings(upstream_url=upstream_url, database_url=database_url)
    with twins.live(settings, logs_dir / "db") as (flask, starlette):
        for client in (flask, starlette):
            client.request("GET", "/io/db?ms=0")  # opens the pool
            started = time.perf_counter()
            reply = client.request("GET", "/io/db?ms=300")
            elapsed = time.perf_counter() - started
            assert reply.status == 200, reply.body
            assert reply.json()["result"] == {"answer": contract.DB_ANSWER}
            # pg_sleep really ran: the reply cannot come before the database slept.
            assert elapsed >= 0.3


def test_no_database_url_is_a_clear_503(upstream_url: str) -> None:
    settings = AppSettings(upstream_url=upstream_url)
    with (
        twins.in_process(settings) as (flask, starlette),
        twins.quart_in_process(settings) as quart,
    ):
        flask_reply = flask.request("GET", "/io/db?ms=1")
        starlette_reply = starlette.request("GET", "/io/db?ms=1")
        quart_reply = quart.request("GET", "/io/db?ms=1")
    assert flask_reply.status == 503
    assert flask_reply.json()["error"] == "database_unavailable"
    assert "DATABASE_URL" in flask_reply.json()["message"]
    assert flask_reply.comparable() == starlette_reply.comparable() == quart_reply.comparable()


def test_database_down_is_a_503_not_a_hang(upstream_url: str, closed_port: int) -> None:
    down = f"postgresql://bench:bench@127.0.0.1:{closed_port}/bench"
    settings = AppSettings(upstream_url=upstream_url, database_url=down, db_pool_timeout=1.0)
    with (
        twins.in_process(settings) as (flask, starlette),
        twins.quart_in_process(settings) as quart,
    ):
        started = time.perf_counter()
        flask_reply = flask.request("GET", "/io/db?ms=1")
        starlette_reply = starlette.request("GET", "/io/db?ms=1")
        quart_reply = quart.request("GET", "/io/db?ms=1")
        elapsed = time.perf_counter() - started
    assert flask_reply.status == 503
    assert flask_reply.comparable() == starlette_reply.comparable() == quart_reply.comparable()
    assert elapsed < 10  # bounded by DB_POOL_TIMEOUT, with room for a slow machine


def test_upstream_down_is_a_503(closed_port: int) -> None:
    down = f"http://127.0.0.1:{closed_port}"
    settings = AppSettings(upstream_url=down)
    with (
        twins.in_process(settings) as (flask, starlette),
        twins.quart_in_process(settings) as quart,
    ):
        for url in ("/io/upstream?ms=1", "/io/fanout?n=2&ms=1&mode=par"):
            flask_reply = flask.request("GET", url)
            assert flask_reply.status == 503
            assert flask_reply.json()["error"] == "upstream_unavailable"
            assert flask_reply.comparable() == starlette.request("GET", url).comparable()
            assert flask_reply.comparable() == quart.request("GET", url).comparable()
