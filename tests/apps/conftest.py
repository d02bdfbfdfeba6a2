"""The twins, in-process and live, configured against the session's real upstream service."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from blockbench.apps.settings import AppSettings
from tests.apps import twins


@pytest.fixture(scope="session")
def settings(upstream_url: str) -> AppSettings:
    # No database here: tests/apps/test_db.py brings its own settings.
    return AppSettings(upstream_url=upstream_url, db_pool_timeout=2.0)


@pytest.fixture(scope="session")
def inprocess_twins(settings: AppSettings) -> Iterator[tuple[twins.Client, twins.Client]]:
    with twins.in_process(settings) as pair:
        yield pair


@pytest.fixture(scope="session")
def live_twins(
    settings: AppSettings, logs_dir: Path
) -> Iterator[tuple[twins.LiveClient, twins.LiveClient]]:
    with twins.live(settings, logs_dir) as pair:
        yield pair


@pytest.fixture(scope="session")
def inprocess_fastapi(settings: AppSettings) -> Iterator[dict[str, twins.Client]]:
    with contextlib.ExitStack() as stack:
        yield {
            name: stack.enter_context(twins.fastapi_in_process(settings, name))
            for name in twins.FASTAPI_STYLES
        }


@pytest.fixture(scope="session")
def live_fastapi(settings: AppSettings, logs_dir: Path) -> Iterator[dict[str, twins.LiveClient]]:
    with contextlib.ExitStack() as stack:
        yield {
            name: stack.enter_context(twins.live_fastapi(settings, logs_dir, name))
            for name in twins.FASTAPI_STYLES
        }


@pytest.fixture(scope="session")
def inprocess_quart(settings: AppSettings) -> Iterator[twins.Client]:
    with twins.quart_in_process(settings) as quart:
        yield quart


@pytest.fixture(scope="session")
def live_quart(settings: AppSettings, logs_dir: Path) -> Iterator[twins.Client]:
    with twins.quart_live(settings, logs_dir) as quart:
        yield quart


# Flask is the reference; every other twin is compared with it, in-process and live.
OTHERS = ("starlette", *twins.FASTAPI_STYLES, "quart")
WHERE = ("in-process", "live")


@pytest.fixture(
    params=[
        pytest.param(
            (where, other),
            id=f"{where}-{other}",
            marks=[pytest.mark.integration] if where == "live" else [],
        )
        for where in WHERE
        for other in OTHERS
    ]
)
def both(request: pytest.FixtureRequest) -> tuple[twins.Client, twins.Client]:
    """Each conformance case runs against Flask and one other twin, in-process and as real
    servers: (flask, other)."""
    where, other = request.param
    live = where == "live"
    pair: tuple[twins.Client, twins.Client] = request.getfixturevalue(
        "live_twins" if live else "inprocess_twins"
    )
    if other == "starlette":
        return pair
    if other == "quart":
        quart: twins.Client = request.getfixturevalue("live_quart" if live else "inprocess_quart")
        return pair[0], quart
    fastapi: dict[str, twins.Client] = request.getfixturevalue(
        "live_fastapi" if live else "inprocess_fastapi"
    )
    return pair[0], fastapi[other]
