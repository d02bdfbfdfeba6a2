"""The targets' CPU budget: which CPUs, from where, and the command prefix that pins them."""

from __future__ import annotations

import subprocess
import sys

import pytest

from blockbench.targets import pinning
from blockbench.targets.pinning import CpuBudget, PinningError

_AFFINITY = "import os; print(sorted(os.sched_getaffinity(0)))"


@pytest.mark.parametrize(
    ("text", "cpus"),
    [("0", (0,)), ("0-2", (0, 1, 2)), ("3,0-1", (0, 1, 3)), ("1, 1", (1,))],
)
def test_cpu_lists_are_read_as_taskset_writes_them(text: str, cpus: tuple[int, ...]) -> None:
    assert pinning.parse_cpus(text) == cpus


@pytest.mark.parametrize("text", ["", "a", "0-", "2-1", "0;1", "-1"])
def test_bad_cpu_lists_are_refused(text: str) -> None:
    with pytest.raises(PinningError):
        pinning.parse_cpus(text)


def test_default_is_the_lower_half_and_the_rest_is_left_for_the_load() -> None:
    available = pinning.available_cpus()
    budget = pinning.budget({})
    assert budget.cores == max(1, len(available) // 2)
    assert set(budget.cpus) | set(budget.rest) == set(available)
    assert not set(budget.cpus) & set(budget.rest)
    assert budget.source.startswith("default")


def test_the_environment_chooses_the_cpus() -> None:
    first = pinning.available_cpus()[0]
    budget = pinning.budget({pinning.TARGET_CPUS_ENV: str(first)})
    assert budget.cpus == (first,)
    assert budget.source == pinning.TARGET_CPUS_ENV
    assert pinning.TARGET_CPUS_ENV in budget.describe()


def test_cpus_this_process_may_not_use_are_refused_by_name() -> None:
    missing = max(pinning.available_cpus()) + 1
    with pytest.raises(PinningError, match=rf"BLOCKBENCH_TARGET_CPUS=.*CPU {missing}.*available"):
        pinning.budget({pinning.TARGET_CPUS_ENV: str(missing)})
    with pytest.raises(PinningError, match="BLOCKBENCH_TARGET_CPUS: expected a CPU list"):
        pinning.budget({pinning.TARGET_CPUS_ENV: "all"})


def test_wrapping_follows_the_method() -> None:
    command = ["server", "--flag"]
    taskset = CpuBudget((0, 1), (2,), "taskset", "test")
    assert taskset.wrap(command) == ["taskset", "--cpu-list", "0,1", "server", "--flag"]
    assert taskset.wrap_rest(command) == ["taskset", "--cpu-list", "2", "server", "--flag"]
    native = CpuBudget((0,), (), "sched_setaffinity", "test")
    pinning_module = [sys.executable, "-m", "blockbench.targets.pinning"]
    assert native.wrap(command) == [*pinning_module, "0", "--", *command]
    assert native.wrap_rest(command) == command  # nothing left to pin the rest to
    assert CpuBudget((0,), (), "none", "test").wrap(command) == command


@pytest.mark.parametrize("method", ["taskset", "sched_setaffinity"])
def test_a_wrapped_command_really_runs_on_the_budget(method: pinning.Method) -> None:
    if method == "taskset" and pinning.budget({}).method != "taskset":
        pytest.skip("taskset is not installed here")
    cpu = pinning.available_cpus()[-1]
    command = CpuBudget((cpu,), (), method, "test").wrap([sys.executable, "-c", _AFFINITY])
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    assert output.strip() == f"[{cpu}]"


def test_the_pinning_entry_point_explains_its_usage() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "blockbench.targets.pinning", "0"], capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "usage: python -m blockbench.targets.pinning CPUS -- COMMAND" in result.stderr
