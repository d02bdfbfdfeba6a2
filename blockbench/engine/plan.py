"""What a run will do, before it does it: which scenario runs on which target, in what order,
and through which levels."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from blockbench.errors import BlockbenchError
from blockbench.load import scenarios, selection

# What a step costs besides its levels, for the time estimates: starting the target until it
# answers /healthz, and starting Locust (~0.5 s measured idle; doubled for a busy machine).
TARGET_START_SECONDS = 2.0
LOCUST_START_SECONDS = 1.0


class PlanError(BlockbenchError):
    """A run that cannot be planned as asked; says what to change."""


@dataclass(frozen=True)
class Step:
    """One cell of the run: a scenario on a target, one repeat, through a sweep."""

    scenario: scenarios.Scenario
    target: str
    repeat: int
    sweep: scenarios.Sweep


def sweep_for(
    profile: scenarios.Profile,
    scenario: scenarios.Scenario,
    levels: Sequence[int] = (),
    warmup: float | None = None,
    hold: float | None = None,
) -> scenarios.Sweep:
    """The profile's sweep for ``scenario``, with the levels, warm-up or hold given instead."""
    return scenarios.Sweep(
        scenario.levels_within(levels or profile.levels),
        profile.warmup if warmup is None else warmup,
        profile.hold if hold is None else hold,
        ramp=profile.ramp,
        arrivals=profile.arrivals,
    )


def steps(
    catalogue: scenarios.Catalogue,
    targets: Sequence[selection.TargetInfo],
    *,
    profile: str | None = None,
    only_scenarios: Sequence[str] = (),
    only_targets: Sequence[str] = (),
    levels: Sequence[int] = (),
    warmup: float | None = None,
    hold: float | None = None,
    repeat: int = 1,
) -> list[Step]:
    """Every cell of the run, repeats interleaved (A B A B, not A A B B) so that drift of a
    noisy machine spreads evenly over the targets. ``targets`` are the target catalogue's, in
    its order: what the profile selects of them runs, unless ``only_targets`` names some."""
    if repeat < 1:
        raise PlanError(f"--repeat must be 1 or more, got {repeat}")
    chosen = catalogue.profile(profile)
    names = list(only_scenarios) or list(chosen.scenarios)
    for name in names:
        catalogue.scenario(name)  # fails naming the known scenarios
    by_name = {target.name: target for target in targets}
    unknown = [t for t in only_targets if t not in by_name]
    if unknown:
        raise PlanError(f"unknown target {', '.join(unknown)}; the targets: {', '.join(by_name)}")
    # What the scenario catalogue selects for this run must be there: a tag, model or app no
    # target has would quietly select nothing.
    selecting: list[tuple[str, scenarios.Targets]] = []
    if not only_targets:
        selecting.append((f"profile {chosen.name!r}", chosen.targets))
    selecting += [(f"scenario {name!r}", catalogue.scenario(name).targets) for name in names]
    for where, selector in selecting:
        try:
            selector.check(targets, where)
        except selection.SelectionError as exc:
            raise PlanError(f"the scenario catalogue: {exc}") from None
    # "all" is the matrix: every target but the variants, which a profile selects by their tags.
    wanted = list(dict.fromkeys(only_targets)) or list(chosen.targets.pick(targets))
    cells: list[tuple[scenarios.Scenario, str, scenarios.Sweep]] = []
    for scenario in map(catalogue.scenario, names):
        sweep = sweep_for(chosen, scenario, levels, warmup, hold)
        if sweep.levels:
            cells += [(scenario, t, sweep) for t in wanted if scenario.applies_to(by_name[t])]
    if not cells:
        raise PlanError(
            "nothing to run: no chosen scenario applies to the chosen targets "
            f"(scenarios {', '.join(names)}; targets {', '.join(wanted) or 'none'})"
        )
    return [
        Step(scenario, target, index, sweep)
        for index in range(repeat)
        for scenario, target, sweep in cells
    ]


def parse_target_urls(pairs: Sequence[str]) -> dict[str, str]:
    """``NAME=URL`` pairs from the command line, each URL on loopback or a named host."""
    urls: dict[str, str] = {}
    for pair in pairs:
        name, sep, url = pair.partition("=")
        if not sep or not name or not url.startswith(("http://", "https://")):
            raise PlanError(
                "--target-url takes NAME=URL, a target of the catalogue and where it listens, "
                f"like TARGET=http://127.0.0.1:8001; got {pair!r}"
            )
        urls[name] = url.rstrip("/")
    return urls


def parse_levels(values: Sequence[str]) -> tuple[int, ...]:
    """``--levels`` as given (1,10,50): each a number of users, 1 or more."""
    if not all(value.strip().isdigit() and int(value) >= 1 for value in values):
        raise PlanError(
            f"--levels takes numbers of users, 1 or more, like 1,10,50; got {','.join(values)!r}"
        )
    return tuple(int(value) for value in values)


_ENV_KEY = re.compile(r"[A-Z_][A-Z0-9_]*")


def parse_app_env(pairs: Sequence[str]) -> dict[str, str]:
    """``KEY=VALUE`` pairs from the command line, for every target's app environment."""
    env: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not _ENV_KEY.fullmatch(key):
            raise PlanError(f"--app-env takes KEY=VALUE, like UPSTREAM_CLIENT=httpx; got {pair!r}")
        env[key] = value
    return env


def estimate_seconds(steps_: Sequence[Step], extra: Mapping[str, float] | None = None) -> float:
    """How long ``steps_`` take: each starts a target and Locust, then walks its sweep; plus
    ``extra`` (named other work, such as measuring the generator's ceiling)."""
    starts = len(steps_) * (TARGET_START_SECONDS + LOCUST_START_SECONDS)
    return starts + sum(step.sweep.seconds for step in steps_) + sum((extra or {}).values())
