"""The twins, in-process and live, configured against the session's real upstream service."""

from __future__ import annotations

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
def inprocess_quart(settings: AppSettings) -> Iterator[twins.Client]:
    with twins.quart_in_process(settings) as quart:
        yield quart


@pytest.fixture(scope="session")
def live_quart(settings: AppSettings, logs_dir: Path) -> Iterator[twins.Client]:
    with twins.quart_live(settings, logs_dir) as quart:
        yield quart


LIVE = pytest.mark.integration


@pytest.fixture(
    params=[
        pytest.param(("in-process", "starlette"), id="in-process"),
        pytest.param(("in-process", "quart"), id="in-process-quart"),
        pytest.param(("live", "starlette"), id="live", marks=LIVE),
        pytest.param(("live", "quart"), id="live-quart", marks=LIVE),
    ]
)
def both(request: pytest.FixtureRequest) -> tuple[twins.Client, twins.Client]:
    """Each conformance case runs in-process and as real servers, comparing Flask with each of
    the other twins in turn: Starlette, then Quart."""
    where, other = request.param
    fixture = "inprocess_twins" if where == "in-process" else "live_twins"
    flask, starlette = request.getfixturevalue(fixture)
    if other == "starlette":
        return flask, starlette
    quart: twins.Client = request.getfixturevalue(f"{fixture.split('_')[0]}_quart")
    return flask, quart
