"""Every HTTP client the apps can call the upstream with: the right client for each context,
clear refusals, and every failure (down, hung, garbage, an error status, a cut-off answer) a
quick 503 — in threads, on an event loop, and under gevent (in a patched subprocess)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from blockbench.apps import contract, upstream_clients
from blockbench.apps.upstream_clients import ClientChoiceError
from tests.blockbench.apps import bad_upstream

REPO = Path(__file__).resolve().parents[3]
# The calls below time out after this long; "quickly" is well under ten times that.
TIMEOUT_S = 0.5
QUICKLY_S = 5.0

BLOCKING = [kind for kind in upstream_clients.KINDS if "threads" in kind.contexts]
ASYNC = [kind for kind in upstream_clients.KINDS if kind.family == "async"]


@pytest.fixture(scope="module")
def bad_url() -> Iterator[str]:
    with bad_upstream.serving() as url:
        yield url


@pytest.mark.parametrize(
    ("context", "default"),
    [("async", "aiohttp"), ("threads", "urllib3"), ("gevent", "geventhttpclient")],
)
def test_each_context_has_its_default(context: upstream_clients.Context, default: str) -> None:
    assert upstream_clients.choose(None, context).name == default


def test_httpx_is_async_or_blocking_by_where_it_runs() -> None:
    assert upstream_clients.choose("httpx", "async").family == "async"
    assert upstream_clients.choose("httpx", "threads").family == "blocking"
    assert upstream_clients.choose("httpx", "gevent").family == "blocking"


@pytest.mark.parametrize(
    ("name", "context", "usable"),
    [
        ("aiohttp", "threads", "urllib3, requests, httpx, pycurl"),
        ("pycurl", "gevent", "urllib3, requests, httpx, geventhttpclient"),
        ("geventhttpclient", "async", "aiohttp, httpx-aiohttp, httpx"),
    ],
)
def test_a_client_that_cannot_run_there_is_refused_naming_the_ones_that_can(
    name: str, context: upstream_clients.Context, usable: str
) -> None:
    with pytest.raises(ClientChoiceError, match=f"{name}.*choose one of {usable}$"):
        upstream_clients.choose(name, context)


def test_the_running_context_of_blocking_code_outside_gevent_is_threads() -> None:
    assert upstream_clients.running_context("blocking") == "threads"
    assert upstream_clients.running_context("async") == "async"


def test_every_client_records_its_version() -> None:
    for kind in upstream_clients.KINDS:
        assert upstream_clients.version(kind), kind.name


@pytest.mark.parametrize("kind", BLOCKING, ids=lambda kind: kind.name)
def test_blocking_clients_answer_and_share_one_pool_across_threads(
    kind: upstream_clients.ClientKind, bad_url: str
) -> None:
    client = upstream_clients.blocking(kind, bad_url, 8)
    try:
        with ThreadPoolExecutor(8) as threads:
            bodies = list(threads.map(lambda ms: client.get(f"/delay?ms={ms}", 5.0), range(16)))
    finally:
        client.close()
    assert bodies == [{"ms": ms} for ms in range(16)]


@pytest.mark.parametrize("path", bad_upstream.FAILURES)
@pytest.mark.parametrize("kind", BLOCKING, ids=lambda kind: kind.name)
def test_blocking_clients_turn_every_failure_into_a_quick_503(
    kind: upstream_clients.ClientKind, path: str, bad_url: str
) -> None:
    client = upstream_clients.blocking(kind, bad_url, 4)
    started = time.monotonic()
    try:
        with pytest.raises(contract.Unavailable):
            client.get(path, TIMEOUT_S)
    finally:
        client.close()
    assert time.monotonic() - started < QUICKLY_S


@pytest.mark.parametrize("kind", BLOCKING, ids=lambda kind: kind.name)
def test_blocking_clients_give_a_503_when_the_upstream_is_down(
    kind: upstream_clients.ClientKind, closed_port: int
) -> None:
    client = upstream_clients.blocking(kind, f"http://127.0.0.1:{closed_port}", 4)
    with pytest.raises(contract.Unavailable):
        client.get("/delay?ms=1", TIMEOUT_S)
    client.close()


async def _async_outcomes(
    kind: upstream_clients.ClientKind, base_url: str, paths: tuple[str, ...]
) -> dict[str, str]:
    client = upstream_clients.asynchronous(kind, base_url, 8)
    ended: dict[str, str] = {}
    try:
        bodies = await asyncio.gather(*(client.get(f"/delay?ms={ms}", 5.0) for ms in range(8)))
        ended["ok"] = "answered" if bodies == [{"ms": ms} for ms in range(8)] else str(bodies)
        for path in paths:
            try:
                await client.get(path, TIMEOUT_S)
                ended[path] = "answered"
            except contract.Unavailable:
                ended[path] = "503"
    finally:
        await client.close()
    return ended


@pytest.mark.parametrize("kind", ASYNC, ids=lambda kind: kind.name)
def test_async_clients_answer_and_turn_every_failure_into_a_quick_503(
    kind: upstream_clients.ClientKind, bad_url: str
) -> None:
    started = time.monotonic()
    ended = asyncio.run(_async_outcomes(kind, bad_url, bad_upstream.FAILURES))
    assert ended == {"ok": "answered", **{path: "503" for path in bad_upstream.FAILURES}}
    assert time.monotonic() - started < QUICKLY_S * 2


@pytest.mark.parametrize("kind", ASYNC, ids=lambda kind: kind.name)
def test_async_clients_give_a_503_when_the_upstream_is_down(
    kind: upstream_clients.ClientKind, closed_port: int
) -> None:
    async def call() -> None:
        client = upstream_clients.asynchronous(kind, f"http://127.0.0.1:{closed_port}", 4)
        try:
            await client.get("/delay?ms=1", TIMEOUT_S)
        finally:
            await client.close()

    with pytest.raises(contract.Unavailable):
        asyncio.run(call())


def test_under_gevent_every_client_yields_and_fails_with_a_quick_503(bad_url: str) -> None:
    probe = subprocess.run(
        [sys.executable, "-m", "tests.blockbench.apps.gevent_clients_probe", bad_url],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    report = json.loads(probe.stdout.strip().splitlines()[-1])
    assert set(report) == {"urllib3", "requests", "httpx", "geventhttpclient"}
    for name, result in report.items():
        for path, outcome in result["failures"].items():
            assert outcome["ended"] == "503", (name, path, outcome)
            assert outcome["seconds"] < QUICKLY_S, (name, path, outcome)
        # Twenty 200 ms calls that overlap take one wait, not twenty (4 s).
        assert result["twenty_calls_seconds"] < 2.0, (name, result)
