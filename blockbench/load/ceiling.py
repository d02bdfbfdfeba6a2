"""The ceiling of load driven by hand, as Locust's web UI shows it live (loadtests/ceiling_tab.py).

What the tab knows, it gathers here: which target the host serves (its own /healthz names it and
the cores it was sized for), which workload runs and with how many users. The bounds themselves
are the report's (blockbench.results.bounds), computed by the same code; this module only
feeds them what can be known live and words the answer. No gevent, no Locust: unit-testable.
"""

from __future__ import annotations

import json
import math
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

# Locust counts requests per wall-clock second. Its current rate averages the ten seconds before
# the last three: the second of its last request is still running, and a master hears from its
# workers every 3 s, so the two before may still be arriving. The tab's rate takes the same
# seconds, but only those after the users last changed: a level is never blurred with the last.
WINDOW_S = 10
UNREPORTED_S = 2  # seconds before the last request's that are left out too
HEALTH_PATH = contract.HEALTHZ.path
# What a run measures and this tab cannot: the CPU each request costs, on the target and on the
# services. Without them the ceiling is the tightest of users and the model's slots only.
NOT_COUNTED = (
    "CPU: the target's, PostgreSQL's, the upstream's and Locust's own per request "
    "(blockbench run measures them); here only users and the target's slots bound the rate"
)

_NOT_YET = "no whole second counted since the users last changed"
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


@dataclass(frozen=True)
class Rate:
    """Successful requests per second, over whole seconds of the users running now."""

    rps: float
    seconds: int


def rate(
    requests: Mapping[int, int],
    failures: Mapping[int, int],
    settled_at: float | None,
    last_request: float | None,
) -> Rate | None:
    """The successful rate over the whole seconds Locust has counted (its requests and failures
    per second) since the users settled at ``settled_at`` (wall clock; None while they change),
    the last WINDOW_S at most; None before one such second is in."""
    if settled_at is None or last_request is None:
        return None
    end = int(last_request) - UNREPORTED_S  # the first second not counted
    start = max(math.ceil(settled_at), end - WINDOW_S)
    if end <= start:
        return None
    seconds = range(start, end)
    ok = sum(requests.get(second, 0) - failures.get(second, 0) for second in seconds)
    return Rate(max(ok, 0) / len(seconds), len(seconds))


def caps(target: Target) -> list[Cap]:
    """The target's caps as a run records them for its cells (results.Cap)."""
    return [Cap(name=c.name, value=c.value, where=c.per, kind=c.kind) for c in target.caps()]


@dataclass(frozen=True)
class Reading:
    """The ceiling now: users, successful rate, every bound, the tightest, efficiency."""

    users: int
    # None until a whole second of these users is counted.
    rate: Rate | None
    served: Served
    workload: Workload
    bounds: Sequence[Bound]

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
        if self.unknown or self.rate is None:
            return None
        return bounding.efficiency(self.rate.rps, self.bounds)

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
            ("throughput", self._throughput()),
        ]
        rows += [
            (f"bound: {b.name}", f"{b.detail} = {formats.rps(b.rps)} req/s") for b in self.bounds
        ]
        ceiling, efficiency = self.ceiling, self.efficiency
        if ceiling is None:
            rows.append(("ceiling", f"unknown: {self.unknown}"))
        else:
            rows.append(("ceiling", f"{formats.rps(ceiling.rps)} req/s, limited by {ceiling.name}"))
        if efficiency is not None and ceiling is not None and self.rate is not None:
            measured = f"{formats.rps(self.rate.rps)} of {formats.rps(ceiling.rps)} req/s"
            rows.append(("efficiency", f"{efficiency:.2f} ({measured})"))
        elif ceiling is not None:
            rows.append(("efficiency", f"not yet: {_NOT_YET}"))
        else:
            rows.append(("efficiency", "unknown: no ceiling to divide by"))
        rows += levels.rows() if levels else []
        rows.append(("not counted", NOT_COUNTED))
        return [{"what": what, "value": value} for what, value in rows]

    def _throughput(self) -> str:
        if self.rate is None:
            return f"not yet: {_NOT_YET}"
        over = f"{self.rate.seconds} s" if self.rate.seconds > 1 else "second"
        rps = formats.rps(self.rate.rps)
        return f"{rps} req/s successful, over the last {over} at {self.users} users"

    def as_json(self) -> dict[str, Any]:
        """For machines (the tab's data route): every number, and the sentences."""
        ceiling = self.ceiling
        scenario = self.workload.scenario
        return {
            "users": self.users,
            "rps": None if self.rate is None else round(self.rate.rps, 2),
            "rate_seconds": None if self.rate is None else self.rate.seconds,
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
            "not_counted": NOT_COUNTED,
        }


class Levels:
    """The last settled reading at each number of users of a test: a sweep's levels side by
    side in the tab, as the report's charts draw them, each against its own ceiling."""

    def __init__(self) -> None:
        self._held: dict[int, Reading] = {}

    def record(self, reading: Reading) -> None:
        # Only with a rate of these users alone and a ceiling to divide it by; a level's later
        # readings, over more of its seconds, replace its earlier ones.
        if reading.rate is not None and reading.ceiling is not None:
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
            bound, efficiency, rate = reading.ceiling, reading.efficiency, reading.rate
            assert bound and efficiency is not None and rate  # record() keeps no other
            held.append(
                {
                    "users": users,
                    "rps": round(rate.rps, 2),
                    "rate_seconds": rate.seconds,
                    "ceiling_rps": bound.rps,
                    "limited_by": bound.name,
                    "efficiency": round(efficiency, 3),
                }
            )
        return held


def read(users: int, rate: Rate | None, served: Served, workload: Workload) -> Reading:
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
    return Reading(users, rate, served, workload, found)


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
    bound, efficiency, rate = reading.ceiling, reading.efficiency, reading.rate
    assert bound and efficiency is not None and rate
    measured = f"{formats.rps(rate.rps)} of {formats.rps(bound.rps)} req/s over {rate.seconds} s"
    return f"{efficiency:.2f} ({measured}, limited by {bound.name})"
