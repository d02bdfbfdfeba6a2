from __future__ import annotations

from dataclasses import replace

import pytest

from blockbench.engine import plan
from blockbench.load import scenarios
from blockbench.targets import catalogue as target_catalogue

KNOWN = target_catalogue.load(cores=1).targets


def test_repeats_are_interleaved(scenario_catalogue: scenarios.Catalogue) -> None:
    steps = plan.steps(
        scenario_catalogue, KNOWN, profile="tiny", only_targets=["flask-sync", "starlette-uvicorn"],
        repeat=2,
    )  # fmt: skip
    order = [(step.target, step.repeat) for step in steps]
    assert order == [
        ("flask-sync", 0),
        ("starlette-uvicorn", 0),
        ("flask-sync", 1),
        ("starlette-uvicorn", 1),
    ]


def test_overrides_replace_the_profile(scenario_catalogue: scenarios.Catalogue) -> None:
    (step,) = plan.steps(
        scenario_catalogue, KNOWN, profile="tiny", only_targets=["flask-sync"], levels=[3, 7],
        warmup=0.5, hold=1.5,
    )  # fmt: skip
    assert step.sweep == scenarios.Sweep(levels=(3, 7), warmup=0.5, hold=1.5)


def test_bad_requests_are_refused_clearly(scenario_catalogue: scenarios.Catalogue) -> None:
    with pytest.raises(plan.PlanError, match="unknown target nope"):
        plan.steps(scenario_catalogue, KNOWN, only_targets=["nope"])
    with pytest.raises(plan.PlanError, match="repeat"):
        plan.steps(scenario_catalogue, KNOWN, repeat=0)
    with pytest.raises(scenarios.CatalogueError, match="no scenario"):
        plan.steps(scenario_catalogue, KNOWN, only_scenarios=["nope"])


def test_what_the_scenario_catalogue_selects_must_exist(
    scenario_catalogue: scenarios.Catalogue,
) -> None:
    # quick selects the tag quick; blocking-bug the tag blocking-bug: no target has them here.
    untagged = [t for t in KNOWN if not {"quick", "blocking-bug"} & set(t.tags)]
    with pytest.raises(plan.PlanError, match="profile 'quick': targets.tags: no target has 'qu"):
        plan.steps(scenario_catalogue, untagged, profile="quick")
    with pytest.raises(
        plan.PlanError, match="scenario 'blocking-bug': targets.tags: no target has 'blocking-bug'"
    ):
        plan.steps(scenario_catalogue, untagged, profile="full", only_scenarios=["blocking-bug"])
    # Targets given instead of the profile's: the profile's own selection is not used, nor checked.
    steps = plan.steps(
        scenario_catalogue, untagged, profile="quick", only_targets=[untagged[0].name]
    )
    assert {step.target for step in steps} == {untagged[0].name}


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
    scenario_catalogue: scenarios.Catalogue,
) -> None:
    steps = plan.steps(scenario_catalogue, KNOWN, profile="full", only_scenarios=["upstream"])
    assert [step.target for step in steps] == [t.name for t in KNOWN if t.variant_of is None]
    assert "flask-gthread-httpx" in [t.name for t in KNOWN]
    named = plan.steps(scenario_catalogue, KNOWN, only_targets=["flask-gthread-httpx"])
    assert {step.target for step in named} == {"flask-gthread-httpx"}


def test_a_profile_runs_the_targets_its_tags_select(
    scenario_catalogue: scenarios.Catalogue,
) -> None:
    steps = plan.steps(scenario_catalogue, KNOWN, profile="tiny")
    assert [step.target for step in steps] == [t.name for t in KNOWN if "tiny" in t.tags]
    assert len(steps) == 2


def test_a_misspelt_tag_fails_the_plan(scenario_catalogue: scenarios.Catalogue) -> None:
    untagged = [replace(t, tags=tuple(g for g in t.tags if g != "blocking-bug")) for t in KNOWN]
    with pytest.raises(plan.PlanError, match="the scenario catalogue: .*no target has 'blocking"):
        plan.steps(scenario_catalogue, untagged, profile="full")
    # Only what this run selects is checked: tiny runs io-sleep alone, on the targets it tags.
    assert plan.steps(scenario_catalogue, untagged, profile="tiny")


def test_app_env() -> None:
    assert plan.parse_app_env(["UPSTREAM_CLIENT=httpx", "X_1="]) == {
        "UPSTREAM_CLIENT": "httpx",
        "X_1": "",
    }
    for bad in ("UPSTREAM_CLIENT", "lower=1", "=x", "A-B=1"):
        with pytest.raises(plan.PlanError, match="--app-env takes KEY=VALUE"):
            plan.parse_app_env([bad])
