"""docs/server-limits.md kept true: every catalogue target is started, the longest request target
and header value it accepts are measured, and each must be what the doc's row for its server
says. A server upgrade that moves a limit, or a target added without a row, fails here."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from blockbench.targets import catalogue, pinning, supervisor
from blockbench.targets.catalogue import Catalogue
from blockbench.targets.launch import start_target
from blockbench.targets.pinning import CpuBudget
from tests.integration.limits import CEILING, FLOOR, Answer, Dimension, Limit, measure

DOC = Path(__file__).resolve().parents[2] / "docs" / "server-limits.md"
NAMES = catalogue.load(cores=pinning.budget().cores).matrix_names()
# The doc's table: its columns, as the doc's header names them.
SERVER, TARGETS = "server", "targets"
COLUMNS = {
    Dimension.TARGET: ("longest request target", "one byte longer"),
    Dimension.HEADER: ("longest header value", "one byte more"),
}
# "4,081", "16,340–65,488" (a range: it varies), "≥ 1,048,576" (the search's ceiling).
FIGURE = re.compile(r"(?:≥ )?([\d,]+)(?:–([\d,]+))?")
NONE_BEYOND = "—"
# Each target is measured with the head sent at once and in pieces of this size, which is where
# a limit on an incomplete head shows (h11's); 8 KiB keeps a 1 MiB probe to a fraction of a second.
SEGMENT = 8192


@dataclass(frozen=True)
class Expected:
    """One dimension of a row: the longest accepted, within [low, high], and the answers one
    may get just beyond it (none, when the search's ceiling is accepted)."""

    low: int
    high: int
    beyond: frozenset[str]

    def admits(self, limit: Limit) -> bool:
        if limit.longest is None or not self.low <= limit.longest <= self.high:
            return False
        return (str(limit.beyond) if limit.beyond else NONE_BEYOND) in self.beyond


@dataclass(frozen=True)
class Row:
    server: str
    targets: tuple[str, ...]
    expected: dict[Dimension, Expected]


def rows(text: str) -> list[Row]:
    """The table under "## Measured limits", one Row per line."""
    table = text.split("## Measured limits", 1)[1].split("\n\n", 2)[1].splitlines()
    header = [cell.strip() for cell in table[0].strip("|").split("|")]
    found = []
    for line in table[2:]:
        cells = dict(
            zip(header, (cell.strip() for cell in line.strip("|").split("|")), strict=True)
        )
        expected = {
            dimension: _expected(cells[figure], cells[beyond])
            for dimension, (figure, beyond) in COLUMNS.items()
        }
        names = tuple(re.findall(r"`([^`]+)`", cells[TARGETS]))
        found.append(Row(cells[SERVER], names, expected))
    return found


def _expected(figure: str, beyond: str) -> Expected:
    match = FIGURE.match(figure)
    assert match, f"{figure!r} is no figure: write 4,081, 16,340–65,488 or ≥ 1,048,576"
    low = int(match[1].replace(",", ""))
    high = int(match[2].replace(",", "")) if match[2] else low
    return Expected(low, high, frozenset(answer.strip() for answer in beyond.split(" or ")))


def row_of(name: str) -> Row:
    (row,) = [row for row in rows(DOC.read_text()) if name in row.targets]
    return row


def test_every_target_is_in_exactly_one_row() -> None:
    listed = [name for row in rows(DOC.read_text()) for name in row.targets]
    assert sorted(listed) == sorted(NAMES)


def test_the_table_is_read_at_all() -> None:
    # Guards the tests here against a parser that finds nothing, or reads every cell alike.
    table = rows(DOC.read_text())
    assert len(table) >= 4
    figures = {row.expected[Dimension.HEADER].high for row in table}
    assert len(figures) >= 3
    assert all(FLOOR <= figure <= CEILING for figure in figures)


def test_a_row_admits_its_figure_and_no_other() -> None:
    exact = _expected("4,081", "414")
    assert exact.admits(Limit(4081, Answer(414)))
    assert not exact.admits(Limit(4080, Answer(414)))
    assert not exact.admits(Limit(4081, Answer(400)))
    assert not exact.admits(Limit(None, Answer(414)))
    ranged = _expected("16,340–65,488", "431 or connection reset")
    assert ranged.admits(Limit(16340, Answer(431)))
    assert ranged.admits(Limit(65488, Answer(None, "connection reset")))
    assert not ranged.admits(Limit(65489, Answer(431)))
    unbounded = _expected("≥ 1,048,576", NONE_BEYOND)
    assert unbounded.admits(Limit(CEILING, None))
    assert not unbounded.admits(Limit(CEILING - 1, Answer(431)))


@pytest.mark.integration
@pytest.mark.parametrize("name", NAMES)
def test_a_targets_limits_are_its_rows(
    name: str, targets: Catalogue, budget: CpuBudget, upstream_url: str, logs_dir: Path
) -> None:
    row = row_of(name)
    process = start_target(
        targets.get(name),
        port=supervisor.free_port(),
        budget=budget,
        log_dir=logs_dir / "limits",
        env={"UPSTREAM_URL": upstream_url},
    )
    try:
        measured = [
            (dimension, segment, measure(process.url, dimension, segment=segment))
            for dimension in Dimension
            for segment in (None, SEGMENT)
        ]
    finally:
        process.stop()
    for dimension, segment, limit in measured:
        sent = f"in {segment}-byte pieces" if segment else "at once"
        assert row.expected[dimension].admits(limit), (
            f"{name} accepts a {dimension.value} of {limit} sent {sent}, not what "
            f"docs/server-limits.md gives for {row.server}: {row.expected[dimension]}"
        )
