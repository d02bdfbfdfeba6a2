"""A target is one edit: among the tracked sources (code, data, scripts, images' files), its name
is written in targets.toml and in docker-compose.yml, generated from it, nowhere else. Prose
(docs, README), tests and recorded results may name targets; they describe, not configure."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from blockbench.targets import catalogue, compose

ROOT = Path(__file__).resolve().parents[3]
# Where names are written on purpose: the catalogue, and the stack `blockbench compose` writes.
NAMED = {catalogue.CATALOGUE_PATH.relative_to(ROOT).as_posix(), compose.FILE}
DESCRIBING = ("docs/", "tests/", "reports/")


def tracked_sources() -> list[Path]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: the tracked files are unknown")
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode()
    return [
        ROOT / name
        for name in listed.split("\0")
        if name
        and name not in NAMED
        and not name.startswith(DESCRIBING)
        and not name.endswith(".md")
        and (ROOT / name).is_file()
    ]


def names_in(path: Path, pattern: re.Pattern[str]) -> set[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:  # an image
        return set()
    return {match[1] for match in pattern.finditer(text)}


def test_a_targets_name_is_written_in_the_catalogue_alone() -> None:
    names = sorted(catalogue.load(cores=1).names(), key=len, reverse=True)
    # Whole names only: flask-gthread inside flask-gthread-httpx is the variant's.
    pattern = re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, names)) + r")(?![\w-])")
    sources = tracked_sources()
    assert any(path.name == "plan.py" for path in sources)  # the listing is the real one
    found = {
        path.relative_to(ROOT).as_posix(): sorted(hits)
        for path in sources
        if (hits := names_in(path, pattern))
    }
    assert found == {}, (
        "select targets by tag, model or app, or derive them from the catalogue "
        "(blockbench/targets/targets.toml), rather than writing their names here"
    )
    # And the check sees a name where one is written.
    assert names_in(ROOT / compose.FILE, pattern)
