"""The load generator seen from the harness: Locust processes walking a sweep, and what they
report for each level.

Locust runs as a separate program (``locust -f loadtests/...``), never imported here: importing
it monkey-patches the whole process with gevent. Either each process walks the same sweep with
its share of the users, and its StepSweep shape appends one JSON line per measured level to a
file of its own; or (with a ``distributed.Swarm``) one master walks it, its workers measure their
shares, and the master writes one line per worker, each saying how many make the level. A
level is complete when every process or worker has written its line.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from blockbench.load import arrivals, distributed, hdr, scenarios
from blockbench.load.stats import merge
from blockbench.results import Failures
from blockbench.targets import supervisor
from blockbench.targets.pinning import CpuBudget

REPO = Path(__file__).resolve().parents[2]
LOCUSTFILES = ("loadtests/workloads.py", "loadtests/sweep.py")
# An open-loop sweep's (levels that are arrival rates).
OPEN_LOOP_LOCUSTFILES = ("loadtests/workloads.py", "loadtests/open_loop.py")
CEILING_LOCUSTFILE = "loadtests/generator_ceiling.py"
_STATUS_CODE = re.compile(r"code=(\d{3})")
# How much of the end of a Locust stats history the live rate reads: many rows' worth.
HISTORY_TAIL_BYTES = 8192
# The span a distributed run's live rate counts requests over: two of its workers' reports.
LIVE_SPAN_S = 6.0


@dataclass(frozen=True)
class OpenLoopRecord:
    """What an open-loop level's processes measured of its schedule (loadtests/open_loop.py);
    the histograms are HdrHistogram's encoding (blockbench.load.hdr), in microseconds."""

    arrivals: scenarios.Arrivals
    offered_rps: float
    senders: int
    # Due in the hold, and of those sent by the time the level was written.
    scheduled: int
    sent: int
    # Due in the hold and unanswered when the level was written: counted in ``corrected`` at
    # the time they had waited, a lower bound.
    unfinished: int
    # Summed over processes, each its own most: at most that many were out at once.
    max_in_flight: int
    corrected: str
    service: str
    # How late each send due in the hold left after its intended time.
    lateness: str


@dataclass(frozen=True)
class LevelRecord:
    """One measured level, merged over every generator process."""

    level: int
    started: float  # time.time() at the start of the hold, earliest process
    ended: float  # and at its end, latest process
    window_s: float  # the mean hold across processes: what rates are divided by
    requests: int
    failures: int
    histogram: dict[int, int]
    errors: dict[str, int] = field(default_factory=dict)
    # Successful requests per second, each request credited with the share of its cycle in the
    # hold (blockbench.load.completions), free of a fixed window's edge error; None from older lines
    # and where a hold's last cycles did not finish in time.
    rate_rps: float | None = None
    # Successful requests per endpoint path: the mix actually sent, which a mixed scenario's
    # bound depends on; empty from older lines.
    mix: dict[str, int] = field(default_factory=dict)
    # An open-loop level's schedule and latencies; None for a closed one.
    open_loop: OpenLoopRecord | None = None


def share(users: int, processes: int, index: int) -> int:
    """Process ``index``'s part of ``users``: as even as whole users allow."""
    return users // processes + (1 if index < users % processes else 0)


def classify(errors: Mapping[str, int]) -> Failures:
    """Sort Locust's error strings into the kinds a report can explain."""
    kinds = {"timeouts": 0, "server_errors": 0, "client_errors": 0, "connection": 0, "other": 0}
    for message, count in errors.items():
        code = _STATUS_CODE.search(message)
        if code and code.group(1).startswith("5"):
            kinds["server_errors"] += count
        elif code and code.group(1).startswith("4"):
            kinds["client_errors"] += count
        elif "imeout" in message or "timed out" in message:
            kinds["timeouts"] += count
        elif any(word in message for word in ("Connection", "Closed", "BrokenPipe", "reset")):
            kinds["connection"] += count
        else:
            kinds["other"] += count
    return Failures(
        total=sum(errors.values()),
        timeouts=kinds["timeouts"],
        server_errors=kinds["server_errors"],
        client_errors=kinds["client_errors"],
        connection_errors=kinds["connection"],
        other=kinds["other"],
        messages=dict(sorted(errors.items())),
    )


def parse_record(line: str) -> tuple[int, LevelRecord]:
    """One JSON line of the StepSweep shape (loadtests/sweep.py): the level's position in the
    sweep, and what was measured."""
    data = json.loads(line)
    total = data["total"]
    histogram = {int(ms): int(count) for ms, count in total["response_times"].items()}
    errors = {error["error"]: int(error["occurrences"]) for error in data["errors"]}
    rate = data.get("rate")
    mix = {str(path): int(count) for path, count in data.get("mix", {}).items()}
    return int(data["index"]), LevelRecord(
        level=int(data["level"]),
        started=float(data["started"]),
        ended=float(data["ended"]),
        window_s=float(data["ended"]) - float(data["started"]),
        requests=int(total["num_requests"]),
        failures=int(total["num_failures"]),
        histogram=histogram,
        errors=errors,
        rate_rps=None if rate is None else float(rate),
        mix=mix,
        open_loop=_open_loop(data.get("open_loop")),
    )


def _open_loop(data: Mapping[str, Any] | None) -> OpenLoopRecord | None:
    if data is None:
        return None
    kind = data["arrivals"]
    if kind not in scenarios.ARRIVALS:
        raise ValueError(f"arrivals must be one of {', '.join(scenarios.ARRIVALS)}; got {kind!r}")
    return OpenLoopRecord(
        arrivals=kind,
        offered_rps=float(data["offered_rps"]),
        senders=int(data["senders"]),
        scheduled=int(data["scheduled"]),
        sent=int(data["sent"]),
        unfinished=int(data["unfinished"]),
        max_in_flight=int(data["max_in_flight"]),
        corrected=str(data["corrected"]),
        service=str(data["service"]),
        lateness=str(data["lateness"]),
    )


def combine_open_loop(records: Sequence[OpenLoopRecord]) -> OpenLoopRecord:
    """The processes' schedules as one: rates, senders and counts summed, histograms merged
    exactly (each process recorded its own arrivals)."""
    return OpenLoopRecord(
        arrivals=records[0].arrivals,
        offered_rps=sum(r.offered_rps for r in records),
        senders=sum(r.senders for r in records),
        scheduled=sum(r.scheduled for r in records),
        sent=sum(r.sent for r in records),
        unfinished=sum(r.unfinished for r in records),
        max_in_flight=sum(r.max_in_flight for r in records),
        corrected=hdr.encode(hdr.merge(r.corrected for r in records)),
        service=hdr.encode(hdr.merge(r.service for r in records)),
        lateness=hdr.encode(hdr.merge(r.lateness for r in records)),
    )


def combine(records: Sequence[LevelRecord], level: int) -> LevelRecord:
    """The processes' records of one level as one: counts, histograms and rates summed (the rate
    is None unless every process gave one)."""
    rates = [r.rate_rps for r in records]
    schedules = [r.open_loop for r in records if r.open_loop is not None]
    if schedules and len(schedules) != len(records):
        raise ValueError(f"level {level}: some processes ran it as an open loop, some not")
    return LevelRecord(
        level=level,
        started=min(r.started for r in records),
        ended=max(r.ended for r in records),
        window_s=sum(r.window_s for r in records) / len(records),
        requests=sum(r.requests for r in records),
        failures=sum(r.failures for r in records),
        histogram=merge([r.histogram for r in records]),
        errors=merge([r.errors for r in records]),
        rate_rps=None if None in rates else sum(r for r in rates if r is not None),
        mix=merge([r.mix for r in records]),
        open_loop=combine_open_loop(schedules) if schedules else None,
    )


class LocustRun:
    """Locust processes walking one sweep of one workload against one server.

    ``collect`` returns each level once every process has reported it, merged.
    """

    def __init__(
        self,
        workload: str,
        host: str,
        sweep: scenarios.Sweep,
        folder: Path,
        *,
        processes: int = 1,
        budget: CpuBudget | None = None,
        locustfiles: Sequence[str] | None = None,
        slots: int | None = None,
        swarm: distributed.Swarm | None = None,
    ) -> None:
        self.workload = workload
        self.host = host
        self.sweep = sweep
        self.folder = folder
        self.count = processes
        self.budget = budget
        if locustfiles is None:
            locustfiles = OPEN_LOOP_LOCUSTFILES if sweep.arrivals else LOCUSTFILES
        self.locustfiles = locustfiles
        # The requests the target serves at once, where its model caps them.
        self.slots = slots
        # A master and workers instead of independent processes; ``processes`` is then unused.
        self.swarm = swarm
        # Where the master listens, once started.
        self.bind: distributed.Address | None = None
        self.children: list[supervisor.Child] = []
        files = 1 if swarm is not None else processes
        self._offsets = [0] * files
        # Each level's records by process index or by worker, and how many make it whole.
        self._seen: dict[int, dict[str, LevelRecord]] = {}
        self._needed: dict[int, int] = {}
        self._done: set[int] = set()
        # The workers whose records made levels, by Locust's client id (host name and a uuid).
        self.workers_seen: set[str] = set()
        self._stopped = False

    def stats_file(self, index: int) -> Path:
        return self.folder / f"levels.p{index}.jsonl"

    @property
    def master_stats_file(self) -> Path:
        return self.folder / "levels.master.jsonl"

    def _level_files(self) -> list[Path]:
        if self.swarm is not None:
            return [self.master_stats_file]
        return [self.stats_file(index) for index in range(self.count)]

    def command(self, index: int) -> list[str]:
        files = ",".join(str(REPO / name) for name in self.locustfiles)
        prefix = self.folder / f"p{index}"
        command = [
            sys.executable, "-m", "locust", "-f", files, "--headless", "--host", self.host,
            "--csv", str(prefix), "--csv-full-history", "--loglevel", "WARNING",
            "--exit-code-on-error", "0", "--only-summary", self.user_class,
        ]  # fmt: skip
        return self._pinned(command)

    def _pinned(self, command: list[str]) -> list[str]:
        # Generator processes go on the CPUs the targets do not use.
        return self.budget.wrap_rest(command) if self.budget is not None else command

    @property
    def user_class(self) -> str:
        """The Locust class that sends the workload: its open-loop sender for an open loop."""
        if self.sweep.arrivals is not None:
            return arrivals.sender_class_name(self.workload)
        return self.workload

    def master_command(self, bind: distributed.Address) -> list[str]:
        assert self.swarm is not None, "only a swarm has a master"
        command = distributed.master_command(
            [str(REPO / name) for name in self.locustfiles], self.host, self.workload, bind,
            str(self.folder / "master"), workers=self.swarm.workers,
            join_timeout_s=self.swarm.join_timeout_s,
        )  # fmt: skip
        return self._pinned(command)

    def worker_command(self, bind: distributed.Address) -> list[str]:
        files = [str(REPO / name) for name in self.locustfiles]
        return self._pinned(distributed.worker_command(files, distributed.reachable(bind)))

    def master_env(self) -> dict[str, str]:
        # The master walks the whole sweep; each worker measures the users it is given.
        env = {
            **self.sweep.env(),
            scenarios.LEVEL_STATS_ENV: str(self.master_stats_file),
            # A master's start of a level blocks its shape's ticks until the workers report the
            # users running, or for this many seconds (1 by default): with a 1 s warm-up, late
            # enough to cut a 3 s hold to 2 (measured). The workers' records count the users.
            distributed.REPORT_WAIT_ENV: "0",
        }
        if self.slots is not None:
            env[scenarios.SLOTS_ENV] = str(self.slots)
        return env

    def env(self, index: int) -> dict[str, str]:
        # Each process its share of the users, or of the arrival rate.
        levels = [share(level, self.count, index) for level in self.sweep.levels]
        env = {
            **self.sweep.env(),
            scenarios.LEVELS_ENV: ",".join(map(str, levels)),
            scenarios.LEVEL_STATS_ENV: str(self.stats_file(index)),
        }
        if self.sweep.arrivals is not None:
            # Each process its own stream: the sum of independent Poisson streams is one.
            env[scenarios.SEED_ENV] = str(arrivals.DEFAULT_SEED + index)
        if self.slots is not None:
            # Each process sees about its share of the completions, so of the slots.
            env[scenarios.SLOTS_ENV] = str(max(1, share(self.slots, self.count, index)))
        return env

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        if self.swarm is not None:
            self._start_swarm(self.swarm)
            return
        for index in range(self.count):
            self.stats_file(index).unlink(missing_ok=True)
            self.children.append(
                supervisor.spawn(
                    f"locust-{index}",
                    self.command(index),
                    log_path=self.folder / f"p{index}.log",
                    env=self.env(index),
                    cwd=REPO,
                )
            )

    def _start_swarm(self, swarm: distributed.Swarm) -> None:
        self.master_stats_file.unlink(missing_ok=True)
        bind = swarm.bind or distributed.Address(supervisor.LOOPBACK, supervisor.free_port())
        self.bind = bind
        self.children.append(
            supervisor.spawn(
                "locust-master",
                self.master_command(bind),
                log_path=self.folder / "master.log",
                env=self.master_env(),
                cwd=REPO,
            )
        )
        for index in range(swarm.local_workers):
            self.children.append(
                supervisor.spawn(
                    f"locust-worker-{index}",
                    self.worker_command(bind),
                    log_path=self.folder / f"worker{index}.log",
                    cwd=REPO,
                )
            )

    @property
    def pids(self) -> list[int]:
        return [child.pid for child in self.children]

    def running(self) -> bool:
        if self.swarm is not None:
            # The master walks the sweep; its workers end with it (a worker left waiting for a
            # master that gave up would wait for its heartbeat for a minute).
            master_running = bool(self.children) and self.children[0].running()
            # Once every level is in, the run is over: a master takes 3 s more to wind its
            # workers down and exit, which local ones need not wait for. Remote ones must: it
            # is the master's goodbye that ends them, so `blockbench worker` starts them again
            # for the next cell; a master stopped by a signal leaves them attached to nothing.
            done = len(self._done) == len(self.sweep.levels) and not self.swarm.remote_workers
            return master_running and not done
        return any(child.running() for child in self.children)

    def stop(self) -> None:
        """Stops every process: a swarm's once its levels are in, before it exits by itself."""
        self._stopped = True
        for child in self.children:
            child.stop()

    def failure(self) -> str | None:
        """Why a generator process died, quoting its log; None while all is well."""
        for child in self.children:
            code = child.popen.poll()
            if self._stopped and code is not None and code < 0:
                continue  # our own signal
            if code not in (None, 0) and self.swarm is not None and child.name == "locust-master":
                never_joined = self._never_joined(child, self.swarm)
                if never_joined:
                    return never_joined
            if code not in (None, 0):
                return (
                    f"Locust exited with code {code}; its log ({child.log_path}) ends:\n"
                    f"{supervisor.log_tail(child.log_path)}"
                )
        return None

    def _never_joined(self, master: supervisor.Child, swarm: distributed.Swarm) -> str | None:
        if distributed.GAVE_UP_WAITING not in supervisor.log_tail(master.log_path):
            return None
        where = swarm.bind or self.bind
        port = where.port if where is not None else distributed.DEFAULT_PORT
        text = (
            f"the Locust master at {where} waited {swarm.join_timeout_s} s for its "
            f"{swarm.workers} worker(s) ({swarm.local_workers} local, {swarm.remote_workers} "
            "remote), and not all of them joined"
        )
        if swarm.remote_workers:
            text += (
                f"; start the remote ones with `blockbench worker --master HOST:{port}` "
                "(HOST: this machine's address as they reach it), and let that port through "
                "any firewall between"
            )
        return f"{text}; the master's log: {master.log_path}"

    def collect(self) -> list[LevelRecord]:
        """Levels every process has now reported, in order, each returned once."""
        for index, path in enumerate(self._level_files()):
            if not path.exists():
                continue
            with path.open() as file:
                file.seek(self._offsets[index])
                text = file.read()
            # A line is only whole once its newline is written.
            whole = text[: text.rfind("\n") + 1]
            self._offsets[index] += len(whole.encode())
            for line in whole.splitlines():
                position, record = parse_record(line)
                source, needed = _origin(line, index, self.count)
                self._seen.setdefault(position, {})[source] = record
                self._needed[position] = needed
        ready = []
        for position in sorted(self._seen):
            if position in self._done or len(self._seen[position]) < self._needed[position]:
                continue
            self._done.add(position)
            if self.swarm is not None:
                self.workers_seen.update(self._seen[position])
            records = list(self._seen[position].values())
            ready.append(combine(records, self.sweep.levels[position]))
        return ready

    def live_rps(self) -> float | None:
        """The current request rate, from the per-second history Locust writes as it runs."""
        if self.swarm is not None:
            return _counted_rate(self.folder / "master_stats_history.csv")
        total, seen = 0.0, False
        for index in range(self.count):
            rate = _last_aggregated_rate(self.folder / f"p{index}_stats_history.csv")
            if rate is not None:
                total, seen = total + rate, True
        return total if seen else None


def _origin(line: str, index: int, processes: int) -> tuple[str, int]:
    """Whose record a line is, and how many records make its level: a worker's (a master's
    lines name it, and their number), else process ``index``'s of ``processes``."""
    data = json.loads(line)
    if "worker" in data:
        return str(data["worker"]), int(data["workers"])
    return str(index), processes


def _last_aggregated_rate(path: Path) -> float | None:
    rows = _aggregated_rows(path, "Requests/s")
    return rows[-1][1] if rows else None


def _counted_rate(path: Path) -> float | None:
    """A master's rate: its requests counted over the last LIVE_SPAN_S of its history. Its own
    rate column read 0 throughout a short run (its workers report in bunches, every 3 s)."""
    rows = _aggregated_rows(path, "Total Request Count")
    if not rows:
        return None
    last_at, last = rows[-1]
    first_at, first = next((row for row in rows if row[0] >= last_at - LIVE_SPAN_S), rows[-1])
    if last_at <= first_at or last < first:
        return None
    return (last - first) / (last_at - first_at)


def _aggregated_rows(path: Path, column: str) -> list[tuple[float, float]]:
    """(timestamp, ``column``) of the Aggregated rows in the end of a Locust stats history."""
    # The history grows by a row per request name every second for the whole run: read only its
    # header and its last few KiB, where the latest Aggregated rows are.
    try:
        with path.open("rb") as file:
            header = _csv_row(file.readline().decode(errors="replace"))
            file.seek(0, os.SEEK_END)
            file.seek(max(0, file.tell() - HISTORY_TAIL_BYTES))
            tail = file.read().decode(errors="replace").splitlines()
    except OSError:
        return []
    if not {"Timestamp", "Name", column} <= set(header):
        return []
    at, value_at, name_at = (header.index(name) for name in ("Timestamp", column, "Name"))
    # Line by line, so that a quote in the tail's first line (cut anywhere) or its last (perhaps
    # still being written) cannot swallow the lines beside it. A line cut anywhere but in its first
    # or last field lacks the header's field count and is passed over; cut there, its name and
    # value are whole.
    rows = []
    for fields in map(_csv_row, tail):
        if len(fields) == len(header) and fields[name_at] == "Aggregated":
            with contextlib.suppress(ValueError):
                rows.append((float(fields[at]), float(fields[value_at])))
    return rows


def _csv_row(line: str) -> list[str]:
    """One line of a CSV file as Locust's csv.writer wrote it (names with commas are quoted)."""
    try:
        return next(csv.reader([line]), [])
    except csv.Error:  # a torn line
        return []
