"""The scenario catalogue: what load each scenario sends, and the profiles that group scenarios,
targets and concurrency levels into one benchmark, read from ``scenarios.toml``.

The Locust files build their user classes and sweep from it, so it imports nothing of the harness
but the catalogue loader and the target selections: no Locust here, and nothing the engine or the
report needs.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import urlencode

from pydantic import AfterValidator, BaseModel, Field, PlainValidator, model_validator

from blockbench import catalogues
from blockbench.apps import contract

# The one catalogue error, for callers of this module (the target catalogue raises it too).
from blockbench.catalogues import CatalogueError as CatalogueError
from blockbench.catalogues import Count, Text
from blockbench.load import selection

CATALOGUE_PATH = Path(__file__).with_name("scenarios.toml")

# Each step of a sweep reaches its level within this long, well inside the shortest warm-up, so
# the warm-up is spent at the level rather than on the way to it.
RAMP_SECONDS = 0.25

# The environment keys that override the sweep the Locust shape walks (see Sweep.from_env).
PROFILE_ENV = "BLOCKBENCH_PROFILE"
LEVELS_ENV = "BLOCKBENCH_LEVELS"
WARMUP_ENV = "BLOCKBENCH_WARMUP"
HOLD_ENV = "BLOCKBENCH_HOLD"
RAMP_ENV = "BLOCKBENCH_RAMP"
# Where the shape appends one JSON line of Locust statistics per level held; unset: nowhere.
LEVEL_STATS_ENV = "BLOCKBENCH_LEVEL_STATS"
# How many requests the target serves at once, where its concurrency model caps them (this Locust
# process's share of them): the streams of completions a saturated server's rate is read from.
SLOTS_ENV = "BLOCKBENCH_SLOTS"
# An open-loop sweep: its levels are arrival rates (requests per second) spaced this way, and the
# seed its schedules are drawn from (see blockbench.load.arrivals).
ARRIVALS_ENV = "BLOCKBENCH_ARRIVALS"
SEED_ENV = "BLOCKBENCH_SEED"

# Which targets, by tags, models or apps (blockbench.load.selection); never by name.
Targets = selection.Selector
Stage = Literal["warmup", "hold"]
# How an open-loop profile spaces its arrivals: exponential gaps (a Poisson process) or equal
# ones; the results schema's Arrivals, which the Locust files cannot import.
Arrivals = Literal["poisson", "constant"]
ARRIVALS: tuple[Arrivals, ...] = ("poisson", "constant")
Dependency = Literal["upstream", "database"]
_T = TypeVar("_T")
_N = TypeVar("_N", int, float)


@dataclass(frozen=True)
class Request:
    endpoint: contract.Endpoint
    # Complete and validated: the contract's defaults are filled in, in the contract's order.
    params: Mapping[str, contract.ParamValue]
    weight: int = 1

    @property
    def path(self) -> str:
        return self.endpoint.path

    @property
    def url(self) -> str:
        return f"{self.path}?{urlencode(self.params)}" if self.params else self.path


@dataclass(frozen=True)
class Scenario:
    name: str
    workload: str
    explanation: str
    requests: tuple[Request, ...]
    targets: Targets = selection.ALL
    max_level: int | None = None

    def applies_to(self, target: selection.TargetInfo) -> bool:
        return self.targets.matches(target)

    def levels_within(self, levels: Iterable[int]) -> tuple[int, ...]:
        """``levels`` without those above the scenario's max_level."""
        return tuple(level for level in levels if not self.max_level or level <= self.max_level)

    @property
    def dependencies(self) -> frozenset[Dependency]:
        """The services a target needs next to it for this scenario (the upstream, a database)."""
        return frozenset(r.endpoint.dependency for r in self.requests if r.endpoint.dependency)


@dataclass(frozen=True)
class Phase:
    index: int
    level: int
    stage: Stage


@dataclass(frozen=True)
class Sweep:
    """Levels walked in order, each held for a warm-up and then a measured hold: numbers of
    users (a closed loop), or with ``arrivals`` arrival rates in requests per second (an open
    loop, loadtests/open_loop.py)."""

    levels: tuple[int, ...]
    warmup: float
    hold: float
    # Seconds over which a level's new users start, within its warm-up.
    ramp: float = RAMP_SECONDS

    def spawn_rate(self, level: int) -> float:
        """Users started per second on the way to ``level``."""
        return max(level / self.ramp, 1.0)

    # Set, the levels are arrival rates in requests per second, spaced this way.
    arrivals: Arrivals | None = None

    @property
    def seconds(self) -> float:
        return len(self.levels) * (self.warmup + self.hold)

    def phase_at(self, elapsed: float) -> Phase | None:
        """Where the sweep is ``elapsed`` seconds after it started; None once it is over."""
        step = self.warmup + self.hold
        index = int(max(elapsed, 0.0) // step)
        if index >= len(self.levels):
            return None
        stage: Stage = "warmup" if elapsed - index * step < self.warmup else "hold"
        return Phase(index, self.levels[index], stage)

    def env(self) -> dict[str, str]:
        """The environment that makes the Locust shape walk exactly this sweep."""
        env = {
            LEVELS_ENV: ",".join(map(str, self.levels)),
            WARMUP_ENV: f"{self.warmup:g}",
            HOLD_ENV: f"{self.hold:g}",
            RAMP_ENV: f"{self.ramp:g}",
        }
        if self.arrivals is not None:
            env[ARRIVALS_ENV] = self.arrivals
        return env

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Sweep:
        """The sweep of the default profile (or of BLOCKBENCH_PROFILE), with BLOCKBENCH_LEVELS,
        BLOCKBENCH_WARMUP, BLOCKBENCH_HOLD and BLOCKBENCH_ARRIVALS overriding its parts."""
        env = os.environ if env is None else env
        base = load().profile(env.get(PROFILE_ENV) or None).sweep()
        raw_levels = env.get(LEVELS_ENV)
        return cls(
            _env_levels(raw_levels) if raw_levels else base.levels,
            _env_seconds(env, WARMUP_ENV, base.warmup, allow_zero=True),
            _env_seconds(env, HOLD_ENV, base.hold, allow_zero=False),
            ramp=_env_ramp(env, base.ramp),
            arrivals=_env_arrivals(env, base.arrivals),
        )


@dataclass(frozen=True)
class Profile:
    name: str
    explanation: str
    scenarios: tuple[str, ...]
    targets: Targets
    levels: tuple[int, ...]
    warmup: float
    hold: float
    ramp: float = RAMP_SECONDS
    # Set, the levels are arrival rates in requests per second, spaced this way.
    arrivals: Arrivals | None = None

    def sweep(self) -> Sweep:
        return Sweep(self.levels, self.warmup, self.hold, ramp=self.ramp, arrivals=self.arrivals)


@dataclass(frozen=True)
class MapCell:
    """One handler of a decision map: its own scenario, which computes then waits."""

    scenario: str
    wait_ms: int
    # Nominal: the work units sent times the map's ns_per_unit; the report shows the CPU each
    # level measured beside it.
    cpu_ms: float
    work: int


@dataclass(frozen=True)
class DecisionMap:
    """A grid of handlers, wait x CPU, each cell one scenario of /cpu-then-sleep."""

    name: str
    title: str
    explanation: str
    waits_ms: tuple[int, ...]
    cpu_ms: tuple[float, ...]
    ns_per_unit: float
    # Row-major: for each CPU time (rows, rising), each wait (columns, rising).
    cells: tuple[MapCell, ...]


@dataclass(frozen=True)
class PeerFigure:
    """One row of a peer benchmark's published table, and which of ours stands for it: the
    target of our app of that name with the row's model, among those measured on the
    workload."""

    framework: str
    server: str
    model: str
    value: float
    app: str | None = None


@dataclass(frozen=True)
class Replication:
    """A published benchmark's workload, reproduced as one of our scenarios at one level."""

    name: str
    title: str
    url: str
    workload: str
    scenario: str
    users: int
    unit: str
    figures: tuple[PeerFigure, ...]
    finding: str


@dataclass(frozen=True)
class Catalogue:
    scenarios: Mapping[str, Scenario]
    profiles: Mapping[str, Profile]
    default_profile: str
    maps: Mapping[str, DecisionMap] = field(default_factory=dict)
    replications: Mapping[str, Replication] = field(default_factory=dict)

    def scenario(self, name: str) -> Scenario:
        return _lookup(self.scenarios, name, "scenario")

    def profile(self, name: str | None = None) -> Profile:
        return _lookup(self.profiles, name or self.default_profile, "profile")

    @property
    def map_scenarios(self) -> frozenset[str]:
        """Every scenario a decision map is made of (a map page shows them, not as scenarios)."""
        return frozenset(cell.scenario for grid in self.maps.values() for cell in grid.cells)


@cache
def load(path: Path = CATALOGUE_PATH) -> Catalogue:
    """The catalogue at ``path``, read and checked once per process."""
    return parse(catalogues.read(path), str(path))


def parse(data: Mapping[str, Any], source: str = "<catalogue>") -> Catalogue:
    """Build and check the catalogue from a parsed TOML document."""
    entries = {
        "scenarios": "scenario",
        "profiles": "profile",
        "maps": "map",
        "replications": "replication",
    }
    file = catalogues.validate(_File, data, source, entries)
    maps = {name: entry.decision_map(name) for name, entry in file.maps.items()}
    found = {name: entry.scenario(name) for name, entry in file.scenarios.items()}
    for grid in maps.values():
        found |= {cell.scenario: _map_scenario(grid, cell) for cell in grid.cells}
    return Catalogue(
        found,
        {name: entry.profile(name, maps) for name, entry in file.profiles.items()},
        file.default_profile,
        maps,
        {name: entry.replication(name) for name, entry in file.replications.items()},
    )


def _map_scenario(grid: DecisionMap, cell: MapCell) -> Scenario:
    params = contract.parse_query(
        contract.CPU_THEN_SLEEP, urlencode({"work": cell.work, "ms": cell.wait_ms})
    )
    return Scenario(
        name=cell.scenario,
        workload=_map_workload(cell),
        explanation=(
            f"{grid.title}: {cell.cpu_ms:g} ms of CPU (nominal), then a {cell.wait_ms} ms wait."
        ),
        requests=(Request(contract.CPU_THEN_SLEEP, params),),
    )


def _map_names(wait_ms: int, cpu_ms: float) -> tuple[str, str]:
    """A map cell's scenario name and Locust class name: map-20ms-0.5ms, MapWait20Cpu0p5."""
    cpu = f"{cpu_ms:g}"
    return f"map-{wait_ms}ms-{cpu}ms", f"MapWait{wait_ms}Cpu{cpu.replace('.', 'p')}"


def _map_workload(cell: MapCell) -> str:
    return _map_names(cell.wait_ms, cell.cpu_ms)[1]


def _env_levels(raw: str) -> tuple[int, ...]:
    # Looser than the catalogue: a harness that splits each level over several Locust processes
    # gives each its share, which may be 0 or repeat (1 user over 2 processes: 1 and 0).
    items = [item.strip() for item in raw.split(",")]
    if not all(item.isdigit() for item in items):
        raise CatalogueError(
            f"{LEVELS_ENV} must be whole numbers of users separated by commas, like 1,10,50; "
            f"got {raw!r}"
        )
    return tuple(map(int, items))


def _env_arrivals(env: Mapping[str, str], default: Arrivals | None) -> Arrivals | None:
    raw = (env.get(ARRIVALS_ENV) or "").strip()
    if not raw:
        return default
    for arrivals in ARRIVALS:
        if raw == arrivals:
            return arrivals
    raise CatalogueError(f"{ARRIVALS_ENV} must be one of {', '.join(ARRIVALS)}; got {raw!r}")


def slots_from_env(env: Mapping[str, str] | None = None) -> int | None:
    """BLOCKBENCH_SLOTS: the requests the target serves at once; None where unset (no cap)."""
    env = os.environ if env is None else env
    raw = (env.get(SLOTS_ENV) or "").strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise CatalogueError(
            f"{SLOTS_ENV} must be a whole number of requests in flight, 1 or more; got {raw!r}"
        )
    return int(raw)


# Locust moves a load shape on once a second (its shape worker ticks every second), so a phase
# lasts whole seconds whatever it asks for: a 1.5 s hold would measure 1 s.
WHOLE_SECONDS = "whole seconds, as Locust moves a load shape on once a second"


def seconds_problem(value: float, *, allow_zero: bool) -> str | None:
    """Why ``value`` cannot be a warm-up (``allow_zero``) or a hold, or None."""
    least = 0 if allow_zero else 1
    if not (least <= value < math.inf) or value != int(value):
        return f"takes {WHOLE_SECONDS}, {least} or more; got {value:g}"
    return None


def _env_seconds(env: Mapping[str, str], key: str, default: float, allow_zero: bool) -> float:
    raw = env.get(key)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise CatalogueError(f"{key} must be a number of seconds; got {raw!r}") from None
    problem = seconds_problem(value, allow_zero=allow_zero)
    if problem:
        raise CatalogueError(f"{key} {problem}")
    return value


def _env_ramp(env: Mapping[str, str], default: float) -> float:
    raw = env.get(RAMP_ENV)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise CatalogueError(f"{RAMP_ENV} must be a number of seconds; got {raw!r}") from None
    if not value > 0 or value == float("inf"):
        raise CatalogueError(f"{RAMP_ENV} must be more than 0 seconds; got {raw!r}")
    return value


def _whole_seconds(*, allow_zero: bool) -> Callable[[float], float]:
    """The catalogue's check of a warm-up (``allow_zero``) or a hold, for pydantic."""

    def check(value: float) -> float:
        problem = seconds_problem(value, allow_zero=allow_zero)
        if problem:
            raise ValueError(problem)
        return value

    return check


def _lookup(table: Mapping[str, _T], name: str, kind: str) -> _T:
    try:
        return table[name]
    except KeyError:
        raise CatalogueError(f"no {kind} {name!r}; the {kind}s: {', '.join(table)}") from None


# -- the file's schema --------------------------------------------------------------------


def _endpoint_path(path: str) -> str:
    endpoint = contract.find(path)
    if endpoint is None or endpoint is contract.HEALTHZ:
        paths = ", ".join(e.path for e in contract.ENDPOINTS if e is not contract.HEALTHZ)
        raise ValueError(f"no endpoint {path!r}; the endpoints: {paths}")
    return path


def _class_name(workload: str) -> str:
    if not (workload.isidentifier() and workload[0].isupper()):
        raise ValueError(f"{workload!r} must be a class name, like IoSleep")
    return workload


def _targets(value: object) -> Targets:
    try:
        return selection.parse(value)
    except selection.SelectionError as exc:
        raise catalogues.Invalid(str(exc), *exc.at) from None


def _rising(levels: list[int]) -> list[int]:
    if any(b <= a for a, b in itertools.pairwise(levels)):
        raise ValueError(f"levels rise, like [1, 10, 50]; got {levels}")
    return levels


TargetNames = Annotated[Targets, PlainValidator(_targets)]


class _RequestEntry(BaseModel):
    model_config = catalogues.ENTRY

    path: Annotated[str, AfterValidator(_endpoint_path)]
    # Any TOML value: the contract's parser decides, on the query string Locust will send.
    params: dict[str, Any] = {}
    weight: Count = 1

    @model_validator(mode="after")
    def _the_apps_accept_it(self) -> _RequestEntry:
        try:
            self.request()
        except contract.ContractError as exc:
            raise catalogues.Invalid(exc.body()["message"], "params") from None
        return self

    def request(self) -> Request:
        endpoint = contract.find(self.path)
        assert endpoint is not None  # _endpoint_path let it in
        # What passes here, the apps accept. A TOML float or boolean reaches the parser as
        # "100.0" or "True" and is refused.
        query = urlencode({key: str(value) for key, value in self.params.items()})
        return Request(endpoint, contract.parse_query(endpoint, query), self.weight)


class _ScenarioEntry(BaseModel):
    model_config = catalogues.ENTRY

    workload: Annotated[str, AfterValidator(_class_name)]
    explanation: Text
    requests: Annotated[list[_RequestEntry], Field(min_length=1)]
    targets: TargetNames = selection.ALL
    max_level: Count | None = None

    def scenario(self, name: str) -> Scenario:
        requests = tuple(entry.request() for entry in self.requests)
        return Scenario(
            name, self.workload, self.explanation, requests, self.targets, self.max_level
        )


class _ProfileEntry(BaseModel):
    model_config = catalogues.ENTRY

    explanation: Text
    scenarios: list[str] = []
    # A decision map ([maps.NAME]): its cells' scenarios run after those listed.
    map: Text | None = None
    targets: TargetNames = selection.ALL
    levels: Annotated[list[Count], Field(min_length=1), AfterValidator(_rising)]
    warmup: Annotated[float, AfterValidator(_whole_seconds(allow_zero=True))]
    hold: Annotated[float, AfterValidator(_whole_seconds(allow_zero=False))]
    # Seconds to start a level's users: a spread start keeps them out of step, where a burst
    # start would send their requests in waves (10,000 users of a 5 s wait all at once).
    ramp: Annotated[float, Field(gt=0)] = RAMP_SECONDS
    # Given, the levels are arrival rates (requests per second), not users.
    arrivals: Arrivals | None = None

    @model_validator(mode="after")
    def _something_to_run(self) -> _ProfileEntry:
        if not self.scenarios and self.map is None:
            raise catalogues.Invalid("a profile names scenarios, a map, or both", "scenarios")
        return self

    @model_validator(mode="after")
    def _ramp_within_warmup(self) -> _ProfileEntry:
        if self.ramp > RAMP_SECONDS and self.ramp > self.warmup:
            raise catalogues.Invalid(
                f"the ramp ({self.ramp:g} s) must end within the warm-up ({self.warmup:g} s), "
                "or the hold would measure users still starting",
                "ramp",
            )
        return self

    def profile(self, name: str, maps: Mapping[str, DecisionMap]) -> Profile:
        cells = maps[self.map].cells if self.map is not None else ()
        return Profile(
            name,
            self.explanation,
            tuple(self.scenarios) + tuple(cell.scenario for cell in cells),
            self.targets,
            tuple(self.levels),
            self.warmup,
            self.hold,
            ramp=self.ramp,
            arrivals=self.arrivals,
        )


def _rising_numbers(values: list[_N]) -> list[_N]:
    if any(b <= a for a, b in itertools.pairwise(values)):
        raise ValueError(f"values rise, like [0, 5, 20]; got {values}")
    return values


class _MapEntry(BaseModel):
    model_config = catalogues.ENTRY

    title: Text
    explanation: Text
    waits_ms: Annotated[
        list[Annotated[int, Field(ge=0, le=contract.MS.maximum)]],
        Field(min_length=1),
        AfterValidator(_rising_numbers),
    ]
    cpu_ms: Annotated[
        list[Annotated[float, Field(ge=0)]], Field(min_length=1), AfterValidator(_rising_numbers)
    ]
    # What one unit of contract.WORK costs, in ns, on the reference machine: converts the
    # nominal CPU times into the work units the requests carry.
    ns_per_unit: Annotated[float, Field(gt=0)]

    @model_validator(mode="after")
    def _work_within_the_contract(self) -> _MapEntry:
        most = self.units(max(self.cpu_ms))
        if most > contract.WORK.maximum:
            raise catalogues.Invalid(
                f"{max(self.cpu_ms):g} ms is {most} units of work; {contract.WORK.rule}",
                "cpu_ms",
            )
        return self

    def units(self, cpu_ms: float) -> int:
        return round(cpu_ms * 1e6 / self.ns_per_unit)

    def decision_map(self, name: str) -> DecisionMap:
        cells = tuple(
            MapCell(_map_names(wait, cpu)[0], wait, cpu, self.units(cpu))
            for cpu in self.cpu_ms
            for wait in self.waits_ms
        )
        return DecisionMap(
            name,
            self.title,
            self.explanation,
            tuple(self.waits_ms),
            tuple(self.cpu_ms),
            self.ns_per_unit,
            cells,
        )


class _PeerFigureEntry(BaseModel):
    model_config = catalogues.ENTRY

    framework: Text
    server: Text
    model: Literal["processes", "threads", "green-threads", "event-loop"]
    value: Annotated[float, Field(gt=0)]
    app: Literal["flask", "starlette", "fastapi", "quart"] | None = None


class _ReplicationEntry(BaseModel):
    model_config = catalogues.ENTRY

    title: Text
    url: Annotated[str, Field(pattern=r"^https://")]
    workload: Text
    scenario: Text
    users: Count
    unit: Text
    finding: Text
    figures: Annotated[list[_PeerFigureEntry], Field(min_length=2)]

    def replication(self, name: str) -> Replication:
        figures = tuple(
            PeerFigure(f.framework, f.server, f.model, f.value, f.app) for f in self.figures
        )
        return Replication(
            name,
            self.title,
            self.url,
            self.workload,
            self.scenario,
            self.users,
            self.unit,
            figures,
            self.finding,
        )


class _File(BaseModel):
    model_config = catalogues.ENTRY

    default_profile: Text
    scenarios: dict[str, _ScenarioEntry] = {}
    profiles: dict[str, _ProfileEntry] = {}
    maps: dict[str, _MapEntry] = {}
    replications: dict[str, _ReplicationEntry] = {}

    @model_validator(mode="after")
    def _names_resolve(self) -> _File:
        workloads: dict[str, str] = {}
        for name, scenario in self.scenarios.items():
            if scenario.workload in workloads:
                raise catalogues.Invalid(
                    f"{scenario.workload!r} is already the workload of scenario "
                    f"{workloads[scenario.workload]!r}; each needs its own class",
                    "scenarios", name, "workload",
                )  # fmt: skip
            workloads[scenario.workload] = name
        for name, grid in self.maps.items():
            for cpu in grid.cpu_ms:
                for wait in grid.waits_ms:
                    cell, workload = _map_names(wait, cpu)
                    if cell in self.scenarios or workload in workloads:
                        raise catalogues.Invalid(
                            f"its cell {cell!r} ({workload}) is a scenario or workload "
                            "already; rename one",
                            "maps", name,
                        )  # fmt: skip
        for name, replication in self.replications.items():
            if replication.scenario not in self.scenarios:
                raise catalogues.Invalid(
                    f"no scenario {replication.scenario!r}; the scenarios: "
                    f"{', '.join(self.scenarios)}",
                    "replications", name, "scenario",
                )  # fmt: skip
        for name, profile in self.profiles.items():
            if profile.map is not None and profile.map not in self.maps:
                raise catalogues.Invalid(
                    f"no map {profile.map!r}; the maps: {', '.join(self.maps) or 'none'}",
                    "profiles", name, "map",
                )  # fmt: skip
            for index, wanted in enumerate(profile.scenarios):
                if wanted not in self.scenarios:
                    raise catalogues.Invalid(
                        f"no scenario {wanted!r}; the scenarios: {', '.join(self.scenarios)}",
                        "profiles", name, "scenarios", index,
                    )  # fmt: skip
        if self.default_profile not in self.profiles:
            raise catalogues.Invalid(
                f"no profile {self.default_profile!r}; the profiles: {', '.join(self.profiles)}",
                "default_profile",
            )
        return self
