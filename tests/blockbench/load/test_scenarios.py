"""The scenario catalogue: it loads, agrees with the endpoint contract, and refuses bad data with
errors that name the entry and the key."""

from __future__ import annotations

import copy
import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from blockbench.apps import contract
from blockbench.engine import plan
from blockbench.load import scenarios
from blockbench.load.scenarios import CatalogueError, Phase, Sweep
from blockbench.targets.catalogue import load as load_targets

# The target catalogue (blockbench/targets/targets.toml), as the engine passes it.
TARGETS = load_targets(cores=1).targets
MATRIX = [t.name for t in TARGETS if t.variant_of is None]
RAW: dict[str, Any] = tomllib.loads(scenarios.CATALOGUE_PATH.read_text())
WAITS = (0, 5, 20, 100, 500)


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
        "paterson",
        "grinberg",
        "c10k",
        # The decision map's cells, row by row (CPU), each row by wait.
        *(f"map-{wait}ms-{cpu}ms" for cpu in ("0", "0.5", "2", "10") for wait in WAITS),
    ]
    assert set(catalogue.profiles) == {
        "quick",
        "full",
        "http-client",
        "map",
        "replications",
        "c10k",
        "tiny",
        "open-loop",
        "tiny-open",
    }
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


def test_the_catalogue_selects_only_what_the_target_catalogue_has(
    catalogue: scenarios.Catalogue,
) -> None:
    for scenario in catalogue.scenarios.values():
        scenario.targets.check(TARGETS, f"scenario {scenario.name!r}")
        assert any(scenario.applies_to(target) for target in TARGETS)
    for profile in catalogue.profiles.values():
        profile.targets.check(TARGETS, f"profile {profile.name!r}")
        assert profile.targets.pick(TARGETS)


def _steps(catalogue: scenarios.Catalogue, profile: str) -> list[plan.Step]:
    # As the engine plans a run: "all" is the matrix, every target but the variants.
    return plan.steps(catalogue, TARGETS, profile=profile)


def test_quick_is_the_headline_in_about_three_minutes(catalogue: scenarios.Catalogue) -> None:
    steps = _steps(catalogue, "quick")
    assert {step.scenario.name for step in steps} == {"io-sleep", "db", "cpu"}
    assert {step.target for step in steps} == {
        "flask-sync",
        "flask-gthread",
        "flask-gevent",
        "flask-a2wsgi",
        "starlette-uvicorn",
    }
    assert len(steps) == 15
    # The estimate leaves out the generator's ceiling, the database's start and the stops
    # (about 30 s in all, measured): 180 s is the budget of the whole run.
    assert 120 <= plan.estimate_seconds(steps) <= 150


def test_full_runs_everything(catalogue: scenarios.Catalogue) -> None:
    steps = _steps(catalogue, "full")
    special = {
        "paterson",
        "grinberg",
        "c10k",
        *(cell.scenario for cell in catalogue.maps["decision"].cells),
    }
    assert {step.scenario.name for step in steps} == set(catalogue.scenarios) - special
    assert {step.target for step in steps} == set(MATRIX)
    assert catalogue.profile("full").levels == (1, 10, 50, 100, 250, 500, 1000)
    blocking = [step for step in steps if step.scenario.name == "blocking-bug"]
    # Its max_level drops the levels where a blocked event loop only times out.
    assert {step.sweep.levels for step in blocking} == {(1, 10, 50, 100)}
    assert len(steps) == 8 * len(MATRIX) + len(blocking)


def test_c10k_holds_10000_waits_on_one_target_per_model(
    catalogue: scenarios.Catalogue,
) -> None:
    steps = _steps(catalogue, "c10k")
    by_name = {target.name: target for target in TARGETS}
    assert {step.scenario.name for step in steps} == {"c10k"}
    assert {step.sweep.levels for step in steps} == {(10000,)}
    # 10,000 users each waiting 10 s: 1,000 req/s at most, the bound a server can reach.
    (request,) = catalogue.scenario("c10k").requests
    assert request.params == {"ms": 10000}
    models = {by_name[step.target].model for step in steps}
    assert models == {"processes", "threads", "green-threads", "event-loop"}
    # The ramp spreads the users over one wait, and the warm-up outlasts the ramp and a first
    # wait, so the hold sees the steady cycle.
    profile = catalogue.profile("c10k")
    assert profile.ramp == 10 and profile.warmup > profile.ramp + 10
    assert {step.sweep.ramp for step in steps} == {10}


def test_tiny_is_two_short_runs(catalogue: scenarios.Catalogue) -> None:
    steps = _steps(catalogue, "tiny")
    assert [(step.scenario.name, step.target) for step in steps] == [
        ("io-sleep", "flask-sync"),
        ("io-sleep", "starlette-uvicorn"),
    ]
    assert all(len(step.sweep.levels) == 2 for step in steps)
    assert plan.estimate_seconds(steps) <= 30


def test_estimate_adds_start_overhead_and_every_phase(catalogue: scenarios.Catalogue) -> None:
    sweep = Sweep((1, 10, 50), warmup=2, hold=5)
    step = plan.Step(catalogue.scenario("cpu"), "flask-sync", 0, sweep)
    start = plan.TARGET_START_SECONDS + plan.LOCUST_START_SECONDS
    assert sweep.seconds == 3 * (2 + 5)
    assert plan.estimate_seconds([step, step]) == 2 * (start + 21)
    assert plan.estimate_seconds([step], {"generator": 4}) == start + 21 + 4
    assert plan.estimate_seconds([]) == 0


def test_a_scenario_runs_only_its_levels(catalogue: scenarios.Catalogue) -> None:
    assert catalogue.scenario("blocking-bug").levels_within([1, 100, 101, 1000]) == (1, 100)
    assert catalogue.scenario("io-sleep").levels_within([1, 1000]) == (1, 1000)


def test_the_http_client_profile_sets_each_variant_beside_its_base(
    catalogue: scenarios.Catalogue,
) -> None:
    steps = _steps(catalogue, "http-client")
    assert [step.target for step in steps if step.scenario.name == "upstream"] == [
        "flask-gthread",
        "flask-gthread-httpx",
        "flask-gevent",
        "flask-gevent-httpx",
        "starlette-uvicorn",
        "starlette-uvicorn-httpx",
    ]


def test_blocking_bug_runs_on_its_tagged_targets_only(catalogue: scenarios.Catalogue) -> None:
    steps = _steps(catalogue, "full")
    assert {step.target for step in steps if step.scenario.name == "blocking-bug"} == {
        "flask-sync",
        "starlette-threadpool",
        "starlette-uvicorn",
        "starlette-gunicorn",
        "starlette-gunicorn-asgi",
        "starlette-a2wsgi",
    }


def test_the_map_is_a_grid_of_handlers_that_compute_then_wait(
    catalogue: scenarios.Catalogue,
) -> None:
    grid = catalogue.maps["decision"]
    assert grid.waits_ms == WAITS
    assert grid.cpu_ms == (0.0, 0.5, 2.0, 10.0)
    assert len(grid.cells) == 20
    cell = grid.cells[5 + 2]  # second row (0.5 ms), third column (20 ms)
    assert (cell.scenario, cell.wait_ms, cell.cpu_ms) == ("map-20ms-0.5ms", 20, 0.5)
    # 0.5 ms at 80 ns a unit.
    assert cell.work == 6250
    assert len(catalogue.map_scenarios) == 20
    assert "map-20ms-0.5ms" in catalogue.map_scenarios
    assert "io-sleep" not in catalogue.map_scenarios
    scenario = catalogue.scenario(cell.scenario)
    assert scenario.workload == "MapWait20Cpu0p5"
    assert scenario.requests[0].url == "/cpu-then-sleep?work=6250&ms=20"
    assert scenario.dependencies == frozenset()
    assert catalogue.scenario("map-500ms-10ms").requests[0].params == {"work": 125000, "ms": 500}


def test_the_map_profile_fits_in_twenty_minutes(catalogue: scenarios.Catalogue) -> None:
    steps = _steps(catalogue, "map")
    assert [step.scenario.name for step in steps[:1]] == ["map-0ms-0ms"]
    assert {step.scenario.name for step in steps} == {
        cell.scenario for cell in catalogue.maps["decision"].cells
    }
    # One target per model, and both a2wsgi paths.
    assert {step.target for step in steps} == {
        "flask-sync",
        "flask-gthread",
        "flask-gevent",
        "flask-a2wsgi",
        "starlette-uvicorn",
        "starlette-a2wsgi",
    }
    assert {step.sweep.levels for step in steps} == {(100, 1000)}
    assert plan.estimate_seconds(steps) <= 20 * 60


def test_the_replications_run_the_peers_workloads_on_our_versions_of_their_servers(
    catalogue: scenarios.Catalogue,
) -> None:
    steps = _steps(catalogue, "replications")
    assert {step.scenario.name for step in steps} == {"paterson", "grinberg"}
    targets = {step.target for step in steps}
    assert {step.sweep.levels for step in steps} == {(100,)}
    assert catalogue.scenario("paterson").requests[0].url == "/io/db-row?id=4242&ms=0"
    assert catalogue.scenario("grinberg").requests[0].url == "/io/db-row?id=4242&ms=20"
    by_name = {target.name: target for target in TARGETS}
    for replication in catalogue.replications.values():
        assert replication.scenario in catalogue.profile("replications").scenarios
        assert replication.users in catalogue.profile("replications").levels
        # Each row with an app of ours has exactly one target of that app and model in the
        # profile to stand for it.
        for figure in replication.figures:
            if figure.app is None:
                continue
            found = [
                name
                for name in targets
                if (by_name[name].app, by_name[name].model) == (figure.app, figure.model)
            ]
            assert len(found) == 1, (replication.name, figure)


def test_a_tag_no_target_has_is_named_with_its_entry(catalogue: scenarios.Catalogue) -> None:
    untagged = [replace(t, tags=tuple(g for g in t.tags if g != "quick")) for t in TARGETS]
    with pytest.raises(plan.PlanError) as info:
        plan.steps(catalogue, untagged, profile="quick")
    assert "profile 'quick': targets.tags: no target has 'quick'" in str(info.value)


def test_unknown_profile_lists_the_profiles(catalogue: scenarios.Catalogue) -> None:
    with pytest.raises(
        CatalogueError,
        match=(
            "no profile 'quik'; the profiles: quick, full, http-client, map, replications, "
            "c10k, tiny"
        ),
    ):
        catalogue.profile("quik")


DELETE = object()
_ENDPOINTS = (
    "the endpoints: /io/sleep, /io/upstream, /io/db, /io/fanout, /cpu, /io/blocking, "
    "/cpu-then-sleep, /io/db-row"
)
# Every rule of the file, each with a change that breaks it: (where in the document, what to put
# there, how the error begins after "<catalogue>: ").
BAD_DATA: list[tuple[str, object, str]] = [
    (
        "scenarios.io-sleep.requests[0].path",
        "/io/slep",
        f"scenario 'io-sleep': requests[0].path: no endpoint '/io/slep'; {_ENDPOINTS}",
    ),
    (
        "scenarios.io-sleep.requests[0].path",
        "/healthz",
        "scenario 'io-sleep': requests[0].path: no endpoint '/healthz'",
    ),
    (
        "scenarios.io-sleep.requests[0].path",
        DELETE,
        "scenario 'io-sleep': requests[0].path: missing",
    ),
    (
        "scenarios.io-sleep.requests[0].params",
        {"ms": 70_000},
        "scenario 'io-sleep': requests[0].params: ms must be an integer from 0 to 60000; "
        "got '70000'",
    ),
    (
        "scenarios.io-sleep.requests[0].params",
        {"msec": 100},
        "scenario 'io-sleep': requests[0].params: /io/sleep takes no 'msec'",
    ),
    (
        "scenarios.io-sleep.requests[0].params",
        {},
        "scenario 'io-sleep': requests[0].params: ms must be an integer from 0 to 60000; "
        "it is missing",
    ),
    # A TOML float or boolean reaches the contract's parser as text, and is refused there.
    (
        "scenarios.io-sleep.requests[0].params",
        {"ms": 100.5},
        "scenario 'io-sleep': requests[0].params: ms must be an integer from 0 to 60000; "
        "got '100.5'",
    ),
    (
        "scenarios.io-sleep.requests[0].params",
        {"ms": True},
        "scenario 'io-sleep': requests[0].params: ms must be an integer from 0 to 60000; "
        "got 'True'",
    ),
    (
        "scenarios.io-sleep.requests[0].params",
        "ms=100",
        "scenario 'io-sleep': requests[0].params: expected a table, got 'ms=100'",
    ),
    (
        "scenarios.cpu.requests[0].params",
        {"work": 1, "offload": "thread"},
        "scenario 'cpu': requests[0].params: offload must be one of: none, process",
    ),
    (
        "scenarios.io-sleep.requests[0].weigth",
        3,
        "scenario 'io-sleep': requests[0].weigth: unknown key; the keys: path, params, weight",
    ),
    (
        "scenarios.mixed.requests[0].weight",
        0,
        "scenario 'mixed': requests[0].weight: input should be greater than or equal to 1",
    ),
    (
        "scenarios.mixed.requests[0].weight",
        True,
        "scenario 'mixed': requests[0].weight: input should be a valid integer, got True",
    ),
    ("scenarios.io-sleep.requests", [], "scenario 'io-sleep': requests: list should have at"),
    ("scenarios.io-sleep.requests", [3], "scenario 'io-sleep': requests[0]: expected a table"),
    ("scenarios.io-sleep.requests", DELETE, "scenario 'io-sleep': requests: missing"),
    (
        "scenarios.io-sleep.workload",
        "io_sleep",
        "scenario 'io-sleep': workload: 'io_sleep' must be a class name, like IoSleep",
    ),
    ("scenarios.io-sleep.workload", "ioSleep", "scenario 'io-sleep': workload: 'ioSleep' must"),
    (
        "scenarios.io-sleep.workload",
        "Cpu",
        "scenario 'cpu': workload: 'Cpu' is already the workload of scenario 'io-sleep'",
    ),
    ("scenarios.io-sleep.workload", DELETE, "scenario 'io-sleep': workload: missing"),
    (
        "scenarios.io-sleep.explanation",
        "  ",
        "scenario 'io-sleep': explanation: string should have at least 1 character",
    ),
    ("scenarios.io-sleep.explanation", DELETE, "scenario 'io-sleep': explanation: missing"),
    (
        "scenarios.io-sleep.targets",
        "flask-sync",
        "scenario 'io-sleep': targets: expected \"all\" or a table of tags, models, apps, got",
    ),
    (
        "scenarios.io-sleep.targets",
        ["flask-sync"],
        "scenario 'io-sleep': targets: select targets by what they are",
    ),
    ("scenarios.io-sleep.targets", [], "scenario 'io-sleep': targets: select targets by what"),
    (
        "scenarios.io-sleep.targets",
        {},
        "scenario 'io-sleep': targets: expected \"all\" or a table of tags, models, apps",
    ),
    (
        "profiles.tiny.targets",
        {"tag": ["tiny"]},
        "profile 'tiny': targets.tag: unknown key; the keys: tags, models, apps",
    ),
    (
        "profiles.tiny.targets",
        {"tags": []},
        "profile 'tiny': targets.tags: expected a list of one or more names, got []",
    ),
    (
        "profiles.tiny.targets",
        {"tags": "tiny"},
        "profile 'tiny': targets.tags: expected a list of one or more names, got 'tiny'",
    ),
    (
        "profiles.tiny.targets",
        {"models": ["threads", 1]},
        "profile 'tiny': targets.models: expected a list of one or more names",
    ),
    (
        "scenarios.io-sleep.max_level",
        True,
        "scenario 'io-sleep': max_level: input should be a valid integer",
    ),
    ("scenarios.io-sleep.max_level", 0, "scenario 'io-sleep': max_level: input should be great"),
    (
        "scenarios.io-sleep.colour",
        "red",
        "scenario 'io-sleep': colour: unknown key; the keys: workload, explanation, requests, ",
    ),
    ("scenarios.io-sleep", 3, "scenario 'io-sleep': expected a table, got 3"),
    (
        "profiles.quick.scenarios",
        ["io-sleep", "cpu-bound"],
        "profile 'quick': scenarios[1]: no scenario 'cpu-bound'; the scenarios: io-sleep, ",
    ),
    ("profiles.quick.scenarios", [], "profile 'quick': scenarios: a profile names scenarios, a"),
    ("profiles.map.map", "decisions", "profile 'map': map: no map 'decisions'; the maps: decision"),
    ("maps.decision.waits_ms", [0, 20, 5], "map 'decision': waits_ms: values rise, like [0, 5"),
    ("maps.decision.waits_ms", [-5, 0], "map 'decision': waits_ms[0]: input should be greater"),
    ("maps.decision.waits_ms", [], "map 'decision': waits_ms: list should have at least 1"),
    ("maps.decision.cpu_ms", [0.0, 2.0, 0.5], "map 'decision': cpu_ms: values rise"),
    (
        "maps.decision.cpu_ms",
        [0.0, 1000.0],
        "map 'decision': cpu_ms: 1000 ms is 12500000 units of work; work must be an integer",
    ),
    ("maps.decision.ns_per_unit", 0.0, "map 'decision': ns_per_unit: input should be greater"),
    ("maps.decision.title", DELETE, "map 'decision': title: missing"),
    (
        "scenarios.io-sleep.workload",
        "MapWait0Cpu0",
        "map 'decision': its cell 'map-0ms-0ms' (MapWait0Cpu0) is a scenario or workload already",
    ),
    (
        "replications.paterson.scenario",
        "patterson",
        "replication 'paterson': scenario: no scenario 'patterson'; the scenarios: io-sleep, ",
    ),
    ("replications.paterson.url", "calpaterson.com", "replication 'paterson': url: string should"),
    ("replications.grinberg.figures", [], "replication 'grinberg': figures: list should have at"),
    (
        "replications.grinberg.figures[0].model",
        "coroutines",
        "replication 'grinberg': figures[0].model: input should be 'processes', 'threads', ",
    ),
    ("profiles.quick.scenarios", "cpu", "profile 'quick': scenarios: input should be a valid list"),
    ("profiles.quick.targets", "some", "profile 'quick': targets: expected \"all\" or a table"),
    (
        "profiles.quick.levels",
        [1, 50, 10],
        "profile 'quick': levels: levels rise, like [1, 10, 50]; got [1, 50, 10]",
    ),
    ("profiles.quick.levels", [1, 10, 10], "profile 'quick': levels: levels rise"),
    ("profiles.quick.levels", [], "profile 'quick': levels: list should have at least 1 item"),
    (
        "profiles.quick.levels",
        [0, 10],
        "profile 'quick': levels[0]: input should be greater than or equal to 1, got 0",
    ),
    ("profiles.quick.levels", [1, 2.5], "profile 'quick': levels[1]: input should be a valid"),
    ("profiles.quick.levels", [1, "10"], "profile 'quick': levels[1]: input should be a valid"),
    ("profiles.quick.levels", "1,10", "profile 'quick': levels: input should be a valid list"),
    ("profiles.quick.hold", 0, "profile 'quick': hold: takes whole seconds, as Locust moves a"),
    ("profiles.quick.hold", 1.5, "profile 'quick': hold: takes whole seconds, as Locust moves"),
    ("profiles.quick.hold", True, "profile 'quick': hold: input should be a valid number"),
    ("profiles.quick.hold", DELETE, "profile 'quick': hold: missing"),
    (
        "profiles.quick.warmup",
        -1,
        "profile 'quick': warmup: takes whole seconds, as Locust moves a load shape on once a",
    ),
    (
        "profiles.quick.warmup",
        "1s",
        "profile 'quick': warmup: input should be a valid number, got '1s'",
    ),
    ("profiles.quick.explanation", 3, "profile 'quick': explanation: input should be a valid str"),
    ("profiles.quick.ramp", 0, "profile 'quick': ramp: input should be greater than 0, got 0"),
    (
        "profiles.c10k.ramp",
        30,
        "profile 'c10k': ramp: the ramp (30 s) must end within the warm-up (22 s), or the hold",
    ),
    (
        "profiles.quick.hold_seconds",
        3,
        "profile 'quick': hold_seconds: unknown key; the keys: explanation, scenarios, ",
    ),
    (
        "default_profile",
        "fast",
        "default_profile: no profile 'fast'; the profiles: quick, full, http-client, map, ",
    ),
    (
        "profiles.open-loop.arrivals",
        "uniform",
        "profile 'open-loop': arrivals: input should be 'poisson' or 'constant'",
    ),
    ("profiles.quick.arrivals", 3, "profile 'quick': arrivals: input should be 'poisson' or"),
    ("default_profile", " ", "default_profile: string should have at least 1 character"),
    ("default_profile", DELETE, "default_profile: missing"),
    (
        "profile",
        {},
        "profile: unknown key; the keys: default_profile, scenarios, profiles, maps, ",
    ),
    ("scenarios", [], "scenarios: expected a table, got []"),
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
    assert str(info.value).startswith(f"<catalogue>: {message}")


def test_unreadable_catalogue_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "scenarios.toml"
    bad.write_text("[scenarios\n")
    with pytest.raises(CatalogueError, match=f"^{bad}: not valid TOML: "):
        scenarios.load(bad)
    with pytest.raises(
        CatalogueError, match=f"^{tmp_path / 'none.toml'}: cannot read the catalogue"
    ):
        scenarios.load(tmp_path / "none.toml")


def test_errors_in_the_file_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "scenarios.toml"
    bad.write_text(scenarios.CATALOGUE_PATH.read_text().replace("ms = 100 }", "ms = -1 }", 1))
    with pytest.raises(CatalogueError) as info:
        scenarios.load(bad)
    assert str(info.value).startswith(f"{bad}: scenario 'io-sleep': requests[0].params: ms must")


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
    sweep = Sweep((1, 10, 50), warmup=3, hold=7)
    assert Sweep.from_env(sweep.env()) == sweep
    spread = Sweep((10000,), warmup=22, hold=20, ramp=10)
    assert Sweep.from_env(spread.env()) == spread


def test_a_ramp_starts_a_levels_users_over_its_seconds() -> None:
    assert Sweep((100,), warmup=1, hold=2).spawn_rate(100) == 100 / scenarios.RAMP_SECONDS
    assert Sweep((10000,), warmup=22, hold=20, ramp=10).spawn_rate(10000) == 1000
    # Never slower than a user a second, which Locust would take as no spawning at all.
    assert Sweep((1,), warmup=22, hold=20, ramp=10).spawn_rate(1) == 1


def test_sweep_defaults_to_the_default_profile_or_the_named_one() -> None:
    quick = scenarios.load().profile("quick")
    assert Sweep.from_env({}) == Sweep(quick.levels, quick.warmup, quick.hold)
    full = Sweep.from_env({scenarios.PROFILE_ENV: "full", scenarios.HOLD_ENV: "2"})
    assert full.levels[-1] == 1000 and full.hold == 2


def test_an_open_loop_sweep_goes_through_the_environment_whole() -> None:
    sweep = Sweep((10, 20), warmup=2, hold=5, arrivals="constant")
    assert Sweep.from_env(sweep.env()) == sweep
    # The profile's arrivals, unless overridden.
    profile = Sweep.from_env({scenarios.PROFILE_ENV: "open-loop"})
    assert profile.arrivals == "poisson"
    constant = {scenarios.PROFILE_ENV: "open-loop", scenarios.ARRIVALS_ENV: "constant"}
    assert Sweep.from_env(constant).arrivals == "constant"
    # A closed profile's sweep is closed.
    assert Sweep.from_env({}).arrivals is None


def test_the_open_loop_profile_brackets_every_model_in_ten_minutes(
    catalogue: scenarios.Catalogue,
) -> None:
    profile = catalogue.profile("open-loop")
    assert profile.arrivals == "poisson"
    steps = _steps(catalogue, "open-loop")
    assert {step.scenario.name for step in steps} == {"io-sleep"}
    assert {step.target for step in steps} == {
        "flask-sync",
        "flask-gthread",
        "flask-gevent",
        "flask-a2wsgi",
        "starlette-uvicorn",
    }
    (sweep,) = {step.sweep for step in steps}
    assert sweep.arrivals == "poisson"
    # From below the sync workers' ~30 req/s to near one Locust core's ~7,000.
    assert sweep.levels[0] <= 20 and sweep.levels[-1] >= 5000
    assert all(b <= 2 * a for a, b in zip(sweep.levels, sweep.levels[1:], strict=False))
    # Each cell may wait up to SETTLE_SECONDS (15 s) after its last hold for slow answers.
    assert plan.estimate_seconds(steps) + 15 * len(steps) <= 10 * 60


def test_sweep_override_may_be_one_process_share_of_each_level() -> None:
    # 1 and 10 users over two Locust processes: this one runs none, then 5.
    assert Sweep.from_env({scenarios.LEVELS_ENV: "0, 5,5"}).levels == (0, 5, 5)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"BLOCKBENCH_LEVELS": "1,x"}, "BLOCKBENCH_LEVELS must be whole numbers of users"),
        ({"BLOCKBENCH_LEVELS": "1;10"}, "separated by commas, like 1,10,50; got '1;10'"),
        ({"BLOCKBENCH_LEVELS": "-1"}, "got '-1'"),
        ({"BLOCKBENCH_WARMUP": "-1"}, "BLOCKBENCH_WARMUP takes whole seconds, as Locust"),
        ({"BLOCKBENCH_WARMUP": "0.5"}, "once a second, 0 or more; got 0.5"),
        ({"BLOCKBENCH_HOLD": "0"}, "BLOCKBENCH_HOLD takes whole seconds, as Locust"),
        ({"BLOCKBENCH_HOLD": "1.5"}, "once a second, 1 or more; got 1.5"),
        ({"BLOCKBENCH_HOLD": "3s"}, "BLOCKBENCH_HOLD must be a number of seconds; got '3s'"),
        ({"BLOCKBENCH_PROFILE": "slow"}, "no profile 'slow'"),
        ({"BLOCKBENCH_RAMP": "0"}, "BLOCKBENCH_RAMP must be more than 0 seconds; got '0'"),
        ({"BLOCKBENCH_RAMP": "soon"}, "BLOCKBENCH_RAMP must be a number of seconds; got 'soon'"),
        (
            {"BLOCKBENCH_ARRIVALS": "uniform"},
            "BLOCKBENCH_ARRIVALS must be one of poisson, constant; got 'uniform'",
        ),
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
