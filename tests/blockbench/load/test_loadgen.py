"""The harness's side of Locust: splitting users, reading level records, sorting failures."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import pytest

from blockbench.load import distributed, hdr, loadgen, scenarios
from blockbench.targets import supervisor


def _line(index: int, level: int, times: dict[int, int], failures: int = 0) -> str:
    return json.dumps(
        {
            "level": level,
            "index": index,
            "users": level,
            "started": 100.0 + index,
            "ended": 102.0 + index,
            "entries": [],
            "total": {
                "num_requests": sum(times.values()),
                "num_failures": failures,
                "response_times": {str(k): v for k, v in times.items()},
            },
            "errors": [{"error": "LocustBadStatusCode(code=503)", "occurrences": failures}]
            if failures
            else [],
        }
    )


def test_users_are_shared_evenly_and_add_up() -> None:
    for users in (1, 7, 10, 501):
        for processes in (1, 2, 3):
            parts = [loadgen.share(users, processes, i) for i in range(processes)]
            assert sum(parts) == users
            assert max(parts) - min(parts) <= 1


def test_failures_are_sorted_by_kind() -> None:
    failures = loadgen.classify(
        {
            "LocustBadStatusCode(code=503)": 3,
            "LocustBadStatusCode(code=404)": 1,
            "Timeout(60.0)": 2,
            "ConnectionRefusedError(111, 'Connection refused')": 4,
            "HTTPConnectionClosed('connection closed.')": 1,
            "something odd": 1,
        }
    )
    assert (failures.total, failures.server_errors, failures.client_errors) == (12, 3, 1)
    assert (failures.timeouts, failures.connection_errors, failures.other) == (2, 5, 1)


def test_a_level_is_ready_once_every_process_reported_it(tmp_path: Path) -> None:
    sweep = scenarios.Sweep(levels=(2, 10), warmup=0, hold=1)
    run = loadgen.LocustRun("IoSleep", "http://127.0.0.1:1", sweep, tmp_path, processes=2)
    run.stats_file(0).write_text(_line(0, 1, {100: 10}) + "\n")
    assert run.collect() == []  # process 1 has not reported level 0 yet
    # A line without its newline is still being written.
    run.stats_file(1).write_text(_line(0, 1, {100: 8, 120: 2}, failures=1) + "\n" + '{"lev')
    (ready,) = run.collect()
    assert ready.level == 2  # the sweep's level, not one process's share
    assert ready.requests == 20 and ready.failures == 1
    assert ready.histogram == {100: 18, 120: 2}
    assert ready.errors == {"LocustBadStatusCode(code=503)": 1}
    assert ready.window_s == 2.0
    assert run.collect() == []  # each level is handed over once


def test_each_process_gets_its_share_of_every_level(tmp_path: Path) -> None:
    sweep = scenarios.Sweep(levels=(4, 10), warmup=1, hold=2)
    run = loadgen.LocustRun("IoSleep", "http://127.0.0.1:1", sweep, tmp_path, processes=2)
    assert run.env(0)[scenarios.LEVELS_ENV] == "2,5"
    assert run.env(1)[scenarios.LEVEL_STATS_ENV] == str(run.stats_file(1))
    assert "IoSleep" in run.command(0)
    # No cap on the requests in flight: none passed on.
    assert scenarios.SLOTS_ENV not in run.env(0)


@pytest.mark.parametrize(("slots", "shares"), [(5, ["3", "2"]), (1, ["1", "1"]), (64, ["32"] * 2)])
def test_each_process_gets_its_share_of_the_targets_slots(
    tmp_path: Path, slots: int, shares: list[str]
) -> None:
    sweep = scenarios.Sweep(levels=(4, 10), warmup=1, hold=2)
    run = loadgen.LocustRun("IoSleep", "http://127.0.0.1:1", sweep, tmp_path, processes=2,
                            slots=slots)  # fmt: skip
    assert [run.env(index)[scenarios.SLOTS_ENV] for index in range(2)] == shares


def _with(line: str, **keys: object) -> str:
    return json.dumps({**json.loads(line), **keys})


def test_a_record_carries_its_rate_and_mix() -> None:
    line = _with(_line(0, 5, {100: 40}, failures=1), rate=48.8, mix={"/io/sleep": 36, "/cpu": 3})
    position, record = loadgen.parse_record(line)
    assert position == 0
    assert record.rate_rps == 48.8
    assert record.mix == {"/io/sleep": 36, "/cpu": 3}


def test_an_older_record_has_no_rate_and_no_mix() -> None:
    _, record = loadgen.parse_record(_line(0, 5, {100: 40}))
    assert record.rate_rps is None
    assert record.mix == {}
    _, unknown = loadgen.parse_record(_with(_line(0, 5, {100: 40}), rate=None, mix={}))
    assert unknown == record


def test_processes_rates_and_mixes_add_up() -> None:
    lines = [
        _with(_line(0, 2, {100: 20}), rate=19.5, mix={"/io/sleep": 18, "/cpu": 2}),
        _with(_line(0, 3, {100: 30}), rate=29.25, mix={"/io/sleep": 30}),
    ]
    records = [loadgen.parse_record(line)[1] for line in lines]
    merged = loadgen.combine(records, 5)
    assert merged.rate_rps == 48.75
    assert merged.mix == {"/io/sleep": 48, "/cpu": 2}
    # One process without a rate (an older line) leaves the level's rate unknown.
    older = loadgen.parse_record(_line(0, 1, {100: 10}))[1]
    assert loadgen.combine([*records, older], 6).rate_rps is None
    assert loadgen.combine([*records, older], 6).mix == {"/io/sleep": 48, "/cpu": 2}


HISTORY_HEADER = ["Timestamp", "User Count", "Type", "Name", "Requests/s", "Failures/s", "50%"]


def _history(path: Path, rows: list[tuple[str, str, float]], torn: str = "") -> None:
    """A stats history as Locust writes one, with csv.writer: (type, name, rate) per row."""
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(HISTORY_HEADER)
        for second, (kind, name, rate) in enumerate(rows):
            writer.writerow([1795849442 + second, 10, kind, name, f"{rate:.6f}", "0.000000", 12])
        file.write(torn)


def test_the_live_rate_adds_up_each_process_latest_aggregated_row(tmp_path: Path) -> None:
    sweep = scenarios.Sweep(levels=(10,), warmup=0, hold=1)
    run = loadgen.LocustRun("IoSleep", "http://127.0.0.1:1", sweep, tmp_path, processes=3)
    assert run.live_rps() is None  # no history yet
    # Long enough that only its tail is read; the request names that follow the last Aggregated
    # row have commas in them, which csv.writer quotes; the last line is still being written.
    earlier = [("", "Aggregated", 1.0), ("GET", "/io/sleep", 1.0)] * 200
    latest = [("", "Aggregated", 41.5), ("GET", "/items?tags=a,b", 30.0), ("GET", "x,y,z", 11.5)]
    _history(tmp_path / "p0_stats_history.csv", earlier + latest, torn='17958,10,,"Aggreg')
    _history(tmp_path / "p1_stats_history.csv", [("", "Aggregated", 8.0)])
    # Process 2 has written no history yet: the others' rates still count.
    assert run.live_rps() == 49.5


def test_a_request_named_like_the_aggregated_row_is_not_it(tmp_path: Path) -> None:
    sweep = scenarios.Sweep(levels=(10,), warmup=0, hold=1)
    run = loadgen.LocustRun("IoSleep", "http://127.0.0.1:1", sweep, tmp_path, processes=1)
    rows = [("", "Aggregated", 20.0), ("GET", '"Aggregated"', 5.0), ("GET", "Aggregated,", 6.0)]
    _history(tmp_path / "p0_stats_history.csv", rows)
    assert run.live_rps() == 20.0


def _open_line(index: int, rate: int, corrected_ms: list[float], **extra: object) -> str:
    """One process's open-loop level line, as loadtests/open_loop.py writes it."""
    histograms = {name: hdr.new() for name in ("corrected", "service", "lateness")}
    for ms in corrected_ms:
        hdr.record_ms(histograms["corrected"], ms)
        hdr.record_ms(histograms["service"], 100.0)
        hdr.record_ms(histograms["lateness"], ms - 100.0)
    open_loop = {
        "arrivals": "poisson",
        "offered_rps": rate,
        "senders": 2 * rate,
        "scheduled": len(corrected_ms),
        "sent": len(corrected_ms),
        "unfinished": 0,
        "max_in_flight": 3,
        **{name: hdr.encode(histogram) for name, histogram in histograms.items()},
        **extra,
    }
    return _with(_line(index, rate, {100: len(corrected_ms)}), open_loop=open_loop)


def test_an_open_loop_record_carries_its_schedule_and_histograms() -> None:
    _, record = loadgen.parse_record(_open_line(0, 10, [100.0, 250.0]))
    assert record.open_loop is not None
    assert record.open_loop.arrivals == "poisson"
    assert (record.open_loop.offered_rps, record.open_loop.senders) == (10.0, 20)
    assert hdr.count(hdr.decode(record.open_loop.corrected)) == 2
    # A closed level's line has none.
    assert loadgen.parse_record(_line(0, 5, {100: 40}))[1].open_loop is None


def test_an_open_loop_record_with_unknown_arrivals_is_refused() -> None:
    with pytest.raises(ValueError, match="arrivals must be one of poisson, constant; got 'x'"):
        loadgen.parse_record(_open_line(0, 10, [100.0], arrivals="x"))


def test_processes_schedules_add_up_and_their_histograms_merge_exactly() -> None:
    slow = [100.0] * 90 + [3000.0] * 10
    fast = [100.0] * 100
    records = [loadgen.parse_record(_open_line(0, r, ms))[1] for r, ms in ((5, slow), (5, fast))]
    merged = loadgen.combine(records, 10).open_loop
    assert merged is not None
    assert (merged.offered_rps, merged.senders, merged.scheduled, merged.sent) == (
        10.0,
        20,
        200,
        200,
    )
    assert merged.max_in_flight == 6
    corrected = hdr.percentiles_ms(hdr.decode(merged.corrected))
    assert corrected is not None and hdr.count(hdr.decode(merged.corrected)) == 200
    # 10 of 200 took 3 s: the p90 is 100 ms, the p99 3 s (the slow process alone: p90 3 s).
    assert corrected["p90"] == pytest.approx(100, rel=1e-3)
    assert corrected["p99"] == pytest.approx(3000, rel=1e-3)


def test_a_level_run_open_by_some_processes_and_closed_by_others_is_refused() -> None:
    records = [
        loadgen.parse_record(_open_line(0, 5, [100.0]))[1],
        loadgen.parse_record(_line(0, 5, {100: 4}))[1],
    ]
    with pytest.raises(ValueError, match="level 10: some processes ran it as an open loop"):
        loadgen.combine(records, 10)


def test_an_open_sweep_runs_the_senders_with_their_own_rate_share_and_seed(
    tmp_path: Path,
) -> None:
    sweep = scenarios.Sweep(levels=(5, 40), warmup=1, hold=2, arrivals="constant")
    run = loadgen.LocustRun("IoSleep", "http://127.0.0.1:1", sweep, tmp_path, processes=2)
    command = run.command(0)
    assert command[-1] == "IoSleepOpen"
    assert any(part.endswith("loadtests/open_loop.py") for part in ",".join(command).split(","))
    assert not any("sweep.py" in part for part in command)
    envs = [run.env(index) for index in range(2)]
    assert [env[scenarios.LEVELS_ENV] for env in envs] == ["3,20", "2,20"]
    assert {env[scenarios.ARRIVALS_ENV] for env in envs} == {"constant"}
    assert envs[0][scenarios.SEED_ENV] != envs[1][scenarios.SEED_ENV]
    # A closed sweep has none of it.
    closed = loadgen.LocustRun(
        "IoSleep", "http://127.0.0.1:1", scenarios.Sweep((5,), 1, 2), tmp_path
    )
    assert closed.command(0)[-1] == "IoSleep"
    assert scenarios.ARRIVALS_ENV not in closed.env(0)


def _worker_line(index: int, level: int, users: int, worker: str, workers: int) -> str:
    return _with(
        _line(index, level, {100: 10 * users}), users=users, worker=worker, workers=workers,
        rate=9.5 * users, mix={"/io/sleep": 10 * users},
    )  # fmt: skip


def test_a_swarms_level_is_ready_once_every_worker_sent_its_record(tmp_path: Path) -> None:
    sweep = scenarios.Sweep(levels=(2, 5), warmup=0, hold=1)
    run = loadgen.LocustRun(
        "IoSleep", "http://127.0.0.1:1", sweep, tmp_path, swarm=distributed.Swarm(2)
    )
    with run.master_stats_file.open("w") as file:
        file.write(_worker_line(0, 2, 1, "a", 2) + "\n" + _worker_line(0, 2, 1, "b", 2) + "\n")
        file.write(_worker_line(1, 5, 3, "a", 2) + "\n")
    (first,) = run.collect()
    assert (first.level, first.requests, first.rate_rps) == (2, 20, 19.0)
    assert run.workers_seen == {"a", "b"}
    assert run.collect() == []  # worker b's record of level 5 has not come
    with run.master_stats_file.open("a") as file:
        file.write(_worker_line(1, 5, 2, "b", 2) + "\n")
    (second,) = run.collect()
    assert (second.level, second.requests, second.mix) == (5, 50, {"/io/sleep": 50})
    assert second.rate_rps == pytest.approx(9.5 * 5)


def test_a_swarms_master_walks_the_whole_sweep_and_its_workers_join_it(tmp_path: Path) -> None:
    sweep = scenarios.Sweep(levels=(4, 10), warmup=1, hold=2)
    swarm = distributed.Swarm(2, 1, distributed.Address("0.0.0.0", 6000), join_timeout_s=9)
    run = loadgen.LocustRun("IoSleep", "http://10.0.0.9:1", sweep, tmp_path, slots=5,
                            swarm=swarm)  # fmt: skip
    env = run.master_env()
    # Not shared out: the master holds the whole level and each worker measures its users.
    assert env[scenarios.LEVELS_ENV] == "4,10" and env[scenarios.SLOTS_ENV] == "5"
    assert env[scenarios.LEVEL_STATS_ENV] == str(run.master_stats_file)
    # Its ticks are not held back a second at each level waiting for its workers' reports.
    assert env[distributed.REPORT_WAIT_ENV] == "0"
    master = " ".join(run.master_command(swarm.bind or distributed.Address("", 0)))
    assert "--master-bind-host 0.0.0.0 --master-bind-port 6000 --expect-workers 3" in master
    assert "--expect-workers-max-wait 9" in master and master.endswith(" IoSleep")
    worker = " ".join(run.worker_command(distributed.Address("0.0.0.0", 6000)))
    assert "--worker --master-host 127.0.0.1 --master-port 6000" in worker


def test_a_master_whose_workers_never_joined_says_who_to_start(tmp_path: Path) -> None:
    sweep = scenarios.Sweep(levels=(4,), warmup=1, hold=2)
    swarm = distributed.Swarm(1, 2, distributed.Address("0.0.0.0", 6000), join_timeout_s=5)
    run = loadgen.LocustRun("IoSleep", "http://10.0.0.9:1", sweep, tmp_path, swarm=swarm)
    said = f"print('[x] ERROR/root: {distributed.GAVE_UP_WAITING}'); raise SystemExit(1)"
    master = supervisor.spawn("locust-master", [sys.executable, "-c", said],
                              log_path=tmp_path / "master.log")  # fmt: skip
    master.popen.wait(30)
    run.children.append(master)
    failure = run.failure()
    assert failure is not None
    assert "waited 5 s for its 3 worker(s) (1 local, 2 remote)" in failure
    assert "`blockbench worker --master HOST:6000`" in failure
    # Any other exit quotes the log, as for independent processes.
    other = supervisor.spawn("locust-master", [sys.executable, "-c", "raise SystemExit(4)"],
                             log_path=tmp_path / "other.log")  # fmt: skip
    other.popen.wait(30)
    run.children[:] = [other]
    assert (run.failure() or "").startswith("Locust exited with code 4")


def _master_history(path: Path, rows: list[tuple[int, str, int]]) -> None:
    """A master's history: (second, name, total requests so far) per row; its rate column 0."""
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(
            ["Timestamp", "User Count", "Type", "Name", "Requests/s", "Total Request Count"]
        )
        for second, name, total in rows:
            writer.writerow([second, 10, "" if name == "Aggregated" else "GET", name, "0.0", total])


def test_a_swarms_live_rate_counts_its_masters_requests_over_the_last_seconds(
    tmp_path: Path,
) -> None:
    sweep = scenarios.Sweep(levels=(10,), warmup=0, hold=1)
    run = loadgen.LocustRun("IoSleep", "http://127.0.0.1:1", sweep, tmp_path,
                            swarm=distributed.Swarm(2))  # fmt: skip
    _history(tmp_path / "p0_stats_history.csv", [("", "Aggregated", 5.0)])
    assert run.live_rps() is None  # no master history yet; a process's is not read
    history = tmp_path / "master_stats_history.csv"
    _master_history(history, [(100, "Aggregated", 0)])
    assert run.live_rps() is None  # one row: no span yet
    # Workers report every 3 s, so the totals grow in steps; the last 6 s are counted.
    rows = [(101, "Aggregated", 0), (102, "/io/sleep", 300), (103, "Aggregated", 300),
            (106, "Aggregated", 900), (108, "Aggregated", 900)]  # fmt: skip
    _master_history(history, [(100, "Aggregated", 0), *rows])
    assert run.live_rps() == pytest.approx((900 - 300) / (108 - 103))
    # Totals that went down (statistics reset) give no rate rather than a negative one.
    _master_history(history, [(100, "Aggregated", 900), (104, "Aggregated", 10)])
    assert run.live_rps() is None
