"""Merging runs: a published run with some of its cells measured again.

An update's cells replace the base run's cells of the same scenario and target (every repeat);
the rest is kept as measured. An update may hold its levels longer or shorter than the base
only where it measures a scenario again on every target the base had it on: the targets a
page compares side by side are then measured alike. The merged run names, for every scenario
and target, the run it comes from and that run's command and commit, so every figure on its
page stays reproducible.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from blockbench import results
from blockbench.engine import environment
from blockbench.load.loadgen import REPO
from blockbench.results import aggregates, judging

Key = tuple[str, str]  # (scenario, target)


class MergeError(results.ResultsError):
    """Runs that cannot be merged into one honestly; says why."""


def merge(base: results.Run, updates: Sequence[results.Run], run_id: str) -> results.Run:
    if not updates:
        raise MergeError("nothing to merge: give at least one run to take cells from")
    replaced: dict[Key, str] = {}
    for update in updates:
        _check(base, update)
        for key in dict.fromkeys(_key(cell) for cell in update.cells):
            if key in replaced:
                raise MergeError(
                    f"{key[0]} on {key[1]} is in both {replaced[key]} and {update.run_id}"
                )
            replaced[key] = update.run_id
    kept = [cell for cell in base.cells if _key(cell) not in replaced]
    cells = kept + [cell for update in updates for cell in update.cells]
    runs = [base, *updates]
    notes = [*base.notes, *(_provenance(update) for update in updates)]
    notes += [_holds(base, update) for update in updates if _held_otherwise(base, update)]
    generator = [run.generator_ceiling_rps for run in runs if run.generator_ceiling_rps]
    if len(set(generator)) > 1:
        notes.append(
            f"The runs measured the load generator's ceiling at {', '.join(map(str, generator))}"
            " req/s; the merged run judges every level against the lowest."
        )
    kept_keys = {_key(cell) for cell in kept}
    merged = base.model_copy(
        update={
            "run_id": run_id,
            "scenarios": list(dict.fromkeys(name for run in runs for name in run.scenarios)),
            "targets": list(dict.fromkeys(name for run in runs for name in run.targets)),
            "levels": sorted({level for run in runs for level in run.levels}),
            "repeat": max(run.repeat for run in runs),
            "generator_ceiling_rps": min(generator) if generator else None,
            "upstream_ceiling_rps": _last(run.upstream_ceiling_rps for run in runs),
            "upstream_cpu_us_per_call": _last(run.upstream_cpu_us_per_call for run in runs),
            "cells": cells,
            "notes": notes,
            "sources": [
                *_sources(base, kept_keys),
                *(s for u in updates for s in _sources(u, {_key(c) for c in u.cells})),
            ],
        }
    )
    merged = judging.revalidate(merged, environment.blockbench_commit(REPO))
    return merged.model_copy(update={"aggregates": aggregates.aggregate(merged.cells)})


def _check(base: results.Run, update: results.Run) -> None:
    if update.status != "complete":
        raise MergeError(f"run {update.run_id} is {update.status}: finish it with --resume")
    if not _held_otherwise(base, update):
        return
    measured = {_key(cell) for cell in update.cells}
    scenarios = set(_scenarios(update))
    kept = [key for key in map(_key, base.cells) if key[0] in scenarios and key not in measured]
    left = sorted(kept)
    if left:
        scenario, target = left[0]
        raise MergeError(
            f"run {update.run_id} held each level {update.warmup_s:g} s + {update.hold_s:g} s,"
            f" {base.run_id} {base.warmup_s:g} s + {base.hold_s:g} s, and {scenario} on "
            f"{target} would keep the base's: its levels would not be comparable on one page "
            "with the other targets'; measure the whole scenario again"
        )


def _held_otherwise(base: results.Run, update: results.Run) -> bool:
    return (update.warmup_s, update.hold_s) != (base.warmup_s, base.hold_s)


def _scenarios(run: results.Run) -> list[str]:
    return list(dict.fromkeys(cell.scenario for cell in run.cells))


def _holds(base: results.Run, update: results.Run) -> str:
    return (
        f"{', '.join(_scenarios(update))}: every target held each level {update.warmup_s:g} s "
        f"+ {update.hold_s:g} s (warm-up + hold), where the rest of this page held "
        f"{base.warmup_s:g} s + {base.hold_s:g} s."
    )


def _key(cell: results.Cell) -> Key:
    return (cell.scenario, cell.target)


def _sources(run: results.Run, keys: set[Key]) -> list[results.Source]:
    """Where ``run``'s cells ``keys`` come from: itself, or the runs it was merged from. One
    source per group of scenarios measured on the same targets."""
    if run.sources:
        found = [_narrowed(source, keys) for source in run.sources]
        return [source for source in found if source is not None]
    env = run.environment
    targets_of: dict[str, list[str]] = {}
    for scenario, target in sorted(keys, key=lambda k: (run.scenarios.index(k[0]), k[1])):
        targets_of.setdefault(scenario, []).append(target)
    groups: dict[tuple[str, ...], list[str]] = {}
    for scenario, targets in targets_of.items():
        ordered = tuple(t for t in run.targets if t in targets)
        groups.setdefault(ordered, []).append(scenario)
    return [
        results.Source(
            run_id=run.run_id,
            scenarios=scenarios,
            targets=list(targets),
            command=run.command,
            git_commit=env.git_commit,
            git_dirty=env.git_dirty,
            created=run.created,
            repeat=run.repeat,
        )
        for targets, scenarios in groups.items()
    ]


def _narrowed(source: results.Source, keys: set[Key]) -> results.Source | None:
    scenarios = [s for s in source.scenarios if any((s, t) in keys for t in source.targets)]
    targets = [t for t in source.targets if any((s, t) in keys for s in source.scenarios)]
    if not scenarios:
        return None
    return source.model_copy(update={"scenarios": scenarios, "targets": targets})


def _provenance(update: results.Run) -> str:
    commit = update.environment.git_commit or "unknown"
    dirty = " (with uncommitted changes)" if update.environment.git_dirty else ""
    return (
        f"{', '.join(update.scenarios)} on {', '.join(update.targets)}: measured again in run "
        f"{update.run_id} ({update.created}, blockbench {commit[:12]}{dirty}, {update.repeat} "
        f"repeat(s)) with `{' '.join(update.command)}`; these replace the earlier cells."
    )


def _last(values: Iterable[float | None]) -> float | None:
    found = [value for value in values if value is not None]
    return found[-1] if found else None
