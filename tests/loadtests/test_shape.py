"""StepSweep, the Locust load shape: it walks the levels, warming up then holding, counts only
the holds, and then ends the run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from blockbench.load import scenarios

PROBE = Path(__file__).with_name("shape_probe.py")


def probe(times: list[float], env: dict[str, str]) -> list[dict[str, Any]]:
    result = subprocess.run(
        [sys.executable, str(PROBE), *map(str, times)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    seen: list[dict[str, Any]] = json.loads(result.stdout)
    return seen


def test_walks_the_levels_counting_only_the_holds(tmp_path: Path) -> None:
    stats = tmp_path / "levels.jsonl"
    sweep = scenarios.Sweep((1, 10), warmup=1, hold=3)
    times = [0, 0.5, 1, 2, 3, 4, 5, 6, 7, 8, 8.5]
    seen = probe(times, {**sweep.env(), scenarios.LEVEL_STATS_ENV: str(stats)})

    # Users, and a spawn rate that reaches the level within RAMP_SECONDS. At t=8 the sweep is
    # over, but the last hold's rate waits for a completion after it (the probe runs no users,
    # so one): the users run on for a tick. None ends the run.
    ramp = 1 / scenarios.RAMP_SECONDS
    assert [step["tick"] for step in seen[:-1]] == [
        *[[1, ramp]] * 5,
        *[[10, 10 * ramp]] * 5,
        None,
    ]
    # Statistics restart when a hold begins (t=1, t=5): the warm-ups are not counted.
    assert [step["requests"] for step in seen[:-1]] == [1, 2, 1, 2, 3, 4, 1, 2, 3, 4, 5]

    levels = [json.loads(line) for line in stats.read_text().splitlines()]
    assert [(r["level"], r["index"], r["total"]["num_requests"]) for r in levels] == [
        (1, 0, 3),
        (10, 1, 3),
    ]
    assert levels[0]["entries"][0]["name"] == "/io/sleep"
    # Successes per path, and a rate from the one user's completions (on the wall clock, so
    # only its presence is checked here; test_locust_headless.py checks its value).
    assert [r["mix"] for r in levels] == [{"/io/sleep": 3}] * 2
    assert all(r["rate"] > 0 for r in levels)
    assert all(r["ended"] >= r["started"] and r["errors"] == [] for r in levels)


def test_starts_again_from_the_first_level_after_a_restart() -> None:
    seen = probe([0, 5], scenarios.Sweep((2,), warmup=0, hold=1).env())
    assert [step["tick"] for step in seen] == [[2, 2 / scenarios.RAMP_SECONDS], None, [2, 8.0]]


def test_follows_the_default_profile_without_overrides() -> None:
    env = {key: "" for key in [*scenarios.Sweep((1,), 0, 1).env(), scenarios.PROFILE_ENV]}
    quick = scenarios.load().profile()
    seen = probe([0, quick.warmup + quick.hold], env)
    assert [step["tick"][0] for step in seen[:2]] == list(quick.levels[:2])


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({scenarios.LEVELS_ENV: "1,ten"}, "BLOCKBENCH_LEVELS must be whole numbers of users"),
        ({scenarios.SLOTS_ENV: "0"}, "BLOCKBENCH_SLOTS must be a whole number of requests"),
        # An open loop's levels are rates: users of this shape would send them as a closed loop.
        ({scenarios.PROFILE_ENV: "open-loop"}, "this sweep's levels are arrival rates"),
    ],
)
def test_a_bad_override_stops_locust_with_the_variable_named(
    env: dict[str, str], message: str
) -> None:
    result = subprocess.run(
        [sys.executable, str(PROBE), "0"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.startswith(f"StepSweep: {message}")
    assert "Traceback" not in result.stderr
