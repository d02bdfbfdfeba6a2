"""The ceiling of load driven by hand, as Locust's web UI shows it live (loadtests/ceiling_tab.py).

What the tab knows, it gathers here: which target the host serves (its own /healthz names it and
the cores it was sized for), which workload runs and with how many users. The bounds themselves
are the report's (blockbench.results.bounds), computed by the same code; this module only
feeds them what can be known live and words the answer. No gevent, no Locust: unit-testable.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from blockbench import formats
from blockbench.apps import contract
from blockbench.load.scenarios import Scenario
from blockbench.results import Bound, Cap
from blockbench.results import bounds as bounding
from blockbench.targets import catalogue
from blockbench.targets.catalogue import CatalogueError, Target

# Locust's current rate averages the ten whole seconds ending two seconds before its last
# request, so it covers a new number of users alone only this long after they all started.
RATE_WINDOW_S = 12.0
HEALTH_PATH = contract.HEALTHZ.path
# What a run measures and this tab cannot: the CPU each request costs, on the target and on the
# services. Without them the ceiling is the tightest of users and the model's slots only.
NOT_COUNTED = (
    "CPU: the target's, PostgreSQL's, the upstream's and Locust's own per request "
    "(blockbench run measures them); here only users and the target's slots bound the rate"
)

Fetch = Callable[[str], bytes]
LoadCatalogue = Callable[..., catalogue.Catalogue]


@dataclass(frozen=True)
class Served:
    """The catalogue target a host serves, as its /healthz names it, or why it is unknown."""

    target: Target | None
    reason: str | None = None
    # Where the target was asked: the host's /healthz.
    source: str = ""


def served(host: str | None, fetch: Fetch, load: LoadCatalogue = catalogue.load) -> Served:
    """Ask ``host`` which target it is: a target the catalogue starts (``blockbench serve``,
    the compose stack) names itself and its cores on /healthz, which give its limits."""
    if not host:
        return Served(None, "no host is set")
    url = host.rstrip("/") + HEALTH_PATH
    try:
        body: Any = json.loads(fetch(url))
    except (OSError, ValueError) as exc:
        return Served(None, f"{url} gave no answer of the contract ({exc})", url)
    name = body.get("target") if isinstance(body, dict) else None
    cores = body.get("cores") if isinstance(body, dict) else None
    if not isinstance(name, str) or not isinstance(cores, int):
        return Served(
            None,
            f"{url} names no catalogue target: a server started outside the catalogue "
            "(blockbench serve and the compose stack start targets from it), or not a twin",
            url,
        )
    try:
        return Served(load(cores=cores).get(name), None, url)
    except CatalogueError:
        return Served(None, f"{url} names {name!r}, which this checkout's catalogue lacks", url)


@dataclass(frozen=True)
class Workload:
    """The one workload running, or why there is none to bound."""

    name: str | None
    scenario: Scenario | None
    reason: str | None = None


def workload(running: Mapping[str, int], scenarios: Mapping[str, Scenario]) -> Workload:
    """The workload of the users running now (user class name -> users), if it is one
    workload of the scenario catalogue."""
    active = sorted(name for name, users in running.items() if users > 0)
    if not active:
        return Workload(None, None, "no users are running: start a test")
    if len(active) > 1:
        return Workload(
            None,
            None,
            f"{' and '.join(active)} run at once: each workload has its own bound; run one",
        )
    [name] = active
    scenario = scenarios.get(name)
    if scenario is None:
        return Workload(name, None, f"{name} is not a workload of the scenario catalogue")
    return Workload(name, scenario)


def lag(spawning: bool, settled_at: float | None, now: float) -> float | None:
    """Seconds before Locust's current rate covers only the users running now; None once it
    does. Spawning, or never settled, it lags a whole window."""
    if spawning or settled_at is None:
        return RATE_WINDOW_S
    left = RATE_WINDOW_S - (now - settled_at)
    return left if left > 0 else None


def caps(target: Target) -> list[Cap]:
    """The target's caps as a run records them for its cells (results.Cap)."""
    return [Cap(name=c.name, value=c.value, where=c.per, kind=c.kind) for c in target.caps()]


@dataclass(frozen=True)
class Reading:
    """The ceiling now: users, successful rate, every bound, the tightest, efficiency."""

    users: int
    # Successful requests per second: Locust's current rate less its failures.
    rps: float
    served: Served
    workload: Workload
    bounds: Sequence[Bound]
    # Seconds the rate still lags the users (lag()), or None.
    lag_s: float | None = None

    @property
    def unknown(self) -> str | None:
        """Why there is no ceiling to show, in a sentence; None when there is one."""
        if self.workload.reason:
            return self.workload.reason
        if not self.bounds:
            name = self.workload.scenario.name if self.workload.scenario else "this workload"
            return f"{name} does not wait, so only CPU bounds it, which is not measured here"
        if self.served.target is None:
            users = bounding.binding(self.bounds)
            allows = f"; Little's law alone allows {formats.rps(users.rps)} req/s" if users else ""
            return f"the target's limits are unknown: {self.served.reason}{allows}"
        return None

    @property
    def ceiling(self) -> Bound | None:
        return None if self.unknown else bounding.binding(self.bounds)

    @property
    def efficiency(self) -> float | None:
        return None if self.unknown else bounding.efficiency(self.rps, self.bounds)

    def arithmetic(self) -> str:
        """Every bound's sum and the tightest: "50 users / 100 ms waiting = 500 req/s;
        32 in flight / 100 ms waiting = 320 req/s → 320 req/s"."""
        terms = "; ".join(f"{b.detail} = {formats.rps(b.rps)} req/s" for b in self.bounds)
        ceiling = self.ceiling
        return f"{terms} → {formats.rps(ceiling.rps)} req/s" if ceiling else terms

    def rows(self, levels: Levels | None = None) -> list[dict[str, str]]:
        """The tab's table: what, and its value now; then each level held so far."""
        target = self.served.target
        known = _target(target, self.served) if target else f"unknown: {self.served.reason}"
        rows = [
            ("target", known),
            ("workload", _workload(self.workload)),
            ("users", str(self.users)),
            ("throughput", f"{formats.rps(self.rps)} req/s successful (Locust's current rate)"),
        ]
        rows += [
            (f"bound: {b.name}", f"{b.detail} = {formats.rps(b.rps)} req/s") for b in self.bounds
        ]
        ceiling, efficiency = self.ceiling, self.efficiency
        if ceiling is None:
            rows.append(("ceiling", f"unknown: {self.unknown}"))
        else:
            rows.append(("ceiling", f"{formats.rps(ceiling.rps)} req/s, limited by {ceiling.name}"))
        if efficiency is not None and ceiling is not None:
            measured = f"{formats.rps(self.rps)} of {formats.rps(ceiling.rps)} req/s"
            rows.append(("efficiency", f"{efficiency:.2f} ({measured}){self._lagging()}"))
        else:
            rows.append(("efficiency", "unknown: no ceiling to divide by"))
        rows += levels.rows() if levels else []
        rows.append(("not counted", NOT_COUNTED))
        return [{"what": what, "value": value} for what, value in rows]

    def _lagging(self) -> str:
        if self.lag_s is None:
            return ""
        return (
            f"; settling: the rate still counts the users before the last change for "
            f"{self.lag_s:.0f} s more"
        )

    def as_json(self) -> dict[str, Any]:
        """For machines (the tab's data route): every number, and the sentences."""
        ceiling = self.ceiling
        scenario = self.workload.scenario
        return {
            "users": self.users,
            "rps": round(self.rps, 2),
            "target": self.served.target.name if self.served.target else None,
            "target_source": self.served.source,
            "workload": self.workload.name,
            "scenario": scenario.name if scenario else None,
            "bounds": [bound.model_dump(mode="json") for bound in self.bounds],
            "ceiling": ceiling.model_dump(mode="json") if ceiling else None,
            "limited_by": ceiling.name if ceiling else None,
            "efficiency": None if self.efficiency is None else round(self.efficiency, 3),
            "arithmetic": self.arithmetic(),
            "unknown": self.unknown,
            "settling_s": None if self.lag_s is None else round(self.lag_s, 1),
            "not_counted": NOT_COUNTED,
        }


class Levels:
    """The last settled reading at each number of users of a test: a sweep's levels side by
    side in the tab, as the report's charts draw them, each against its own ceiling."""

    def __init__(self) -> None:
        self._held: dict[int, Reading] = {}

    def record(self, reading: Reading) -> None:
        # Only once the rate counts these users alone, and only with a ceiling to divide by.
        if reading.lag_s is None and reading.ceiling is not None:
            self._held[reading.users] = reading

    def clear(self) -> None:
        self._held.clear()

    def rows(self) -> list[tuple[str, str]]:
        return [
            (f"held at {users} users", _held(reading))
            for users, reading in sorted(self._held.items())
        ]

    def as_json(self) -> list[dict[str, Any]]:
        held = []
        for users, reading in sorted(self._held.items()):
            bound, efficiency = reading.ceiling, reading.efficiency
            assert bound is not None and efficiency is not None  # record() keeps no other
            held.append(
                {
                    "users": users,
                    "rps": round(reading.rps, 2),
                    "ceiling_rps": bound.rps,
                    "limited_by": bound.name,
                    "efficiency": round(efficiency, 3),
                }
            )
        return held


def read(
    users: int, rps: float, served: Served, workload: Workload, lag_s: float | None = None
) -> Reading:
    """The ceiling of ``users`` of ``workload`` on what ``served`` names, by the report's
    bounds: Little's law, and each slot the target's model and pools have."""
    scenario = workload.scenario
    found: list[Bound] = []
    if scenario is not None and users > 0:
        target = served.target
        setting = bounding.Setting(
            caps=caps(target) if target else [],
            cores=target.cores if target else 1,
            model=target.model if target else None,
            generator_rps=None,
            upstream_calls_rps=None,
        )
        path = bounding.RequestPath.of(scenario)
        found = bounding.level_bounds(path, bounding.Measured(users, None), setting)
    return Reading(users, rps, served, workload, found, lag_s)


def _target(target: Target, served: Served) -> str:
    cores = f"{target.cores} core{'s' if target.cores != 1 else ''}"
    return f"{target.name} ({target.model}, {target.server}, {cores}), as {served.source} says"


def _workload(workload: Workload) -> str:
    scenario = workload.scenario
    if scenario is None:
        return f"unknown: {workload.reason}"
    wait = bounding.RequestPath.of(scenario).wait_s
    return f"{workload.name} ({scenario.name}): {formats.ms(wait * 1000)} waiting per request"


def _held(reading: Reading) -> str:
    bound, efficiency = reading.ceiling, reading.efficiency
    assert bound is not None and efficiency is not None
    measured = f"{formats.rps(reading.rps)} of {formats.rps(bound.rps)} req/s"
    return f"{efficiency:.2f} ({measured}, limited by {bound.name})"
