"""Fixtures shared by the whole suite: the real upstream service, the database URL, a port
nothing listens on, and the scenario catalogue."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from blockbench.load import scenarios
from blockbench.targets import supervisor
from tests import servers


@pytest.fixture(scope="session")
def logs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("logs")


@pytest.fixture(scope="session")
def upstream_url(logs_dir: Path) -> Iterator[str]:
    """The real slow upstream service, on a free loopback port, for the whole session."""
    process = servers.upstream(logs_dir / "upstream.log")
    yield process.url
    process.stop()


@pytest.fixture(scope="session")
def database_url() -> str:
    """The real PostgreSQL of ``scripts/test`` (CI runs ``shared/ci/postgres.sh`` first).

    Skipped on a developer machine without one; on CI a missing database fails the test, so
    the database tests can never silently stop running.
    """
    url = os.environ.get("DATABASE_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("DATABASE_URL is not set on CI; .ci/run must start PostgreSQL first")
        pytest.skip("DATABASE_URL is not set; run shared/ci/postgres.sh and export it")
    return url


@pytest.fixture(scope="session")
def scenario_catalogue() -> scenarios.Catalogue:
    """The shipped scenarios and profiles (blockbench/load/scenarios.toml)."""
    return scenarios.load()


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on: a connection to it is refused at once."""
    return supervisor.free_port()
