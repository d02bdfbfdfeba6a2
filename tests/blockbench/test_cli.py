"""The command line: it loads in the bench image, which has the harness's extra only (Locust,
the engine, the report), not the apps' servers and clients; and an expected failure is one line
and exit status 2, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from blockbench.cli import app

REPO = Path(__file__).resolve().parents[2]
# In the app image only (the wsgi, asgi and upstream extras), never in the bench image.
APP_ONLY = ("uvloop", "httptools", "uvicorn", "aiohttp", "flask", "starlette", "pycurl", "a2wsgi")


def test_the_cli_loads_without_the_apps_packages() -> None:
    script = textwrap.dedent(
        f"""
        import sys
        for name in {APP_ONLY!r}:
            sys.modules[name] = None  # importing it now raises ImportError
        from blockbench.cli import app
        for command in (["--help"], ["run", "--help"], ["upstream", "--help"], ["merge", "--help"]):
            try:
                app(command)
            except SystemExit as stop:
                assert stop.code == 0, (command, stop.code)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "Run the slow upstream service" in done.stdout


def blockbench(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "blockbench.cli", *args],
        cwd=REPO,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


BAD_TARGETS = '[targets.t]\napp = "django"\n'


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        # A bad catalogue: the file, the entry and the key.
        (["targets", "--catalogue", "{tmp}/bad.toml"], {}, "bad.toml: target 't': app: "),
        # Bad overrides from the environment and the command line.
        (["targets"], {"BLOCKBENCH_TARGET_CPUS": "x"}, "BLOCKBENCH_TARGET_CPUS: expected a CPU"),
        (["run", "--app-env", "CONCURRENCY=5"], {}, "--app-env cannot set CONCURRENCY"),
        (
            ["run", "--targets", "flask-gthread", "--app-env", "UPSTREAM_CLIENT=geventhttpclient"],
            {},
            "--app-env for flask-gthread: UPSTREAM_CLIENT='geventhttpclient' cannot serve",
        ),
        (["run", "--levels", "1,x"], {}, "--levels takes numbers of users"),
        # Unknown names.
        (["serve", "nope"], {}, "unknown target nope; "),
        (["run", "--targets", "nope"], {}, "unknown target nope; the targets: flask-sync"),
        (["run", "--scenarios", "nope"], {}, "no scenario 'nope'; the scenarios: io-sleep"),
        (["run", "--profile", "nope"], {}, "no profile 'nope'; the profiles: quick"),
    ],
)
def test_an_expected_failure_is_one_line_and_exit_status_2(
    args: list[str], env: dict[str, str], message: str, tmp_path: Path
) -> None:
    (tmp_path / "bad.toml").write_text(BAD_TARGETS)
    args = [arg.replace("{tmp}", str(tmp_path)) for arg in args]
    # Nothing may be measured or written: every case fails before a run starts.
    if args[0] == "run":
        args += ["--results", str(tmp_path / "results")]
    done = blockbench(*args, env=env)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    [line] = done.stderr.splitlines()
    assert line.startswith("blockbench: ") and message in line, line
    assert not (tmp_path / "results").exists()


def test_an_unexpected_failure_keeps_its_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    from blockbench.targets import serve

    def broken(path: Path | None) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(serve, "load", broken)
    result = CliRunner().invoke(app, ["targets"])
    assert isinstance(result.exception, RuntimeError)
    assert result.exit_code == 1
