"""docker/serve_target.py, as an app container starts it: a target by name or an app's twin,
exec'd with the catalogue's command and environment."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from blockbench.targets import catalogue, twins

SCRIPT = Path(__file__).resolve().parents[2] / "docker" / "serve_target.py"


@pytest.fixture
def serve_target(monkeypatch: pytest.MonkeyPatch) -> tuple[ModuleType, list[Any]]:
    spec = importlib.util.spec_from_file_location("serve_target", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    execs: list[Any] = []
    monkeypatch.setattr(module.os, "execvpe", lambda *args: execs.append(args))
    return module, execs


def test_the_twin_of_an_app_is_its_target_tagged_twin(
    serve_target: tuple[ModuleType, list[Any]],
) -> None:
    module, execs = serve_target
    module.main(["--twin", "starlette"], {"PORT": "8002", "APP_CPUS": "2"})
    expected = twins.twin(catalogue.load(cores=2), "starlette")
    ((program, command, env),) = execs
    assert command == expected.command(8002, "0.0.0.0") and program == command[0]
    assert env["BLOCKBENCH_TARGET"] == expected.name and env["PORT"] == "8002"


def test_a_target_by_name(serve_target: tuple[ModuleType, list[Any]]) -> None:
    module, execs = serve_target
    name = catalogue.load(cores=1).matrix_names()[0]
    module.main([name], {"PORT": "8011"})
    assert execs[0][2]["BLOCKBENCH_TARGET"] == name


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "usage"),
        (["--twin"], "usage"),
        (["a", "b"], "usage"),
        (["--twin", "django"], "no app 'django'"),
        (["nope"], "unknown target 'nope'"),
    ],
)
def test_bad_arguments_exit_saying_why(
    serve_target: tuple[ModuleType, list[Any]], argv: list[str], message: str
) -> None:
    module, execs = serve_target
    with pytest.raises(SystemExit, match=message):
        module.main(argv, {"PORT": "8001"})
    assert execs == []
