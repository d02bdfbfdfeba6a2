"""The scenario catalogue: it loads, agrees with the endpoint contract, and refuses bad data with
errors that name the entry and the key."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from blockbench.apps import contract
from blockbench.load import scenarios
from blockbench.load.scenarios import CatalogueError, Phase, Sweep
from blockbench.targets.catalogue import load as load_targets

# The target catalogue's names (blockbench/targets/targets.toml), as the engine passes them.
TARGETS = list(load_targets(cores=1).names())
RAW: dict[str, Any] = tomllib.loads(scenarios.CATALOGUE_PATH.read_text())


@pytest.fixture
def catalogue() -> scenarios.Catalogue:
    return scenarios.load()


def test_catalogue_has_every_workload_of_the_issue(catalogue: scenarios.Catalogue) -> None:
    assert list(catalogue.scenarios) == [
        "io-sleep",
        "upstream",
        "db",
        "fanout-seq",
        "fanout-par",
        "cpu",
        "cpu-offload",
        "mixed",
        "blocking-bug",
    ]
    assert set(catalogue.profiles) == {"quick", "full", "http-client", "tiny"}
    assert catalogue.profile().name == "quick"


@pytest.mark.parametrize("name", list(RAW["scenarios"]))
def test_every_request_is_one_the_apps_accept(catalogue: scenarios.Catalogue, name: str) -> None:
    scenario = catalogue.scenario(name)
    assert scenario.explanation and scenario.workload.isidentifier()
    for request in scenario.requests:
        path, _, query = request.url.partition("?")
        assert contract.find(path) is request.endpoint
        assert contract.parse_query(request.endpoint, query) == request.params


def test_requests_carry_the_contract_defaults(catalogue: scenarios.Catalogue) -> None:
    assert catalogue.scenario("io-sleep").requests[0].url == "/io/sleep?ms=100"
    assert catalogue.scenario("fanout-par").requests[0].url == "/io/fanout?n=4&ms=100&mode=par"
    mixed = catalogue.scenario("mixed").requests
    assert [(r.path, r.weight) for r in mixed] == [("/io/sleep", 9), ("/cpu", 1)]


def test_dependencies_come_from_the_contract(catalogue: scenarios.Catalogue) -> None:
    assert catalogue.scenario("io-sleep").dependencies == frozenset()
    assert catalogue.scenario("fanout-seq").dependencies == {"upstream"}
    assert catalogue.scenario("db").dependencies == {"database"}


def test_profiles_name_existing_scenarios_and_targets(catalogue: scenarios.Catalogue) -> None:
    catalogue.check_targets(TARGETS)
    for profile in catalogue.profiles.values():
        assert all(name in catalogue.scenarios for name in profile.scenarios)


def test_quick_is_the_headline_in_about_three_minutes(catalogue: scenarios.Catalogue) -> None:
    runs = catalogue.runs("quick", TARGETS)
    assert {run.scenario.name for run in runs} == {"io-sleep", "cpu"}
    assert {run.target for run in runs} == {
        "flask-sync",
        "flask-gthread",
        "flask-gevent",
        "flask-a2wsgi",
        "starlette-uvicorn",
    }
    assert len(runs) == 10
    assert 150 <= scenarios.estimate_seconds(runs) <= 200


def test_full_runs_everything(catalogue: scenarios.Catalogue) -> None:
    runs = catalogue.runs("full", TARGETS)
    assert {run.scenario.name for run in runs} == set(catalogue.scenarios)
    assert {run.target for run in runs} == set(TARGETS)
    assert catalogue.profile("full").levels == (1, 10, 50, 100, 250, 500, 1000)
    blocking = [run for run in runs if run.scenario.name == "blocking-bug"]
    # Its max_level drops the levels where a blocked event loop only times out.
    assert {run.sweep.levels for run in blocking} == {(1, 10, 50, 100)}
    assert len(runs) == 8 * len(TARGETS) + len(blocking)


def test_tiny_is_two_short_runs(catalogue: scenarios.Catalogue) -> None:
    runs = catalogue.runs("tiny", TARGETS)
    assert [(run.scenario.name, run.target) for run in runs] == [
        ("io-sleep", "flask-sync"),
        ("io-sleep", "starlette-uvicorn"),
    ]
    assert all(len(run.sweep.levels) == 2 for run in runs)
    assert scenarios.estimate_seconds(runs) <= 30


def test_estimate_adds_start_overhead_and_every_phase(catalogue: scenarios.Catalogue) -> None:
    sweep = Sweep((1, 10, 50), warmup=2, hold=5)
    run = scenarios.Run(catalogue.scenario("cpu"), "flask-sync", sweep)
    start = scenarios.TARGET_START_SECONDS + scenarios.LOCUST_START_SECONDS
    assert sweep.seconds == 3 * (2 + 5)
    assert scenarios.estimate_seconds([run, run]) == 2 * (start + 21)
    assert scenarios.estimate_seconds([]) == 0


def test_unknown_targets_are_named_with_their_entry(catalogue: scenarios.Catalogue) -> None:
    with pytest.raises(CatalogueError) as info:
        catalogue.runs("quick", [t for t in TARGETS if t != "flask-sync"])
    assert "scenarios.blocking-bug.targets: 'flask-sync'" in str(info.value)
    assert "profiles.quick.targets: 'flask-sync'" in str(info.value)


def test_unknown_profile_lists_the_profiles(catalogue: scenarios.Catalogue) -> None:
    with pytest.raises(
        CatalogueError, match="no profile 'quik'; the profiles: quick, full, http-client, tiny"
    ):
        catalogue.profile("quik")


DELETE = object()
# (where in the document, what to put there, what the error must say)
BAD_DATA: list[tuple[str, object, str]] = [
    (
        "scenarios.io-sleep.requests[0].path",
        "/io/slep",
        "scenarios.io-sleep.requests[0].path: no endpoint '/io/slep'",
    ),
    ("scenarios.io-sleep.requests[0].path", "/healthz", "no endpoint '/healthz'"),
    (
        "scenarios.io-sleep.requests[0].params",
        {"ms": 70_000},
        "requests[0].params: ms must be an integer from 0 to 60000; got '70000'",
    ),
    ("scenarios.io-sleep.requests[0].params", {"msec": 100}, "/io/sleep takes no 'msec'"),
    (
        "scenarios.io-sleep.requests[0].params",
        {},
        "ms must be an integer from 0 to 60000; it is missing",
    ),
    ("scenarios.io-sleep.requests[0].params", {"ms": 100.5}, "got '100.5'"),
    (
        "scenarios.cpu.requests[0].params",
        {"work": 1, "offload": "thread"},
        "scenarios.cpu.requests[0].params: offload must be one of: none, process",
    ),
    (
        "scenarios.io-sleep.requests[0].weigth",
        3,
        "scenarios.io-sleep.requests[0]: unknown key(s) weigth",
    ),
    (
        "scenarios.mixed.requests[0].weight",
        0,
        "scenarios.mixed.requests[0].weight: expected a whole number, 1 or more",
    ),
    ("scenarios.io-sleep.requests", [], "scenarios.io-sleep.requests: expected one or more"),
    (
        "scenarios.io-sleep.workload",
        "io_sleep",
        "scenarios.io-sleep.workload: 'io_sleep' must be a class name",
    ),
    ("scenarios.io-sleep.workload", "Cpu", "'Cpu' is already the workload of scenarios."),
    ("scenarios.io-sleep.explanation", "", "scenarios.io-sleep.explanation: expected some text"),
    ("scenarios.io-sleep.targets", "flask-sync", "scenarios.io-sleep.targets: expected a list"),
    ("scenarios.io-sleep.max_level", True, "scenarios.io-sleep.max_level: expected a whole number"),
    (
        "profiles.quick.scenarios",
        ["io-sleep", "cpu-bound"],
        "profiles.quick.scenarios: no scenario 'cpu-bound'",
    ),
    (
        "profiles.quick.levels",
        [1, 50, 10],
        "profiles.quick.levels: give one or more levels, rising",
    ),
    (
        "profiles.quick.levels",
        [0, 10],
        "profiles.quick.levels: a level is a number of users, 1 or more; got 0",
    ),
    ("profiles.quick.levels", [1, 2.5], "got 2.5"),
    ("profiles.quick.levels", "1,10", "profiles.quick.levels: expected a list of levels"),
    ("profiles.quick.hold", 0, "profiles.quick.hold: seconds must be more than 0; got 0"),
    ("profiles.quick.warmup", -1, "profiles.quick.warmup: seconds must be 0 or more; got -1"),
    (
        "profiles.quick.warmup",
        "1s",
        "profiles.quick.warmup: expected a number of seconds, got '1s'",
    ),
    ("profiles.quick.hold_seconds", 3, "profiles.quick: unknown key(s) hold_seconds"),
    ("default_profile", "fast", "default_profile: no profile 'fast'"),
    ("profile", {}, "the catalogue: unknown key(s) profile"),
    ("scenarios.io-sleep.workload", DELETE, "scenarios.io-sleep: workload is missing"),
]


@pytest.mark.parametrize(("where", "value", "message"), BAD_DATA, ids=[b[0] for b in BAD_DATA])
def test_bad_data_fails_naming_entry_and_key(where: str, value: object, message: str) -> None:
    data = copy.deepcopy(RAW)
    *parents, last = where.split(".")
    node: Any = data
    for key in parents:
        name, _, index = key.partition("[")
        node = node[name][int(index[:-1])] if index else node[name]
    if value is DELETE:
        del node[last]
    else:
        node[last] = value
    with pytest.raises(CatalogueError) as info:
        scenarios.parse(data)
    assert message in str(info.value)


def test_unreadable_catalogue_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "scenarios.toml"
    bad.write_text("[scenarios\n")
    with pytest.raises(CatalogueError, match="cannot read the scenario catalogue .*scenarios.toml"):
        scenarios.load(bad)


def test_errors_in_the_file_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "scenarios.toml"
    bad.write_text(scenarios.CATALOGUE_PATH.read_text().replace("ms = 100 }", "ms = -1 }", 1))
    with pytest.raises(CatalogueError) as info:
        scenarios.load(bad)
    assert str(info.value).startswith(f"{bad}: scenarios.io-sleep.requests[0].params: ms must")


def test_sweep_walks_levels_warming_up_then_holding() -> None:
    sweep = Sweep((1, 10), warmup=1, hold=3)
    walk = {t: sweep.phase_at(t) for t in (0, 0.99, 1, 3.99, 4, 5, 7.99, 8, 100)}
    assert walk == {
        0: Phase(0, 1, "warmup"),
        0.99: Phase(0, 1, "warmup"),
        1: Phase(0, 1, "hold"),
        3.99: Phase(0, 1, "hold"),
        4: Phase(1, 10, "warmup"),
        5: Phase(1, 10, "hold"),
        7.99: Phase(1, 10, "hold"),
        8: None,
        100: None,
    }


def test_sweep_without_warmup_holds_at_once() -> None:
    assert Sweep((5,), warmup=0, hold=2).phase_at(0) == Phase(0, 5, "hold")


@given(
    levels=st.lists(st.integers(1, 1000), min_size=1, max_size=8, unique=True).map(sorted),
    warmup=st.sampled_from([0, 0.5, 1, 5]),
    hold=st.sampled_from([0.5, 1, 3, 15]),
)
def test_sweep_visits_every_level_in_order_and_then_ends(
    levels: list[int], warmup: float, hold: float
) -> None:
    sweep = Sweep(tuple(levels), warmup, hold)
    steps = int(sweep.seconds / 0.25)
    phases = [sweep.phase_at(i * 0.25) for i in range(steps)]
    assert all(phase is not None for phase in phases)
    assert sweep.phase_at(sweep.seconds) is None
    holds = [p.level for p in phases if p is not None and p.stage == "hold"]
    assert sorted(set(holds)) == levels
    indices = [p.index for p in phases if p is not None]
    assert indices == sorted(indices)


def test_sweep_env_round_trips() -> None:
    sweep = Sweep((1, 10, 50), warmup=0.5, hold=7)
    assert Sweep.from_env(sweep.env()) == sweep


def test_sweep_defaults_to_the_default_profile_or_the_named_one() -> None:
    quick = scenarios.load().profile("quick")
    assert Sweep.from_env({}) == Sweep(quick.levels, quick.warmup, quick.hold)
    full = Sweep.from_env({scenarios.PROFILE_ENV: "full", scenarios.HOLD_ENV: "2"})
    assert full.levels[-1] == 1000 and full.hold == 2


def test_sweep_override_may_be_one_process_share_of_each_level() -> None:
    # 1 and 10 users over two Locust processes: this one runs none, then 5.
    assert Sweep.from_env({scenarios.LEVELS_ENV: "0, 5,5"}).levels == (0, 5, 5)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"BLOCKBENCH_LEVELS": "1,x"}, "BLOCKBENCH_LEVELS must be whole numbers of users"),
        ({"BLOCKBENCH_LEVELS": "1;10"}, "separated by commas, like 1,10,50; got '1;10'"),
        ({"BLOCKBENCH_LEVELS": "-1"}, "got '-1'"),
        ({"BLOCKBENCH_WARMUP": "-1"}, "BLOCKBENCH_WARMUP: seconds must be 0 or more"),
        ({"BLOCKBENCH_HOLD": "0"}, "BLOCKBENCH_HOLD: seconds must be more than 0"),
        ({"BLOCKBENCH_HOLD": "3s"}, "BLOCKBENCH_HOLD must be a number of seconds; got '3s'"),
        ({"BLOCKBENCH_PROFILE": "slow"}, "no profile 'slow'"),
    ],
)
def test_bad_sweep_override_names_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(CatalogueError) as info:
        Sweep.from_env(env)
    assert message in str(info.value)


def test_the_targets_slots_come_from_the_environment() -> None:
    assert scenarios.slots_from_env({}) is None
    assert scenarios.slots_from_env({scenarios.SLOTS_ENV: ""}) is None
    assert scenarios.slots_from_env({scenarios.SLOTS_ENV: " 64 "}) == 64


@pytest.mark.parametrize("raw", ["0", "-2", "four", "2.5"])
def test_bad_slots_name_the_variable(raw: str) -> None:
    with pytest.raises(CatalogueError, match=f"BLOCKBENCH_SLOTS must be a whole number.*{raw!r}"):
        scenarios.slots_from_env({scenarios.SLOTS_ENV: raw})
