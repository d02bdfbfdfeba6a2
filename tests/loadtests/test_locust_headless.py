"""Real Locust, headless and with its web UI, against the real Starlette twin on loopback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from blockbench.load import scenarios
from blockbench.targets import supervisor
from blockbench.targets.polling import wait_until
from tests import servers

pytestmark = pytest.mark.integration

LOCUST = [sys.executable, "-m", "locust"]
# Locust itself starts in about half a second; the runs below last 2-4 s.
RUN_TIMEOUT = 60.0


@pytest.fixture(scope="module")
def app_url(logs_dir: Path) -> Iterator[str]:
    app = servers.starlette(logs_dir / "locust-app.log", access_log=False)
    yield app.url
    app.stop()


def locust(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*LOCUST, *args],
        cwd=servers.ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )


def test_one_workload_at_a_fixed_user_count(app_url: str) -> None:
    run = locust(
        *["-f", "loadtests/workloads.py", "--headless", "-u", "5", "-r", "5", "-t", "3s"],
        *["--only-summary", "--json", "-H", app_url, "IoSleep"],
    )
    assert run.returncode == 0, run.stderr
    [entry] = json.loads(run.stdout)
    assert entry["name"] == "/io/sleep"
    assert entry["num_requests"] > 0
    assert entry["num_failures"] == 0


def test_sweep_walks_its_levels_and_ends_the_run(app_url: str, tmp_path: Path) -> None:
    stats = tmp_path / "levels.jsonl"
    sweep = scenarios.Sweep((1, 5), warmup=1, hold=1)
    started = time.monotonic()
    run = locust(
        *["-f", "loadtests/locustfile.py", "--headless", "--only-summary", "-H", app_url, "Mixed"],
        env={**sweep.env(), scenarios.LEVEL_STATS_ENV: str(stats)},
    )
    assert run.returncode == 0, run.stderr
    assert time.monotonic() - started < sweep.seconds + 10
    levels = [json.loads(line) for line in stats.read_text().splitlines()]
    assert [(level["level"], level["users"]) for level in levels] == [(1, 1), (5, 5)]
    for level in levels:
        assert level["total"]["num_requests"] > 0
        assert level["total"]["num_failures"] == 0
    # Mixed's two endpoints are counted apart, and so is the mix of successes actually sent.
    assert {entry["name"] for entry in levels[-1]["entries"]} <= {"/io/sleep", "/cpu"}
    assert all(set(level["mix"]) <= {"/io/sleep", "/cpu"} for level in levels)
    assert [sum(level["mix"].values()) for level in levels] == [
        level["total"]["num_requests"] for level in levels
    ]


def test_sweep_counts_each_levels_rate_from_its_users_completions(
    app_url: str, tmp_path: Path, scenario_catalogue: scenarios.Catalogue
) -> None:
    stats = tmp_path / "levels.jsonl"
    sweep = scenarios.Sweep((1, 4), warmup=1, hold=2)
    run = locust(
        *["-f", "loadtests/locustfile.py", "--headless", "--only-summary", "-H", app_url],
        "IoSleep",
        env={**sweep.env(), scenarios.LEVEL_STATS_ENV: str(stats)},
    )
    assert run.returncode == 0, run.stderr
    [request] = scenario_catalogue.scenario("io-sleep").requests
    wait_s = float(request.params["ms"]) / 1000
    for level in (json.loads(line) for line in stats.read_text().splitlines()):
        total, users = level["total"], level["users"]
        assert total["num_failures"] == 0
        assert level["mix"] == {"/io/sleep": total["num_requests"]}
        # No request is faster than its wait, so users / wait bounds the rate; counting the
        # hold's completions instead reads up to one request per user above it. Little's law
        # with the latencies measured: the rate is what the users' round trips allow.
        mean_s = total["total_response_time"] / total["num_requests"] / 1000
        assert level["rate"] <= users / wait_s
        assert level["rate"] == pytest.approx(users / mean_s, rel=0.03)


@pytest.fixture
def web_ui(app_url: str, tmp_path: Path) -> Iterator[str]:
    port = supervisor.free_port()
    ui = supervisor.start(
        "locust",
        [
            *[*LOCUST, "--config", "loadtests/locust.conf", "-H", app_url],
            *["--web-host", supervisor.LOOPBACK, "--web-port", str(port)],
        ],
        port=port,
        log_path=tmp_path / "locust.log",
        env=scenarios.Sweep((2,), warmup=0, hold=1).env(),
        health_path="/",
        timeout=RUN_TIMEOUT,
        cwd=servers.ROOT,
    )
    yield ui.url
    ui.stop()


def test_web_ui_picks_any_workload_and_the_sweep(
    web_ui: str, app_url: str, scenario_catalogue: scenarios.Catalogue
) -> None:
    page = httpx.get(web_ui + "/", timeout=10).text
    picker = json.loads(page.split('"available_user_classes": ', 1)[1].split("]", 1)[0] + "]")
    named = [s for s in scenario_catalogue.scenarios.values() if "map-" not in s.name]
    assert sorted(picker) == sorted(scenario.workload for scenario in named)
    # The decision map's cells are a profile's, not the picker's.
    assert "Paterson" in picker
    assert not [name for name in picker if name.startswith("MapWait")]
    assert '"available_shape_classes": ["Default", "StepSweep"]' in page

    form = {"user_classes": "Cpu", "shape_class": "StepSweep", "host": app_url}
    started = httpx.post(web_ui + "/swarm", data={**form, "user_count": 1, "spawn_rate": 1})
    assert started.json()["success"] is True

    def stats() -> dict[str, Any]:
        report: dict[str, Any] = httpx.get(web_ui + "/stats/requests", timeout=10).json()
        return report

    wait_until(lambda: stats()["state"] == "stopped", 10, 0.2)
    # The one-level sweep ran Cpu and stopped by itself.
    report = stats()
    assert report["state"] == "stopped"
    assert [(s["name"], s["num_failures"]) for s in report["stats"]] == [
        ("/cpu", 0),
        ("Aggregated", 0),
    ]
    assert report["stats"][0]["num_requests"] > 0
