"""The catalogue's migration paths: each names two targets of the file, and README's table of
them is the catalogue's, row for row."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from blockbench.targets import catalogue
from blockbench.targets.catalogue import CatalogueError
from tests.blockbench.targets.test_catalogue import entry

README = Path(__file__).resolve().parents[3] / "README.md"
TWO = entry() + "\n" + entry().replace("[targets.t]", "[targets.u]")


def with_migration(**keys: str) -> str:
    fields = {"title": "T → U", "from": "t", "to": "u", "changes": "nothing", **keys}
    lines = [f'{key} = "{value}"' for key, value in fields.items()]
    return TWO + "\n[migrations.m]\n" + "\n".join(lines) + "\n"


def test_a_migration_reads_as_its_pair() -> None:
    (found,) = catalogue.loads(with_migration(), cores=1).migrations
    assert (found.name, found.title, found.before, found.after, found.changes) == (
        "m",
        "T → U",
        "t",
        "u",
        "nothing",
    )


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({"from": "nope"}, "migration 'm': from: 'nope' is no target of the catalogue"),
        ({"to": "nope"}, "migration 'm': to: 'nope' is no target of the catalogue"),
        ({"to": "t"}, "migration 'm': to: names the same target as 'from'"),
        ({"changes": " "}, "migration 'm': changes: string should have at least 1 character"),
        ({"colour": "red"}, "migration 'm': colour: unknown key"),
    ],
)
def test_a_bad_migration_names_itself_and_its_key(keys: dict[str, str], message: str) -> None:
    with pytest.raises(CatalogueError) as info:
        catalogue.loads(with_migration(**keys), cores=1)
    assert str(info.value).startswith(f"<catalogue>: {message}"), str(info.value)


def readme_rows() -> list[tuple[str, str, str, str]]:
    text = README.read_text(encoding="utf-8")
    table = text[text.index("| path | from → to | what changes in your code |") :]
    table = table[: table.index("\n\n")]
    rows = []
    for line in table.splitlines()[2:]:
        match = re.fullmatch(r"\| (.+) \| `(.+)` → `(.+)` \| (.+) \|", line)
        assert match, line
        rows.append((match[1], match[2], match[3], match[4]))
    return rows


def test_readme_lists_the_catalogues_migrations_in_order() -> None:
    shipped = catalogue.load(cores=1).migrations
    assert readme_rows() == [(m.title, m.before, m.after, m.changes) for m in shipped]


def test_the_issue_s_migration_paths_are_there() -> None:
    titles = {m.title for m in catalogue.load(cores=1).migrations}
    assert {"Flask → Quart", "Flask → Flask on Granian", "Starlette → FastAPI"} <= titles
