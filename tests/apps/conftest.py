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


@pytest.fixture(params=["in-process", pytest.param("live", marks=pytest.mark.integration)])
def both(request: pytest.FixtureRequest) -> tuple[twins.Client, twins.Client]:
    """Each conformance case runs against the twins in-process and as real servers."""
    fixture = "inprocess_twins" if request.param == "in-process" else "live_twins"
    pair: tuple[twins.Client, twins.Client] = request.getfixturevalue(fixture)
    return pair
