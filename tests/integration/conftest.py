"""Fixtures for tests that start catalogue targets: the CPU budget and the catalogue."""

from __future__ import annotations

import pytest

from blockbench.targets import catalogue, pinning
from blockbench.targets.catalogue import Catalogue
from blockbench.targets.pinning import CpuBudget


@pytest.fixture(scope="session")
def budget() -> CpuBudget:
    return pinning.budget()


@pytest.fixture(scope="session")
def targets(budget: CpuBudget) -> Catalogue:
    return catalogue.load(cores=budget.cores)
