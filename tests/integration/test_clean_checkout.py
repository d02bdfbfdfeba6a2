"""Running never dirties the checkout: a run with every default, report included, leaves
`git status` empty; only `blockbench publish` writes into the committed site.

The checkout is a copy of the tracked files as they are in this work tree (committed or not),
made a repository of its own, so the test checks the code under test, not the last commit.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from blockbench.report import site

REPO = Path(__file__).resolve().parents[2]
RUN_TIMEOUT = 180
pytestmark = [
    pytest.mark.integration,
    pytest.mark.timeout(2 * RUN_TIMEOUT),
    pytest.mark.skipif(shutil.which("git") is None, reason="needs git"),
]


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=test", "-c", "user.email=test@localhost", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout: the tracked files are unknown")
    root = tmp_path_factory.mktemp("checkout") / "blockbench"
    for name in git("ls-files", "-z", cwd=REPO).split("\0"):
        if name and (REPO / name).is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, root / name)
    git("init", "-q", cwd=root)
    git("add", "-A", cwd=root)
    git("commit", "-q", "-m", "the work tree under test", cwd=root)
    return root


def blockbench(checkout: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # The copy's own code, not the installed package's.
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    return subprocess.run(
        [sys.executable, "-m", "blockbench.cli", *args],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )


def test_a_run_with_its_report_leaves_the_checkout_clean(checkout: Path) -> None:
    done = blockbench(
        checkout, "run", "--profile", "tiny", "--levels", "1", "--warmup", "1", "--hold", "1",
        "--run-id", "clean",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert (checkout / "results" / "clean" / "run.json").is_file()
    local_page = checkout / site.LOCAL_SITE / site.RUNS / "clean" / site.PAGE
    assert local_page.is_file(), "the run's page goes to the local site"
    assert git("status", "--porcelain", "--untracked-files=all", cwd=checkout) == ""

    # Publishing is the one step that changes the checkout: the run's page and the index.
    published = blockbench(checkout, "publish", "clean")
    assert published.returncode == 0, published.stdout + published.stderr
    changed = git("status", "--porcelain", "--untracked-files=all", cwd=checkout).splitlines()
    assert changed, "publish wrote nothing"
    assert all(line[3:].startswith(f"{site.PUBLISHED_SITE}/") for line in changed), changed
    assert (checkout / site.PUBLISHED_SITE / site.RUNS / "clean" / site.PAGE).is_file()
    index = (checkout / site.PUBLISHED_SITE / site.PAGE).read_text()
    assert f"{site.RUNS}/clean/{site.PAGE}" in index
