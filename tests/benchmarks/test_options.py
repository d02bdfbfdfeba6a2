"""The benchmark scripts' command lines: what their docstrings show is what they take, and a bad
value is refused before anything starts."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest
from typer.testing import CliRunner

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
SCRIPTS = sorted(BENCHMARKS.glob("*.py"))


def _load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"benchmark_{path.stem}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda path: path.stem)
def test_the_usage_in_the_docstring_names_real_options(path: Path) -> None:
    module = _load(path)
    shown = set(re.findall(r"\[(--[a-z-]+)", module.__doc__ or ""))
    assert shown, f"{path.name}'s docstring shows no usage line"
    result = CliRunner().invoke(module.app, ["--help"])
    assert result.exit_code == 0, result.output
    taken = set(re.findall(r"^\s+(--[a-z-]+)", result.output, re.MULTILINE))
    assert shown <= taken


@pytest.mark.parametrize("name", ["fidelity", "http_clients"])
def test_bad_levels_are_refused_before_anything_runs(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = _load(BENCHMARKS / f"{name}.py")
    # Nothing may be measured: the levels are checked first.
    monkeypatch.setattr(module.engine, "Engine", None)
    result = CliRunner().invoke(module.app, ["--levels", "10,ten"])
    assert result.exit_code == 2
    assert "--levels takes numbers of users" in result.output
    assert "'10,ten'" in result.output
