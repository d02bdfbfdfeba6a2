"""The command line: it loads in the bench image, which has the harness's extra only (Locust,
the engine, the report), not the apps' servers and clients; and an expected failure is one line
and exit status 2, never a traceback."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import time
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
# A distributed run that waits for a worker from another machine.
REMOTE = ["run", "--generator", "distributed", "--master-bind", "0.0.0.0:5557",
          "--remote-workers", "1", "--scenarios", "io-sleep"]  # fmt: skip


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
        # Every option of run, refused before anything starts.
        (["run", "--levels", "abc"], {}, "--levels takes numbers of users, 1 or more"),
        (["run", "--levels", "0,-5"], {}, "--levels takes numbers of users, 1 or more"),
        (["run", "--warmup", "-1"], {}, "'--warmup': takes whole seconds, as Locust moves a"),
        (["run", "--warmup", "inf"], {}, "'--warmup': takes whole seconds, as Locust moves a"),
        (["run", "--warmup", "0.5"], {}, "once a second, 0 or more; got 0.5"),
        (["run", "--hold", "-1"], {}, "'--hold': takes whole seconds, as Locust moves a load"),
        (["run", "--hold", "0"], {}, "once a second, 1 or more; got 0"),
        (["run", "--hold", "1.5"], {}, "once a second, 1 or more; got 1.5"),
        (["run", "--hold", "nan"], {}, "once a second, 1 or more; got nan"),
        (["run", "--hold", "soon"], {}, "'--hold': "),
        (["run", "--repeat", "0"], {}, "'--repeat': Input should be greater than or equal to 1"),
        (["run", "--processes", "0"], {}, "'--processes': Input should be greater than or equal"),
        (["run", "--target-cores", "0"], {}, "'--target-cores': Input should be greater than"),
        (["run", "--target-url", "x"], {}, "--target-url takes NAME=URL"),
        (["run", "--upstream-url", "ftp://x"], {}, "'--upstream-url': takes a URL like http://"),
        (["run", "--upstream-url", "http://:99"], {}, "'--upstream-url': takes a URL like"),
        (["run", "--database-url", "http://x"], {}, "'--database-url': takes a URL like postgr"),
        (["run", "--app-env", "X"], {}, "--app-env takes KEY=VALUE"),
        (["run", "--run-id", "../x"], {}, "'--run-id': takes a name of letters, digits"),
        (["run", "--resume", "/etc"], {}, "'--resume': takes a name of letters, digits"),
        (["run", "--resume", "nope"], {}, "nope"),
        (["run", "--bogus"], {}, "No such option: --bogus (see blockbench run --help)"),
        # The load generator's mode and a distributed run's master and workers.
        (["run", "--generator", "threads"], {}, "'--generator': takes processes or distributed"),
        (["run", "--master-bind", "0.0.0.0:0"], {}, "port must be a number from 1 to 65535"),
        (["run", "--master-bind", "tcp://0.0.0.0"], {}, "expected HOST[:PORT], not a URL"),
        (["run", "--remote-workers", "-1"], {}, "'--remote-workers': Input should be greater"),
        (["run", "--join-timeout", "0"], {}, "'--join-timeout': Input should be greater"),
        (["run", "--remote-workers", "2"], {}, "--remote-workers need --generator distributed"),
        (
            ["run", "--generator", "distributed", "--remote-workers", "1"],
            {},
            "remote workers need an address to reach the master: give --master-bind",
        ),
        (
            [*REMOTE, "--targets", "starlette-uvicorn"],
            {},
            "remote workers cannot reach starlette-uvicorn (started here on loopback)",
        ),
        (
            [*REMOTE, "--target-url", "starlette-uvicorn=http://127.0.0.1:8001"],
            {},
            "remote workers cannot reach starlette-uvicorn (http://127.0.0.1:8001)",
        ),
        (
            [*REMOTE, "--target-url", "starlette-uvicorn=http://10.0.0.9:8001"],
            {},
            "the generator's ceiling is measured against the upstream service, which remote",
        ),
        (["worker"], {}, "Missing option '--master'"),
        (["worker", "--master", "10.0.0.5:x"], {}, "--master: the port must be a number"),
        (["worker", "--master", "[::1"], {}, "--master: expected HOST[:PORT]"),
        (["worker", "--master", "h", "--processes", "0"], {}, "'--processes': Input should be"),
        # The other commands' options and arguments.
        (["upstream", "--port", "0"], {}, "'--port': Input should be greater than or equal to 1"),
        (["upstream", "--processes", "0"], {}, "'--processes': Input should be greater than"),
        (["serve"], {}, "name the targets to start, or give --all"),
        (["serve", "--base-port", "99999999", "--all"], {}, "--base-port 99999999 puts"),
        (["targets", "--catalogue", "{tmp}/none.toml"], {}, "none.toml"),
        (["report", "nope", "--results", "{tmp}/results"], {}, "no run 'nope' in"),
        (["merge", "a", "b", "--run-id", "../x"], {}, "'--run-id': takes a name of letters"),
        (["merge", "a"], {}, "Missing "),
        (["compare", "a"], {}, "Missing argument 'RUN_B'"),
        (["compare", "a", "b", "--results", "{tmp}/results"], {}, "no run 'a' in"),
        (["nope"], {}, "No such command 'nope'"),
    ],
)
def test_an_expected_failure_is_one_line_and_exit_status_2(
    args: list[str], env: dict[str, str], message: str, tmp_path: Path
) -> None:
    (tmp_path / "bad.toml").write_text(BAD_TARGETS)
    args = [arg.replace("{tmp}", str(tmp_path)) for arg in args]
    # Nothing may be measured or written: every case fails before a run starts.
    if args[0] == "run":
        args += ["--results", str(tmp_path / "results"), "--reports", str(tmp_path / "reports")]
    started = time.monotonic()
    done = blockbench(*args, env=env)
    assert time.monotonic() - started < 15, "refusing bad input may not wait on anything"
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    [line] = done.stderr.splitlines()
    assert line.startswith("blockbench: ") and message in line, line
    assert not (tmp_path / "results").exists()
    assert not (tmp_path / "reports").exists()


def test_an_unexpected_failure_keeps_its_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    from blockbench.targets import serve

    def broken(path: Path | None) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(serve, "load", broken)
    result = CliRunner().invoke(app, ["targets"])
    assert isinstance(result.exception, RuntimeError)
    assert result.exit_code == 1


def test_the_command_lines_local_site_is_the_reports() -> None:
    from blockbench import cli
    from blockbench.report import site

    assert cli.LOCAL_SITE == site.LOCAL_SITE


@pytest.mark.parametrize(
    "command",
    [[], ["upstream"], ["targets"], ["serve"], ["compose"], ["run"], ["report"], ["publish"],
     ["merge"], ["compare"], ["worker"]],
)  # fmt: skip
def test_help_names_options_and_arguments_by_metavar_within_80_columns(
    command: list[str],
) -> None:
    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    # No type labels ("<list[str]>", "<bool>"), no boxes; every option shows what it takes.
    assert not re.search(r" <(?:list\[)?[a-z]+\]?>", result.output), result.output
    assert "╭" not in result.output
    assert all(len(line) <= 80 for line in result.output.splitlines()), result.output
    if command in (["run"], ["serve"], ["report"], ["merge"], ["compare"], ["publish"], ["worker"]):
        assert "Example" in result.output
