"""The twins, in-process and live, configured against the session's real upstream service."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from blockbench.apps.settings import AppSettings
from blockbench.targets import catalogue, pinning
from tests.apps import twins


@pytest.fixture(scope="session")
def settings(upstream_url: str) -> AppSettings:
    # No database here: tests/apps/test_db.py brings its own settings.
    return AppSettings(upstream_url=upstream_url, db_pool_timeout=2.0)


@pytest.fixture(scope="session")
def inprocess_twins(settings: AppSettings) -> Iterator[tuple[twins.Client, twins.Client]]:
    with twins.in_process(settings) as pair:
        yield pair


@pytest.fixture(scope="session")
def live_twins(
    settings: AppSettings, logs_dir: Path
) -> Iterator[tuple[twins.LiveClient, twins.LiveClient]]:
    with twins.live(settings, logs_dir) as pair:
        yield pair


@pytest.fixture(scope="session")
def inprocess_fastapi(settings: AppSettings) -> Iterator[dict[str, twins.Client]]:
    with contextlib.ExitStack() as stack:
        yield {
            name: stack.enter_context(twins.fastapi_in_process(settings, name))
            for name in twins.FASTAPI_STYLES
        }


@pytest.fixture(scope="session")
def live_fastapi(settings: AppSettings, logs_dir: Path) -> Iterator[dict[str, twins.LiveClient]]:
    with contextlib.ExitStack() as stack:
        yield {
            name: stack.enter_context(twins.live_fastapi(settings, logs_dir, name))
            for name in twins.FASTAPI_STYLES
        }


@pytest.fixture(scope="session")
def inprocess_quart(settings: AppSettings) -> Iterator[twins.Client]:
    with twins.quart_in_process(settings) as quart:
        yield quart


@pytest.fixture(scope="session")
def live_quart(settings: AppSettings, logs_dir: Path) -> Iterator[twins.Client]:
    with twins.live_quart(settings, logs_dir) as quart:
        yield quart


# Flask is the reference; every other twin is compared with it, in-process and live.
OTHERS = ("starlette", *twins.FASTAPI_STYLES, "quart")
WHERE = ("in-process", "live")
# And every server of the catalogue, as the harness starts it, against the live Flask twin on
# gunicorn gthread (the variants run the same server as their base target).
SERVED = catalogue.load(cores=pinning.budget().cores).matrix_names()


@pytest.fixture(
    scope="session",
    params=[
        *(
            pytest.param(
                (where, other),
                id=f"{where}-{other}",
                marks=[pytest.mark.integration] if where == "live" else [],
            )
            for where in WHERE
            for other in OTHERS
        ),
        *(
            pytest.param(("target", name), id=f"target-{name}", marks=[pytest.mark.integration])
            for name in SERVED
        ),
    ],
)
def both(request: pytest.FixtureRequest) -> Iterator[tuple[twins.Client, twins.Client]]:
    """Each conformance case runs against Flask and one other twin, in-process and as real
    servers, and against every catalogue target: (flask, other). Session-scoped, so pytest runs
    every case against one pair before the next, and each catalogue target runs only while its
    cases do."""
    where, other = request.param
    if where == "target":
        flask: twins.Client = request.getfixturevalue("live_twins")[0]
        target = request.getfixturevalue("targets").get(other)
        settings, logs = request.getfixturevalue("settings"), request.getfixturevalue("logs_dir")
        with twins.live_target(target, settings, logs, request.getfixturevalue("budget")) as client:
            yield flask, client
        return
    live = where == "live"
    yield twin(request, "flask", live=live), twin(request, other, live=live)


@pytest.fixture
def live_twin(request: pytest.FixtureRequest) -> twins.Client:
    """The live twin named by the test's (indirect) parameter, from the session's servers."""
    return twin(request, request.param, live=True)


def twin(request: pytest.FixtureRequest, name: str, *, live: bool) -> twins.Client:
    """The session's twin called ``name`` (a client name: "flask", "fastapi-def", ...),
    in-process or live."""
    where = "live" if live else "inprocess"
    if name in ("flask", "starlette"):
        pair: tuple[twins.Client, twins.Client] = request.getfixturevalue(f"{where}_twins")
        return pair[0] if name == "flask" else pair[1]
    if name == "quart":
        quart: twins.Client = request.getfixturevalue(f"{where}_quart")
        return quart
    fastapi: dict[str, twins.Client] = request.getfixturevalue(f"{where}_fastapi")
    return fastapi[name]
