"""Merging runs: re-measured scenarios replace the base run's, everything else is kept, and the
merged run says where each figure came from."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from blockbench import results
from blockbench.engine import merge
from blockbench.results import judging
from tests import recorded


@pytest.fixture
def base() -> results.Run:
    # Judged by today's rules, as a merge judges what it merges.
    return judging.revalidate(results.load_run(recorded.RESULTS / "20261125-tiny-a"), "today")


def only(run: results.Run, scenario: str, run_id: str) -> results.Run:
    """The run as if it had measured ``scenario`` alone, with its rps doubled to tell it apart."""
    cells = [
        cell.model_copy(
            update={
                "levels": [level.model_copy(update={"rps": level.rps * 2}) for level in cell.levels]
            }
        )
        for cell in run.cells
        if cell.scenario == scenario
    ]
    return run.model_copy(
        update={"run_id": run_id, "scenarios": [scenario], "cells": cells, "command": ["again"]}
    )


def test_re_measured_scenarios_replace_the_base_and_the_rest_is_kept(base: results.Run) -> None:
    update = only(base, "cpu", "new")
    merged = merge.merge(base, [update], "merged")
    assert merged.run_id == "merged"
    assert merged.scenarios == base.scenarios
    assert [c for c in merged.cells if c.scenario == "io-sleep"] == [
        c for c in base.cells if c.scenario == "io-sleep"
    ]
    # The update's levels, judged against their own bounds (their rps was doubled).
    assert [[level.rps for level in c.levels] for c in merged.cells if c.scenario == "cpu"] == [
        [level.rps for level in c.levels] for c in update.cells
    ]
    cpu = [a for a in merged.aggregates if a.scenario == "cpu"]
    before = {(a.target, a.users): a.rps for a in base.aggregates if a.scenario == "cpu"}
    assert cpu and all(a.rps == pytest.approx(2 * before[a.target, a.users], rel=0.01) for a in cpu)
    assert any(
        note.startswith("cpu on ") and "run new" in note and "`again`" in note
        for note in merged.notes
    )


def test_runs_that_cannot_be_merged_honestly_are_refused(base: results.Run) -> None:
    update = only(base, "cpu", "new")
    with pytest.raises(merge.MergeError, match="cpu on flask-sync is in both new and new2"):
        merge.merge(base, [update, update.model_copy(update={"run_id": "new2"})], "m")
    # Held longer on one target but not the others: not comparable side by side.
    partly = update.model_copy(update={"hold_s": 99.0, "cells": update.cells[:1]})
    assert len(update.cells) > 1
    with pytest.raises(merge.MergeError, match="would not be comparable"):
        merge.merge(base, [partly], "m")
    with pytest.raises(merge.MergeError, match="is partial"):
        merge.merge(base, [update.model_copy(update={"status": "partial"})], "m")


def test_a_scenario_measured_again_on_every_target_may_be_held_longer(
    base: results.Run,
) -> None:
    longer = only(base, "cpu", "new").model_copy(update={"warmup_s": 5.0, "hold_s": 15.0})
    merged = merge.merge(base, [longer], "merged")
    assert (merged.warmup_s, merged.hold_s) == (base.warmup_s, base.hold_s)
    assert [c.target for c in merged.cells if c.scenario == "cpu"] == [
        c.target for c in longer.cells
    ]
    # The page says which scenario was held otherwise, and how long.
    assert any(
        note.startswith("cpu: every target held each level 5 s + 15 s") for note in merged.notes
    )


def test_the_merge_command_writes_a_run_the_report_reads(tmp_path: Path, base: results.Run) -> None:
    results.save_run(tmp_path / "base", base)
    results.save_run(tmp_path / "new", only(base, "cpu", "new"))
    command = [sys.executable, "-m", "blockbench.cli", "merge", "base", "new"]
    done = subprocess.run(
        [*command, "--run-id", "both", "--results", str(tmp_path)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert results.load_run(tmp_path / "both").run_id == "both"
    again = subprocess.run(
        [*command, "--run-id", "both", "--results", str(tmp_path)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert again.returncode == 2 and "exists already" in again.stderr


def test_a_merged_run_names_the_source_of_every_cell_even_merged_again(
    base: results.Run,
) -> None:
    targets = base.targets
    once = merge.merge(base, [only(base, "cpu", "new")], "once")
    assert [(s.run_id, s.scenarios, s.targets, s.command) for s in once.sources] == [
        (base.run_id, ["io-sleep"], targets, base.command),
        ("new", ["cpu"], targets, ["again"]),
    ]
    # Then one target's io-sleep again: only that pair changes hands.
    one_target = only(base, "io-sleep", "newer")
    one_target = one_target.model_copy(
        update={
            "cells": [c for c in one_target.cells if c.target == targets[0]],
            "targets": [targets[0]],
        }
    )
    twice = merge.merge(once, [one_target], "twice")
    assert [(s.run_id, s.scenarios, s.targets) for s in twice.sources] == [
        (base.run_id, ["io-sleep"], targets[1:]),
        ("new", ["cpu"], targets),
        ("newer", ["io-sleep"], [targets[0]]),
    ]
    kept = [c for c in twice.cells if c.scenario == "io-sleep" and c.target != targets[0]]
    assert kept == [c for c in base.cells if c.scenario == "io-sleep" and c.target != targets[0]]
