"""A level disturbed from outside the target (its utilisation law off) is measured once more on
a fresh start, its first attempt kept on disk and named in the run's notes; a level flagged for
what the target or the load did is never measured again. Fakes stand in for the measuring."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import pytest

from blockbench import results
from blockbench.engine import engine as engine_module
from blockbench.engine.engine import Engine, RunOptions, _Deployment
from blockbench.engine.sampler import TreeSampler
from tests.blockbench.results.test_schema import make_level, make_run


class Attempts:
    """Stands in for Engine._run_cell (a class attribute that is no function, so it is called
    without the engine): each call measures the missing levels with the flags
    given for that attempt, and saves them as the engine does."""

    def __init__(
        self, flags_per_attempt: list[list[results.Flag]], only: tuple[int, ...] = (1, 10)
    ) -> None:
        self.flags_per_attempt = flags_per_attempt
        # The levels the flags fall on.
        self.only = only
        self.measured: list[list[int]] = []

    def __call__(self, run: results.Run, folder: Path, index: int, *_: object) -> results.Cell:
        cell = run.cells[index]
        flags = self.flags_per_attempt[len(self.measured)]
        missing = cell.missing_levels
        self.measured.append(missing)
        new = [
            make_level(users, flags=list(flags) if users in self.only else []) for users in missing
        ]
        for level in new:
            results.save_level(folder, cell, level)
        for name in ("locust", "logs"):
            (folder / name / results.cell_key(cell)).mkdir(parents=True, exist_ok=True)
        return cell.model_copy(update={"levels": [*cell.levels, *new]})


def measure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, attempts: Attempts) -> results.Run:
    run = make_run()
    cell = run.cells[0].model_copy(update={"levels": []})
    run = run.model_copy(update={"cells": [cell]})
    monkeypatch.setattr(Engine, "_run_cell", attempts)
    engine = Engine(RunOptions())
    return engine._measure_cell(run, tmp_path, 0, cast(TreeSampler, None), cast(_Deployment, None))


def test_a_disturbed_level_is_measured_again_and_its_attempt_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    attempts = Attempts([["utilisation_law_off"], []])
    run = measure(tmp_path, monkeypatch, attempts)
    assert attempts.measured == [[1, 10], [1, 10]]
    assert [(level.users, level.flags) for level in run.cells[0].levels] == [(1, []), (10, [])]
    key = results.cell_key(run.cells[0])
    aside = tmp_path / engine_module.DISTURBED_DIR / key / "attempt-1"
    assert sorted(path.name for path in aside.iterdir()) == ["1.json", "10.json", "locust", "logs"]
    kept = results.LevelResult.model_validate_json((aside / "1.json").read_text())
    assert kept.flags == ["utilisation_law_off"]
    assert len(run.notes) == 1
    assert "1, 10 measured again" in run.notes[0] and "utilisation law" in run.notes[0]
    assert (tmp_path / results.RUN_FILE).exists()


def test_a_second_disturbance_is_kept_flagged_as_measured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    attempts = Attempts([["utilisation_law_off"]] * engine_module.DISTURBED_ATTEMPTS)
    run = measure(tmp_path, monkeypatch, attempts)
    assert len(attempts.measured) == engine_module.DISTURBED_ATTEMPTS
    assert all(level.flags == ["utilisation_law_off"] for level in run.cells[0].levels)
    assert len(run.notes) == engine_module.DISTURBED_ATTEMPTS - 1


@pytest.mark.parametrize(
    "flags",
    [
        [],
        ["failures_above_threshold"],
        ["utilisation_law_off", "generator_saturated"],
    ],
)
def test_a_level_the_target_or_the_load_flagged_is_not_measured_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flags: list[results.Flag]
) -> None:
    attempts = Attempts([flags, []])
    run = measure(tmp_path, monkeypatch, attempts)
    assert attempts.measured == [[1, 10]]
    assert all(level.flags == flags for level in run.cells[0].levels)
    assert run.notes == []


def test_a_resumed_cell_keeps_the_disturbed_levels_it_finished_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = make_run()
    before = make_level(1, flags=["utilisation_law_off"])
    cell = run.cells[0].model_copy(update={"levels": [before]})
    run = run.model_copy(update={"cells": [cell]})
    attempts = Attempts([[], []])
    monkeypatch.setattr(Engine, "_run_cell", attempts)
    measured = Engine(RunOptions())._measure_cell(
        run, tmp_path, 0, cast(TreeSampler, None), cast(_Deployment, None)
    )
    assert attempts.measured == [[10]]
    assert measured.cells[0].levels[0] == before
    assert measured.notes == []


def test_a_level_measured_again_goes_back_to_its_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    attempts = Attempts([["utilisation_law_off"], []], only=(1,))
    run = measure(tmp_path, monkeypatch, attempts)
    assert attempts.measured == [[1, 10], [1]]
    assert [level.users for level in run.cells[0].levels] == [1, 10]
    assert [level.users for level in results.load_run(tmp_path).cells[0].levels] == [1, 10]
