"""Merging runs: a published run with some of its scenarios measured again.

The new runs' cells replace every cell of the same scenarios in the base run; the rest is kept
as measured. The merged run says in its notes which scenarios came from which run, made with
which command at which commit, so every figure on its page stays reproducible.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from blockbench import engine, results


class MergeError(results.ResultsError):
    """Runs that cannot be merged into one honestly; says why."""


def merge(base: results.Run, updates: Sequence[results.Run], run_id: str) -> results.Run:
    if not updates:
        raise MergeError("nothing to merge: give at least one run to take scenarios from")
    replaced: dict[str, str] = {}
    for update in updates:
        if update.status != "complete":
            raise MergeError(f"run {update.run_id} is {update.status}: finish it with --resume")
        if (update.warmup_s, update.hold_s) != (base.warmup_s, base.hold_s):
            raise MergeError(
                f"run {update.run_id} held each level {update.warmup_s:g} s + {update.hold_s:g} s,"
                f" {base.run_id} {base.warmup_s:g} s + {base.hold_s:g} s: their levels would not "
                "be comparable on one page"
            )
        for scenario in update.scenarios:
            if scenario in replaced:
                raise MergeError(
                    f"scenario {scenario} is in both {replaced[scenario]} and {update.run_id}"
                )
            replaced[scenario] = update.run_id
    kept = [cell for cell in base.cells if cell.scenario not in replaced]
    cells = kept + [cell for update in updates for cell in update.cells]
    runs = [base, *updates]
    notes = [*base.notes, *(_provenance(update) for update in updates)]
    generator = [run.generator_ceiling_rps for run in runs if run.generator_ceiling_rps]
    if len(set(generator)) > 1:
        notes.append(
            f"The runs measured the load generator's ceiling at {', '.join(map(str, generator))}"
            " req/s; the merged run judges every level against the lowest."
        )
    merged = base.model_copy(
        update={
            "run_id": run_id,
            "status": "complete" if base.status == "complete" else base.status,
            "scenarios": list(dict.fromkeys(name for run in runs for name in run.scenarios)),
            "targets": list(dict.fromkeys(name for run in runs for name in run.targets)),
            "levels": sorted({level for run in runs for level in run.levels}),
            "repeat": max(run.repeat for run in runs),
            "generator_ceiling_rps": min(generator) if generator else None,
            "upstream_ceiling_rps": _first(run.upstream_ceiling_rps for run in updates),
            "upstream_cpu_us_per_call": _first(run.upstream_cpu_us_per_call for run in updates),
            "cells": cells,
            "notes": notes,
        }
    )
    merged = engine.revalidate(merged)
    return merged.model_copy(update={"aggregates": engine.aggregate(merged.cells)})


def _provenance(update: results.Run) -> str:
    commit = update.environment.git_commit or "unknown"
    dirty = " (with uncommitted changes)" if update.environment.git_dirty else ""
    return (
        f"{', '.join(update.scenarios)}: measured again in run {update.run_id} "
        f"({update.created}, blockbench {commit[:12]}{dirty}, {update.repeat} repeat(s)) with "
        f"`{' '.join(update.command)}`; these replace the first run's cells."
    )


def _first(values: Iterable[float | None]) -> float | None:
    return next((value for value in values if value is not None), None)
