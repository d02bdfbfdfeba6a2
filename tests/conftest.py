"""Fixtures shared by the whole suite: the real upstream service, a real PostgreSQL, a port
nothing listens on, the scenario catalogue, and for tests that start catalogue targets the CPU
budget and the target catalogue."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from blockbench.load import scenarios
from blockbench.targets import catalogue, database, pinning, supervisor
from blockbench.targets.catalogue import Catalogue
from blockbench.targets.pinning import CpuBudget
from tests import servers


@pytest.fixture(scope="session")
def budget() -> CpuBudget:
    return pinning.budget()


@pytest.fixture(scope="session")
def targets(budget: CpuBudget) -> Catalogue:
    return catalogue.load(cores=budget.cores)


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
def database_url(logs_dir: Path) -> Iterator[str]:
    """A real PostgreSQL: DATABASE_URL's, or else the embedded one, started once for the session.

    Never skipped: a database test that cannot get a server fails. The embedded server is
    sized for every target of the catalogue connecting at once, the most any test starts.
    """
    url = os.environ.get("DATABASE_URL")
    if url:
        yield url
        return
    budget = pinning.budget()
    targets = catalogue.load(cores=budget.cores).targets
    connections = database.max_connections(database.pool_connections(t) for t in targets)
    # On the CPUs the targets leave, as in a run: the engine's tests measure targets on theirs.
    with database.running(
        max_connections=connections, log_path=logs_dir / "postgres.log", budget=budget
    ) as server:
        yield server.url


@pytest.fixture(scope="session")
def scenario_catalogue() -> scenarios.Catalogue:
    """The shipped scenarios and profiles (blockbench/load/scenarios.toml)."""
    return scenarios.load()


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on: a connection to it is refused at once."""
    return supervisor.free_port()
