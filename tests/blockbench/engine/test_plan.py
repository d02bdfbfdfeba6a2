from __future__ import annotations

import pytest

from blockbench.engine import plan
from blockbench.load import scenarios


@pytest.fixture(scope="module")
def catalogue() -> scenarios.Catalogue:
    return scenarios.load()


KNOWN = ["flask-sync", "flask-gthread", "starlette-uvicorn", "starlette-threadpool"]


def test_repeats_are_interleaved(catalogue: scenarios.Catalogue) -> None:
    steps = plan.steps(
        catalogue, KNOWN, profile="tiny", only_targets=["flask-sync", "starlette-uvicorn"],
        repeat=2,
    )  # fmt: skip
    order = [(step.target, step.repeat) for step in steps]
    assert order == [
        ("flask-sync", 0),
        ("starlette-uvicorn", 0),
        ("flask-sync", 1),
        ("starlette-uvicorn", 1),
    ]


def test_overrides_replace_the_profile(catalogue: scenarios.Catalogue) -> None:
    (step,) = plan.steps(
        catalogue, KNOWN, profile="tiny", only_targets=["flask-sync"], levels=[3, 7],
        warmup=0.5, hold=1.5,
    )  # fmt: skip
    assert step.sweep == scenarios.Sweep(levels=(3, 7), warmup=0.5, hold=1.5)


def test_bad_requests_are_refused_clearly(catalogue: scenarios.Catalogue) -> None:
    with pytest.raises(plan.PlanError, match="unknown target nope"):
        plan.steps(catalogue, KNOWN, only_targets=["nope"])
    with pytest.raises(plan.PlanError, match="repeat"):
        plan.steps(catalogue, KNOWN, repeat=0)
    with pytest.raises(scenarios.CatalogueError, match="no scenario"):
        plan.steps(catalogue, KNOWN, only_scenarios=["nope"])


def test_targets_the_scenario_catalogue_names_must_exist(catalogue: scenarios.Catalogue) -> None:
    # quick names flask-gevent; blocking-bug names starlette-gunicorn: neither is in KNOWN.
    with pytest.raises(plan.PlanError, match="profile 'quick' names 'flask-gevent'"):
        plan.steps(catalogue, KNOWN, profile="quick")
    with pytest.raises(plan.PlanError, match="scenario 'blocking-bug' names 'starlette-gunicorn'"):
        plan.steps(catalogue, KNOWN, profile="full", only_scenarios=["blocking-bug"])
    # Targets given instead of the profile's: the profile's own list is not used, nor checked.
    steps = plan.steps(catalogue, KNOWN, profile="quick", only_targets=["flask-sync"])
    assert {step.target for step in steps} == {"flask-sync"}


def test_levels_from_the_command_line() -> None:
    assert plan.parse_levels(["1", "10", " 50"]) == (1, 10, 50)
    assert plan.parse_levels([]) == ()
    for bad in (["1", "x"], ["0"], ["-1"], ["2.5"]):
        with pytest.raises(plan.PlanError, match="--levels takes numbers of users, 1 or more"):
            plan.parse_levels(bad)


def test_target_urls() -> None:
    assert plan.parse_target_urls(["a=http://127.0.0.1:1/"]) == {"a": "http://127.0.0.1:1"}
    for bad in ["a", "=http://x", "a=ftp://x"]:
        with pytest.raises(plan.PlanError, match="NAME=URL"):
            plan.parse_target_urls([bad])


def test_a_profiles_all_means_the_matrix_without_variants(
    catalogue: scenarios.Catalogue,
) -> None:
    known = [*KNOWN, "flask-gthread-httpx"]
    steps = plan.steps(catalogue, known, KNOWN, profile="full", only_scenarios=["upstream"])
    assert [step.target for step in steps] == KNOWN
    named = plan.steps(catalogue, known, KNOWN, only_targets=["flask-gthread-httpx"])
    assert {step.target for step in named} == {"flask-gthread-httpx"}


def test_app_env() -> None:
    assert plan.parse_app_env(["UPSTREAM_CLIENT=httpx", "X_1="]) == {
        "UPSTREAM_CLIENT": "httpx",
        "X_1": "",
    }
    for bad in ("UPSTREAM_CLIENT", "lower=1", "=x", "A-B=1"):
        with pytest.raises(plan.PlanError, match="--app-env takes KEY=VALUE"):
            plan.parse_app_env([bad])
