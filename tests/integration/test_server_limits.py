"""docs/server-limits.md kept true: its table is read as the probe reads it, and every catalogue
target has a row. tests/integration/test_targets.py measures each target it starts against its
row, so a server upgrade that moves a limit fails there."""

from __future__ import annotations

from blockbench.targets import catalogue, pinning
from tests.integration.limits import (
    CEILING,
    DOC,
    FLOOR,
    NONE_BEYOND,
    Answer,
    Dimension,
    Limit,
    parse_expected,
    rows,
)

NAMES = catalogue.load(cores=pinning.budget().cores).matrix_names()


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
    exact = parse_expected("4,081", "414")
    assert exact.admits(Limit(4081, Answer(414)))
    assert not exact.admits(Limit(4080, Answer(414)))
    assert not exact.admits(Limit(4081, Answer(400)))
    assert not exact.admits(Limit(None, Answer(414)))
    ranged = parse_expected("16,340–65,488", "431 or connection reset")
    assert ranged.admits(Limit(16340, Answer(431)))
    assert ranged.admits(Limit(65488, Answer(None, "connection reset")))
    assert not ranged.admits(Limit(65489, Answer(431)))
    unbounded = parse_expected("≥ 1,048,576", NONE_BEYOND)
    assert unbounded.admits(Limit(CEILING, None))
    assert not unbounded.admits(Limit(CEILING - 1, Answer(431)))
