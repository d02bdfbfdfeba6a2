"""The services beside the targets: the upstream's CPUs, and finding the run's PostgreSQL."""

from __future__ import annotations

import psutil
import pytest

from blockbench.targets import pinning, services


def test_the_upstream_gets_the_cpus_the_targets_leave() -> None:
    budget = pinning.CpuBudget(cpus=(0,), rest=(1, 2, 3), method="taskset", source="test")
    assert services.upstream_cpus(budget) == 3
    assert services.upstream_processes(budget) == 3
    alone = pinning.CpuBudget(cpus=(0,), rest=(), method="taskset", source="test")
    assert services.upstream_cpus(alone) == 1


def test_a_remote_database_is_not_sampled() -> None:
    assert services.find_database("postgresql://u:p@db.example:5432/x") is None


@pytest.mark.db
def test_the_runs_postgresql_is_found_by_its_port(database_url: str) -> None:
    found = services.find_database(database_url)
    assert found is not None
    process = psutil.Process(found.pid)
    assert "postgres" in process.name() or "postgres" in " ".join(process.cmdline())
    assert found.cpus >= 1
