"""The report tests' results, and a site built from them once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from blockbench.report import site as report
from blockbench.results import Run, load_run
from tests import recorded
from tests.blockbench.report import map_runs


@pytest.fixture(scope="session")
def results_dir() -> Path:
    """Real results of two short runs (tests/recorded.py)."""
    return recorded.RESULTS


@pytest.fixture(scope="session")
def runs(results_dir: Path) -> list[Run]:
    return [load_run(folder) for folder in report.find_runs(results_dir, None)]


@pytest.fixture(scope="session")
def site(results_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("reports")
    report.build_site(results_dir, out)
    return out


@pytest.fixture
def map_catalogue(monkeypatch: pytest.MonkeyPatch) -> map_runs.DecisionMap:
    """A decision map and the two replications in the catalogue's place (map_runs.py)."""
    item = map_runs.decision_map()
    map_runs.install(monkeypatch, item)
    return item
