"""/io/db and /io/db-row against the real PostgreSQL, the seeding of /io/db-row's table, and
their 503 when there is no database or it is down."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from blockbench.apps import contract, io_blocking
from blockbench.apps.settings import AppSettings
from tests.apps import twins

pytestmark = pytest.mark.db

DB_URLS = ("/io/db?ms=1", "/io/db-row?id=1&ms=1")


def expected_row(url: str) -> bytes:
    """The exact body of a GET of /io/db-row: the seeded rows, typed out again here."""
    params = contract.parse_query(contract.IO_DB_ROW, url.partition("?")[2])
    row_id = int(params["id"])
    row = {"id": row_id, "name": f"row-{row_id}", "value": row_id * 7919 % 100_000}
    return contract.render(contract.result_body(contract.IO_DB_ROW, params, {"row": row}))


@pytest.fixture
def fresh_schema(database_url: str) -> Iterator[Callable[[], tuple[str, str]]]:
    """Makes empty schemas, each with a conninfo whose tables live there, and drops them after:
    the seeding is tested from nothing without touching the table other tests (and runs) read."""
    made: list[str] = []

    def make() -> tuple[str, str]:
        schema = f"blockbench_test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        made.append(schema)
        return schema, make_conninfo(database_url, options=f"-c search_path={schema}")

    yield make
    with psycopg.connect(database_url, autocommit=True) as conn:
        for schema in made:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def _rows(conninfo: str) -> list[tuple[int, str, int]]:
    with psycopg.connect(conninfo) as conn:
        query = f"SELECT id, name, value FROM {io_blocking.ROWS_TABLE} ORDER BY id"
        return conn.execute(query).fetchall()


def _seed(conninfo: str) -> None:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        io_blocking.seed_rows(conn)


def test_seeding_takes_turns_and_is_idempotent(
    database_url: str, fresh_schema: Callable[[], tuple[str, str]]
) -> None:
    schema, conninfo = fresh_schema()
    seeders = 4
    with (
        psycopg.connect(database_url, autocommit=True) as holder,
        ThreadPoolExecutor(max_workers=seeders) as pool,
    ):
        # Hold the seeders' lock, as a first seeder would, and start the others at once.
        with holder.transaction():
            holder.execute(io_blocking.DB_SEED[0])
            started = [pool.submit(_seed, conninfo) for _ in range(seeders)]
            done, _ = wait(started, timeout=0.5)
            assert not done, "a seeder went ahead without the lock"
            name = f"{schema}.{io_blocking.ROWS_TABLE}"
            assert holder.execute("SELECT to_regclass(%s)", (name,)).fetchone() == (None,)
        # Released: they seed in turn, and none fails for another having created the table.
        for seeder in started:
            seeder.result(timeout=30)
    rows = _rows(conninfo)
    assert len(rows) == contract.DB_ROWS
    assert rows[0] == (1, "row-1", 7919)
    assert rows[41] == (42, "row-42", 32598)
    assert rows[-1] == (contract.DB_ROWS, f"row-{contract.DB_ROWS}", 90000)
    # Seeding again changes nothing, and puts back a row that went missing.
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f"DELETE FROM {io_blocking.ROWS_TABLE} WHERE id = 42")
    _seed(conninfo)
    assert _rows(conninfo) == rows


# Every twin, by client name, each in-process on its own.
TWINS = ("flask", "starlette", "quart", *twins.FASTAPI_STYLES)


@contextlib.contextmanager
def _twin(settings: AppSettings, name: str) -> Iterator[twins.Client]:
    if name == "quart":
        with twins.quart_in_process(settings) as quart:
            yield quart
    elif name in twins.FASTAPI_STYLES:
        with twins.fastapi_in_process(settings, name) as fastapi:
            yield fastapi
    else:
        with twins.in_process(settings) as (flask, starlette):
            yield flask if name == "flask" else starlette


ROW_URLS = ("/io/db-row?id=1&ms=0", "/io/db-row?id=4242&ms=0", "/io/db-row?id=10000&ms=0")


@pytest.mark.parametrize("name", TWINS)
def test_db_row_seeds_its_table_on_first_use(
    upstream_url: str, fresh_schema: Callable[[], tuple[str, str]], name: str
) -> None:
    # A schema of its own, so that each twin seeds an empty one (a process seeds a database
    # once, and the twins here share one process).
    _, conninfo = fresh_schema()
    settings = AppSettings(upstream_url=upstream_url, database_url=conninfo)
    with _twin(settings, name) as client:
        for url in ROW_URLS:
            reply = client.request("GET", url)
            assert (reply.status, reply.body) == (200, expected_row(url))
            assert reply.headers["content-type"] == contract.MEDIA_TYPE
    assert len(_rows(conninfo)) == contract.DB_ROWS


@pytest.mark.parametrize("name", TWINS)
def test_db_row_sleeps_first_when_asked(upstream_url: str, database_url: str, name: str) -> None:
    settings = AppSettings(upstream_url=upstream_url, database_url=database_url)
    with _twin(settings, name) as client:
        client.request("GET", "/io/db-row?id=1&ms=0")  # opens the pool, seeds
        started = time.perf_counter()
        reply = client.request("GET", "/io/db-row?id=77&ms=100")
        elapsed = time.perf_counter() - started
    assert (reply.status, reply.body) == (200, expected_row("?id=77&ms=100"))
    # pg_sleep ran first: the reply cannot come before the database slept.
    assert elapsed >= 0.1


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
            for url in ("/io/db-row?id=9&ms=0", "/io/db-row?id=9999&ms=300"):
                started = time.perf_counter()
                reply = client.request("GET", url)
                elapsed = time.perf_counter() - started
                assert (reply.status, reply.body) == (200, expected_row(url)), client.name
            assert elapsed >= 0.3


def test_no_database_url_is_a_clear_503(upstream_url: str) -> None:
    settings = AppSettings(upstream_url=upstream_url)
    with (
        twins.in_process(settings) as (flask, starlette),
        twins.quart_in_process(settings) as quart,
    ):
        for url in DB_URLS:
            flask_reply = flask.request("GET", url)
            starlette_reply = starlette.request("GET", url)
            quart_reply = quart.request("GET", url)
            assert flask_reply.status == 503
            assert flask_reply.json()["error"] == "database_unavailable"
            assert "DATABASE_URL" in flask_reply.json()["message"]
            assert (
                flask_reply.comparable() == starlette_reply.comparable() == quart_reply.comparable()
            )


def test_database_down_is_a_503_not_a_hang(upstream_url: str, closed_port: int) -> None:
    down = f"postgresql://bench:bench@127.0.0.1:{closed_port}/bench"
    settings = AppSettings(upstream_url=upstream_url, database_url=down, db_pool_timeout=1.0)
    with (
        twins.in_process(settings) as (flask, starlette),
        twins.quart_in_process(settings) as quart,
    ):
        for url in DB_URLS:
            started = time.perf_counter()
            flask_reply = flask.request("GET", url)
            starlette_reply = starlette.request("GET", url)
            quart_reply = quart.request("GET", url)
            elapsed = time.perf_counter() - started
            assert flask_reply.status == 503
            assert (
                flask_reply.comparable() == starlette_reply.comparable() == quart_reply.comparable()
            )
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
