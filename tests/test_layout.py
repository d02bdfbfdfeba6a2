"""README's layout table against the tree: a newcomer finds each module where the table says.

Every row that names a folder of ``blockbench/`` lists its modules; the test fails when the table
names a module that does not exist, or a module exists that no row names.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "blockbench"
# Modules that hold nothing to look for: a package's marker and its ``python -m`` entry point.
UNLISTED = {"__init__.py", "__main__.py"}


def layout_rows() -> list[tuple[list[str], list[str]]]:
    """The table's rows as (paths in the first column, names in backticks in the second)."""
    text = (REPO / "README.md").read_text()
    table = text.split("## Layout", 1)[1].split("\n\n", 2)[1]
    rows = []
    for line in table.splitlines()[2:]:
        path_cell, what_cell = line.strip("|").split("|", 1)
        rows.append((re.findall(r"`([^`]+)`", path_cell), re.findall(r"`([^`]+)`", what_cell)))
    return rows


def listed_modules() -> set[Path]:
    """Each module the table names, as a path under the repository."""
    listed: set[Path] = set()
    for paths, names in layout_rows():
        folders = [REPO / path for path in paths if path.startswith("blockbench/")]
        if not folders:
            continue
        # "`blockbench/cli.py`, `results.py`" names top-level modules in its first cell;
        # "`blockbench/engine/`" names a folder whose modules the second cell lists.
        base = folders[0] if folders[0].suffix != ".py" else PACKAGE
        for name in [*(p for p in paths if p.endswith(".py")), *names]:
            if name.endswith(".py"):
                listed.add(base / Path(name).name if "/" not in name else REPO / name)
    return listed


def package_modules() -> set[Path]:
    return {path for path in PACKAGE.rglob("*.py") if path.name not in UNLISTED}


def test_every_module_the_table_names_exists() -> None:
    missing = sorted(str(path.relative_to(REPO)) for path in listed_modules() - package_modules())
    assert not missing, f"README's layout table names modules that do not exist: {missing}"


def test_every_module_is_in_the_table() -> None:
    unlisted = sorted(str(path.relative_to(REPO)) for path in package_modules() - listed_modules())
    assert not unlisted, f"modules README's layout table does not name: {unlisted}"


def test_the_table_is_read_at_all() -> None:
    # Guards the two tests above against a parser that finds nothing and so passes vacuously.
    assert PACKAGE / "engine" / "engine.py" in listed_modules()
    assert PACKAGE / "cli.py" in listed_modules()
    assert len(listed_modules()) >= 30
