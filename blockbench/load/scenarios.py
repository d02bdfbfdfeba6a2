"""The scenario catalogue: what load each scenario sends, and the profiles that group scenarios,
targets and concurrency levels into one benchmark, read from ``scenarios.toml``.

Standard library only: the Locust files build their user classes and sweep from it, and the
harness plans and times runs from it, and neither may pull the other's dependencies in.
"""

from __future__ import annotations

import itertools
import os
import tomllib
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal, TypeVar
from urllib.parse import urlencode

from blockbench.apps import contract
from blockbench.errors import BlockbenchError

CATALOGUE_PATH = Path(__file__).with_name("scenarios.toml")

# What a run costs besides its levels, for the time estimates: starting the target until it
# answers /healthz, and starting Locust (~0.5 s measured idle; doubled for a busy machine).
TARGET_START_SECONDS = 2.0
LOCUST_START_SECONDS = 1.0
# Each step of a sweep reaches its level within this long, well inside the shortest warm-up, so
# the warm-up is spent at the level rather than on the way to it.
RAMP_SECONDS = 0.25

# The environment keys that override the sweep the Locust shape walks (see Sweep.from_env).
PROFILE_ENV = "BLOCKBENCH_PROFILE"
LEVELS_ENV = "BLOCKBENCH_LEVELS"
WARMUP_ENV = "BLOCKBENCH_WARMUP"
HOLD_ENV = "BLOCKBENCH_HOLD"
# Where the shape appends one JSON line of Locust statistics per level held; unset: nowhere.
LEVEL_STATS_ENV = "BLOCKBENCH_LEVEL_STATS"
# How many requests the target serves at once, where its concurrency model caps them (this Locust
# process's share of them): the streams of completions a saturated server's rate is read from.
SLOTS_ENV = "BLOCKBENCH_SLOTS"

Targets = Literal["all"] | tuple[str, ...]
Stage = Literal["warmup", "hold"]
Dependency = Literal["upstream", "database"]
_T = TypeVar("_T")


class CatalogueError(BlockbenchError):
    """The catalogue (or an override of it) cannot be used; the message names entry and key."""


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
    targets: Targets = "all"
    max_level: int | None = None

    def applies_to(self, target: str) -> bool:
        return self.targets == "all" or target in self.targets

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
    """Concurrency levels walked in order, each held for a warm-up and then a measured hold."""

    levels: tuple[int, ...]
    warmup: float
    hold: float

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
        return {
            LEVELS_ENV: ",".join(map(str, self.levels)),
            WARMUP_ENV: f"{self.warmup:g}",
            HOLD_ENV: f"{self.hold:g}",
        }

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Sweep:
        """The sweep of the default profile (or of BLOCKBENCH_PROFILE), with BLOCKBENCH_LEVELS,
        BLOCKBENCH_WARMUP and BLOCKBENCH_HOLD overriding its parts."""
        env = os.environ if env is None else env
        base = load().profile(env.get(PROFILE_ENV) or None).sweep()
        raw_levels = env.get(LEVELS_ENV)
        return cls(
            _env_levels(raw_levels) if raw_levels else base.levels,
            _env_seconds(env, WARMUP_ENV, base.warmup, allow_zero=True),
            _env_seconds(env, HOLD_ENV, base.hold, allow_zero=False),
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

    def sweep(self, scenario: Scenario | None = None) -> Sweep:
        """The profile's sweep, without the levels above ``scenario``'s max_level."""
        cap = scenario.max_level if scenario and scenario.max_level else None
        levels = tuple(level for level in self.levels if cap is None or level <= cap)
        return Sweep(levels, self.warmup, self.hold)


@dataclass(frozen=True)
class Run:
    """One scenario on one target: the unit the engine starts a target and Locust for."""

    scenario: Scenario
    target: str
    sweep: Sweep


@dataclass(frozen=True)
class Catalogue:
    scenarios: Mapping[str, Scenario]
    profiles: Mapping[str, Profile]
    default_profile: str

    def scenario(self, name: str) -> Scenario:
        return _lookup(self.scenarios, name, "scenario")

    def profile(self, name: str | None = None) -> Profile:
        return _lookup(self.profiles, name or self.default_profile, "profile")

    def check_targets(self, known: Collection[str]) -> None:
        """Fail, naming every entry, if the catalogue names a target ``known`` does not have."""
        named = [(f"scenarios.{s.name}", s.targets) for s in self.scenarios.values()]
        named += [(f"profiles.{p.name}", p.targets) for p in self.profiles.values()]
        unknown = [
            f"{where}.targets: {target!r}"
            for where, targets in named
            if targets != "all"
            for target in targets
            if target not in known
        ]
        if unknown:
            raise CatalogueError(
                f"the scenario catalogue names unknown targets: {'; '.join(unknown)}. "
                f"The targets: {', '.join(known)}"
            )

    def runs(self, profile: str | None, targets: Collection[str]) -> list[Run]:
        """Every run of ``profile``, scenario by scenario; ``targets`` are the target
        catalogue's names in its order, which "all" stands for."""
        self.check_targets(targets)
        chosen = self.profile(profile)
        wanted = targets if chosen.targets == "all" else chosen.targets
        runs: list[Run] = []
        for scenario in map(self.scenario, chosen.scenarios):
            sweep = chosen.sweep(scenario)
            # A max_level below all of the profile's levels leaves nothing to run.
            if sweep.levels:
                runs += [Run(scenario, t, sweep) for t in wanted if scenario.applies_to(t)]
        return runs


def estimate_seconds(runs: Iterable[Run]) -> float:
    """How long ``runs`` take: each starts a target and Locust, then walks its sweep."""
    return sum(TARGET_START_SECONDS + LOCUST_START_SECONDS + run.sweep.seconds for run in runs)


@cache
def load(path: Path = CATALOGUE_PATH) -> Catalogue:
    """The catalogue at ``path``, read and checked once per process."""
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise CatalogueError(f"cannot read the scenario catalogue {path}: {exc}") from None
    try:
        return parse(data)
    except CatalogueError as exc:
        raise CatalogueError(f"{path}: {exc}") from None


def parse(data: Mapping[str, object]) -> Catalogue:
    """Build and check the catalogue from a parsed TOML document."""
    top = _Entry("the catalogue", data)
    scenarios = {name: _scenario(name, entry) for name, entry in top.tables("scenarios").items()}
    profiles = {name: _profile(name, entry) for name, entry in top.tables("profiles").items()}
    catalogue = Catalogue(scenarios, profiles, top.text("default_profile"))
    top.done()
    _check_workloads(scenarios.values())
    for profile in profiles.values():
        for name in profile.scenarios:
            if name not in scenarios:
                raise CatalogueError(
                    f"profiles.{profile.name}.scenarios: no scenario {name!r}; "
                    f"the scenarios: {', '.join(scenarios)}"
                )
    try:
        catalogue.profile()
    except CatalogueError as exc:
        raise CatalogueError(f"default_profile: {exc}") from None
    return catalogue


def _scenario(name: str, entry: _Entry) -> Scenario:
    workload = entry.text("workload")
    if not (workload.isidentifier() and workload[0].isupper()):
        raise CatalogueError(
            f"{entry.where}.workload: {workload!r} must be a class name, like IoSleep"
        )
    scenario = Scenario(
        name,
        workload,
        entry.text("explanation"),
        tuple(map(_request, entry.array_of_tables("requests"))),
        entry.targets(),
        entry.count("max_level"),
    )
    entry.done()
    return scenario


def _request(entry: _Entry) -> Request:
    path = entry.text("path")
    endpoint = contract.find(path)
    if endpoint is None or endpoint is contract.HEALTHZ:
        paths = ", ".join(e.path for e in contract.ENDPOINTS if e is not contract.HEALTHZ)
        raise CatalogueError(f"{entry.where}.path: no endpoint {path!r}; the endpoints: {paths}")
    # The contract's own parser, on the query string Locust will send: what passes here, the
    # apps accept. A TOML float or boolean reaches it as "100.0" or "True" and is refused.
    query = urlencode({key: str(value) for key, value in entry.table("params").items()})
    try:
        params = contract.parse_query(endpoint, query)
    except contract.ContractError as exc:
        raise CatalogueError(f"{entry.where}.params: {exc.body()['message']}") from None
    request = Request(endpoint, params, entry.count("weight") or 1)
    entry.done()
    return request


def _profile(name: str, entry: _Entry) -> Profile:
    profile = Profile(
        name,
        entry.text("explanation"),
        entry.names("scenarios"),
        entry.targets(),
        entry.levels("levels"),
        entry.seconds("warmup", allow_zero=True),
        entry.seconds("hold", allow_zero=False),
    )
    entry.done()
    return profile


def _check_workloads(scenarios: Iterable[Scenario]) -> None:
    seen: dict[str, str] = {}
    for scenario in scenarios:
        if scenario.workload in seen:
            raise CatalogueError(
                f"scenarios.{scenario.name}.workload: {scenario.workload!r} is already the "
                f"workload of scenarios.{seen[scenario.workload]}; each needs its own class"
            )
        seen[scenario.workload] = scenario.name


def _levels(raw: Iterable[object], where: str) -> tuple[int, ...]:
    levels: list[int] = []
    for item in raw:
        text = item.strip() if isinstance(item, str) else str(item)
        if type(item) not in (int, str) or not text.isdigit() or int(text) < 1:
            raise CatalogueError(f"{where}: a level is a number of users, 1 or more; got {item!r}")
        levels.append(int(text))
    if not levels or any(b <= a for a, b in itertools.pairwise(levels)):
        raise CatalogueError(
            f"{where}: give one or more levels, rising, like 1,10,50; got {levels}"
        )
    return tuple(levels)


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


def _seconds(value: float, where: str, allow_zero: bool) -> float:
    if value < 0 or (value == 0 and not allow_zero):
        bound = "0 or more" if allow_zero else "more than 0"
        raise CatalogueError(f"{where}: seconds must be {bound}; got {value:g}")
    return value


def _env_seconds(env: Mapping[str, str], key: str, default: float, allow_zero: bool) -> float:
    raw = env.get(key)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise CatalogueError(f"{key} must be a number of seconds; got {raw!r}") from None
    return _seconds(value, key, allow_zero)


def _lookup(table: Mapping[str, _T], name: str, kind: str) -> _T:
    try:
        return table[name]
    except KeyError:
        raise CatalogueError(f"no {kind} {name!r}; the {kind}s: {', '.join(table)}") from None


class _Entry:
    """One table of the document being read: every error names where it is and which key."""

    def __init__(self, where: str, data: object) -> None:
        if not isinstance(data, Mapping):
            raise CatalogueError(f"{where}: expected a table, got {data!r}")
        self.where = where
        self.data: Mapping[str, object] = data
        self.known: set[str] = set()

    def _optional(self, key: str) -> object | None:
        self.known.add(key)
        return self.data.get(key)

    def _required(self, key: str) -> object:
        value = self._optional(key)
        if value is None:
            raise CatalogueError(f"{self.where}: {key} is missing")
        return value

    def _wrong(self, key: str, expected: str, value: object) -> CatalogueError:
        return CatalogueError(f"{self.where}.{key}: expected {expected}, got {value!r}")

    def text(self, key: str) -> str:
        value = self._required(key)
        if not isinstance(value, str) or not value.strip():
            raise self._wrong(key, "some text", value)
        return value

    def count(self, key: str) -> int | None:
        value = self._optional(key)
        # bool is an int in Python, but never a count of anything here.
        if value is not None and (type(value) is not int or value < 1):
            raise self._wrong(key, "a whole number, 1 or more", value)
        return value

    def seconds(self, key: str, allow_zero: bool) -> float:
        value = self._required(key)
        if type(value) not in (int, float):
            raise self._wrong(key, "a number of seconds", value)
        assert isinstance(value, int | float)
        return _seconds(float(value), f"{self.where}.{key}", allow_zero)

    def names(self, key: str) -> tuple[str, ...]:
        value = self._required(key)
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise self._wrong(key, "a list of one or more names", value)
        return tuple(value)

    def targets(self) -> Targets:
        value = self._optional("targets")
        return "all" if value is None or value == "all" else self.names("targets")

    def levels(self, key: str) -> tuple[int, ...]:
        value = self._required(key)
        if not isinstance(value, list):
            raise self._wrong(key, "a list of levels, like [1, 10, 50]", value)
        return _levels(value, f"{self.where}.{key}")

    def table(self, key: str) -> Mapping[str, object]:
        value = self._optional(key)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise self._wrong(key, "a table", value)
        return value

    def tables(self, key: str) -> dict[str, _Entry]:
        return {name: _Entry(f"{key}.{name}", data) for name, data in self.table(key).items()}

    def array_of_tables(self, key: str) -> list[_Entry]:
        value = self._required(key)
        if not isinstance(value, list) or not value:
            raise self._wrong(key, f"one or more [[{self.where}.{key}]] tables", value)
        return [_Entry(f"{self.where}.{key}[{i}]", item) for i, item in enumerate(value)]

    def done(self) -> None:
        """Refuse keys nobody reads: a misspelt optional key would otherwise pass silently."""
        unknown = sorted(set(self.data) - self.known)
        if unknown:
            raise CatalogueError(
                f"{self.where}: unknown key(s) {', '.join(unknown)}; "
                f"the keys are: {', '.join(sorted(self.known))}"
            )
