"""The command line in the bench image: it has the harness's extra only (Locust, the engine,
the report), not the apps' servers and clients, and every command must still load there."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

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
