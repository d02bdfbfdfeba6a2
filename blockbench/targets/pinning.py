"""The CPU budget of the targets: which CPUs they may use, and how they are held to them.

Every target runs on the same CPU set (BLOCKBENCH_TARGET_CPUS, by default the lower half of the
CPUs this process may use), so the comparison is fair and the load generator and the upstream
service keep the other CPUs. ``taskset`` pins when it is installed; otherwise this module pins
itself with ``os.sched_setaffinity`` and execs the server
(``python -m blockbench.targets.pinning``). Children inherit the affinity, so every worker a
server forks stays inside the budget; ``cpu_seconds`` reads what processes spent of it.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import psutil

from blockbench.errors import BlockbenchError

TARGET_CPUS_ENV = "BLOCKBENCH_TARGET_CPUS"
Method = Literal["taskset", "sched_setaffinity", "none"]
_CPU_LIST = re.compile(r"\d+(-\d+)?(,\d+(-\d+)?)*")
_CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")


class PinningError(BlockbenchError):
    """A CPU set that cannot be used; names where it came from and what is available."""


@dataclass(frozen=True)
class CpuBudget:
    """The CPUs every target is pinned to; recorded with each run so results say what they had."""

    cpus: tuple[int, ...]
    # CPUs for everything else (load generator, upstream); empty when there is only one.
    rest: tuple[int, ...]
    method: Method
    # Where ``cpus`` came from: the environment variable or the default rule.
    source: str
    # A cgroup CPU quota on this whole machine or container, in CPUs; None if unlimited.
    quota: float | None = None

    @property
    def cores(self) -> int:
        return len(self.cpus)

    def describe(self) -> str:
        how = {"taskset": "taskset", "sched_setaffinity": "os.sched_setaffinity"}.get(
            self.method, "nothing (this platform cannot pin; targets share every CPU)"
        )
        cores = f"{self.cores} core{'s' if self.cores > 1 else ''}"
        text = f"targets pinned to CPU {format_cpus(self.cpus)} ({cores}) by {how}"
        if self.quota is not None:
            text += f"; cgroup quota {self.quota:g} CPUs"
        return f"{text}; set {TARGET_CPUS_ENV} to change"

    def wrap(self, command: Sequence[str]) -> list[str]:
        """``command`` prefixed so that it, and everything it forks, runs on ``cpus``."""
        cpus = format_cpus(self.cpus)
        if self.method == "taskset":
            return ["taskset", "--cpu-list", cpus, *command]
        if self.method == "sched_setaffinity":
            return [sys.executable, "-m", "blockbench.targets.pinning", cpus, "--", *command]
        return list(command)

    def wrap_rest(self, command: Sequence[str]) -> list[str]:
        """``command`` pinned to the CPUs the targets do not use, if there are any."""
        if not self.rest:
            return list(command)
        return CpuBudget(self.rest, (), self.method, self.source).wrap(command)


@contextlib.contextmanager
def off_the_targets(budget: CpuBudget, pids: Sequence[int] = ()) -> Iterator[None]:
    """While inside: this process (every thread of it, the harness) and the process trees of
    ``pids`` (a database the targets use) run only on the CPUs the targets do not use, so the
    targets' cores carry the targets alone; their affinity is restored on the way out.

    Best effort: a process we may not move (another user's, without root) stays where it is,
    and the utilisation-law check (the kernel's busy time of the targets' cores against the
    targets' own CPU) flags any level where that mattered.
    """
    if not budget.rest or not hasattr(os, "sched_setaffinity"):
        yield
        return
    moved: dict[int, set[int]] = {}
    tasks = [int(task) for task in os.listdir("/proc/self/task")]
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            root = psutil.Process(pid)
            tasks += [root.pid, *(child.pid for child in root.children(recursive=True))]
    for task in tasks:
        with contextlib.suppress(OSError):
            previous = os.sched_getaffinity(task)
            os.sched_setaffinity(task, budget.rest)
            moved[task] = previous
    try:
        yield
    finally:
        for task, previous in moved.items():
            with contextlib.suppress(OSError):
                os.sched_setaffinity(task, previous)


def parse_cpus(text: str) -> tuple[int, ...]:
    """A CPU list as taskset writes it: ``0``, ``0-3``, ``0,2-3``."""
    text = text.replace(" ", "")
    if not _CPU_LIST.fullmatch(text):
        raise PinningError(f"expected a CPU list such as 0 or 0-1 or 0,2-3, got {text!r}")
    cpus: set[int] = set()
    for part in text.split(","):
        first, _, last = part.partition("-")
        low, high = int(first), int(last or first)
        if high < low:
            raise PinningError(f"CPU range {part!r} runs backwards")
        cpus.update(range(low, high + 1))
    return tuple(sorted(cpus))


def format_cpus(cpus: Sequence[int]) -> str:
    return ",".join(str(cpu) for cpu in cpus)


def available_cpus() -> tuple[int, ...]:
    if hasattr(os, "sched_getaffinity"):
        return tuple(sorted(os.sched_getaffinity(0)))
    return tuple(range(os.cpu_count() or 1))


def _method() -> Method:
    if shutil.which("taskset"):
        return "taskset"
    if hasattr(os, "sched_setaffinity"):
        return "sched_setaffinity"
    return "none"


def _cgroup_quota() -> float | None:
    try:
        quota, period = _CGROUP_CPU_MAX.read_text().split()
    except (OSError, ValueError):
        return None
    return None if quota == "max" else int(quota) / int(period)


def budget(env: Mapping[str, str] | None = None) -> CpuBudget:
    """The targets' CPU budget, from BLOCKBENCH_TARGET_CPUS or the default rule."""
    env = os.environ if env is None else env
    available = available_cpus()
    raw = env.get(TARGET_CPUS_ENV, "").strip()
    if raw:
        try:
            cpus = parse_cpus(raw)
        except PinningError as exc:
            raise PinningError(f"{TARGET_CPUS_ENV}: {exc}") from None
        outside = sorted(set(cpus) - set(available))
        if outside:
            raise PinningError(
                f"{TARGET_CPUS_ENV}={raw} names CPU {format_cpus(outside)}, which this process "
                f"may not use; available: {format_cpus(available)}"
            )
        source = TARGET_CPUS_ENV
    else:
        # The lower half, at least one: on 2 CPUs, targets get CPU 0 and the load the other.
        cpus = available[: max(1, len(available) // 2)]
        source = "default (lower half of the available CPUs)"
    rest = tuple(cpu for cpu in available if cpu not in cpus)
    return CpuBudget(cpus, rest, _method(), source, _cgroup_quota())


def cpu_seconds(processes: Iterable[psutil.Process]) -> float:
    """CPU seconds (user + system) the given processes have used so far; gone ones count 0."""
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m blockbench.targets.pinning CPUS -- COMMAND...``: pin, then exec COMMAND."""
    # Parsed by hand: an exec wrapper in front of a target's server, with one argument of its
    # own and the rest passed on verbatim; a CLI library would only add its import to the start.
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 3 or args[1] != "--":
        sys.exit("usage: python -m blockbench.targets.pinning CPUS -- COMMAND [ARGS...]")
    try:
        cpus = parse_cpus(args[0])
    except PinningError as exc:
        sys.exit(str(exc))
    os.sched_setaffinity(0, cpus)
    os.execvp(args[2], args[2:])


if __name__ == "__main__":
    main()
