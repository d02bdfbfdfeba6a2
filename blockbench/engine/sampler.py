"""Samples whole process trees (a server and every worker it forked) with psutil, in the
background, so each level can report the CPU, memory and threads its processes used; and the
kernel's busy time of the targets' CPUs, a second instrument for the same CPU (the utilisation
law is checked by comparing the two)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import psutil

from blockbench.results import Resources

INTERVAL_S = 0.5


@dataclass(frozen=True)
class Sample:
    at: float  # time.time(), like the times Locust reports levels with
    cpu_percent: float  # the tree's total; 100 = one core busy
    busiest_cpu_percent: float  # its busiest single process
    rss_bytes: int
    threads: int
    processes: int


class TreeSampler:
    """Samples named process trees every ``interval`` seconds until stopped."""

    def __init__(self, interval: float = INTERVAL_S, cpus: Sequence[int] = ()) -> None:
        self.interval = interval
        # The CPUs whose busy time the kernel's counters give, with (time, busy seconds) samples.
        self.cpus = tuple(cpus)
        self._busy: list[tuple[float, float]] = []
        self._roots: dict[str, int] = {}
        self._known: dict[int, psutil.Process] = {}
        self._samples: dict[str, list[Sample]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="tree-sampler", daemon=True)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def watch(self, name: str, pid: int) -> None:
        with self._lock:
            self._roots[name] = pid
            self._samples[name] = []

    def forget(self, name: str) -> None:
        with self._lock:
            self._roots.pop(name, None)

    def samples(self, name: str, start: float, end: float) -> list[Sample]:
        with self._lock:
            return [s for s in self._samples.get(name, []) if start <= s.at <= end]

    def summary(self, name: str, start: float, end: float) -> Resources | None:
        samples = self.samples(name, start, end)
        if not samples:
            return None
        return Resources(
            samples=len(samples),
            cpu_percent_mean=round(sum(s.cpu_percent for s in samples) / len(samples), 1),
            cpu_percent_max=round(max(s.cpu_percent for s in samples), 1),
            rss_mib_max=round(max(s.rss_bytes for s in samples) / 2**20, 1),
            threads_max=max(s.threads for s in samples),
            processes_max=max(s.processes for s in samples),
        )

    def busiest(self, name: str, start: float, end: float) -> float | None:
        samples = self.samples(name, start, end)
        return max((s.busiest_cpu_percent for s in samples), default=None)

    def cpus_busy(self, start: float, end: float) -> float | None:
        """How busy the watched CPUs were over ``start``..``end`` by the kernel's counters, as
        a share of them all (1.0 = every one busy), over the same intervals as the trees'
        samples in that span (from the sample before the first one inside it)."""
        with self._lock:
            busy = list(self._busy)
        inside = [index for index, (at, _) in enumerate(busy) if start <= at <= end]
        if not self.cpus or not inside:
            return None
        first, last = max(inside[0] - 1, 0), inside[-1]
        (t0, b0), (t1, b1) = busy[first], busy[last]
        if t1 <= t0:
            return None
        return (b1 - b0) / (t1 - t0) / len(self.cpus)

    def _loop(self) -> None:
        self._sample_cpus()
        while not self._stop.wait(self.interval):
            with self._lock:
                roots = dict(self._roots)
            taken = {name: self._sample(pid) for name, pid in roots.items()}
            self._sample_cpus()
            with self._lock:
                for name, sample in taken.items():
                    if sample is not None and name in self._samples:
                        self._samples[name].append(sample)

    def _sample_cpus(self) -> None:
        if not self.cpus:
            return
        per_cpu = psutil.cpu_times(percpu=True)
        busy = 0.0
        for cpu in self.cpus:
            if cpu < len(per_cpu):
                times = per_cpu[cpu]
                # Busy: everything but idle, iowait and steal (time the hypervisor took).
                busy += sum(
                    getattr(times, field, 0.0)
                    for field in ("user", "nice", "system", "irq", "softirq")
                )
        with self._lock:
            self._busy.append((time.time(), busy))

    def _process(self, pid: int) -> psutil.Process:
        # cpu_percent() measures since the previous call on the same Process object, so the
        # objects are kept; the first call of a new one returns 0 and only primes it.
        process = self._known.get(pid)
        if process is None:
            process = self._known[pid] = psutil.Process(pid)
            with contextlib.suppress(psutil.Error):
                process.cpu_percent(None)
        return process

    def _sample(self, root_pid: int) -> Sample | None:
        try:
            root = self._process(root_pid)
            children = root.children(recursive=True)
        except psutil.Error:
            return None
        tree = [root]
        for child in children:
            # A child may exit between the listing and here: the rest of the tree still counts.
            with contextlib.suppress(psutil.Error):
                tree.append(self._process(child.pid))
        cpu, busiest, rss, threads, alive = 0.0, 0.0, 0, 0, 0
        for process in tree:
            with contextlib.suppress(psutil.Error):
                with process.oneshot():
                    percent = process.cpu_percent(None)
                    rss += process.memory_info().rss
                    threads += process.num_threads()
                cpu += percent
                busiest = max(busiest, percent)
                alive += 1
        return Sample(time.time(), cpu, busiest, rss, threads, alive)
