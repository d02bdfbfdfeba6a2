"""The decision map of a run: per cell of wait x CPU and per level, which model wins and by how
much, and where the event loop stops winning. templates/map.html lays it out.

Only valid levels count, with one kind of exception: a level held back by the load generator
alone (it was saturated, or near its measured ceiling) shows that the target served at least
that much, so it counts as a lower bound: it can show a win ("at least 2.7x"), never a loss,
and never an even. A cell where one side (the blocking targets, or the non-blocking ones) has
no valid level nor such a floor, or where a floor leaves the answer open, is no comparison: a
gap on the page, never a zero or a win.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from blockbench import formats
from blockbench.report import catalogued
from blockbench.report.catalogued import DecisionMap, MapCell
from blockbench.report.points import Point, Series, median, variants
from blockbench.report.points import scenarios as by_scenario
from blockbench.report.verdict import blocking
from blockbench.results import Run

# The map's levels are held once, for a couple of seconds, so no spread is measured there: a
# margin within 5% either way is called even, not a win, and so never moves the boundary.
EVEN = 0.05
# The page, beside the run's overview.
PAGE = "map.html"
EVENT_LOOP = "event-loop"
# The flags that say the load generator, not the target, was the limit of a level.
GENERATOR_FLAGS = frozenset({"generator_saturated", "near_generator_ceiling"})


@dataclass(frozen=True)
class Reading:
    """One target at one cell of the map, at one level; ``point`` is None where not measured."""

    target: str
    model: str | None
    point: Point | None

    @property
    def valid(self) -> bool:
        return self.point is not None and self.point.valid

    @property
    def rps(self) -> float | None:
        """Only a valid level's: an invalid one is never a number to compare."""
        return self.point.aggregate.rps if self.point is not None and self.valid else None

    @property
    def floor(self) -> float | None:
        """Where the level is not a result only because the load generator was the limit: the
        rate the target served, which it can at least serve (one Locust core sends ~8,000
        req/s here, less than an event loop answers on cheap handlers)."""
        if self.point is None or self.valid or self.point.aggregate.rps <= 0:
            return None
        flags = {flag for level in self.point.counted for flag in level.flags}
        return self.point.aggregate.rps if flags and flags <= GENERATOR_FLAGS else None

    @property
    def at_least(self) -> float | None:
        """What the target served: exactly (a valid level) or at least (a generator floor)."""
        return self.rps if self.rps is not None else self.floor

    @property
    def efficiency(self) -> float | None:
        return self.point.aggregate.efficiency if self.point is not None and self.valid else None

    @property
    def binding(self) -> str | None:
        return self.point.binding if self.point is not None else None

    @property
    def demand_ms(self) -> float | None:
        """The CPU the target spent per request it completed, measured (median of repeats)."""
        if self.point is None:
            return None
        return median(lv.target_cpu_demand_ms for lv in self.point.counted)

    @property
    def reasons(self) -> tuple[str, ...]:
        if self.point is None:
            return ("not measured",)
        return () if self.valid else self.point.reasons

    @property
    def blocking(self) -> bool:
        return blocking(self.model)


@dataclass(frozen=True)
class Comparison:
    """The best of one kind of non-blocking target against the best blocking target."""

    challenger: Reading
    blocking: Reading

    @property
    def ratio(self) -> float:
        """The challenger's rate over the blocking target's; a lower bound where the challenger
        is a generator floor, an upper bound where the blocking target is."""
        # Both readings have a rate (Square.compare), exact or at least.
        assert self.challenger.at_least is not None and self.blocking.at_least
        return self.challenger.at_least / self.blocking.at_least

    @property
    def wins(self) -> bool:
        """Whether the non-blocking target wins by more than the margin called even: by its
        floor too, as it served at least that, but not against a blocking floor."""
        return self.blocking.rps is not None and self.ratio > 1 + EVEN

    @property
    def loses(self) -> bool:
        return self.challenger.rps is not None and self.ratio < 1 / (1 + EVEN)

    @property
    def open(self) -> bool:
        """A floor leaves the answer open: neither a win, nor a loss, nor even can be said."""
        exact = self.challenger.rps is not None and self.blocking.rps is not None
        return not (exact or self.wins or self.loses)

    @property
    def at_least(self) -> bool:
        """Whether the margin is a lower bound: the winner's side is a generator floor."""
        winner = self.winner
        return winner is not None and winner.rps is None

    @property
    def winner(self) -> Reading | None:
        """None when the margin is within what is called even."""
        return self.challenger if self.wins else self.blocking if self.loses else None

    @property
    def text(self) -> str:
        """The winner and its margin, as the cell says it: the target's name, then "9.6×"."""
        winner = self.winner
        if self.open:
            return "open: the load generator was the limit"
        if winner is None:
            return f"even ({formats.ratio(self.ratio)})"
        ratio = formats.ratio(max(self.ratio, 1 / self.ratio))
        return f"{winner.target} {'≥ ' if self.at_least else ''}{ratio}"


@dataclass(frozen=True)
class Square:
    """One cell of the map at one level: every map target's reading there."""

    cell: MapCell
    users: int
    readings: tuple[Reading, ...]

    def best(self, which: Callable[[Reading], bool]) -> Reading | None:
        """The one that served most, a generator floor counted at what it served; of equals, a
        valid level before a floor."""
        found = [r for r in self.readings if which(r) and r.at_least is not None]
        return max(found, key=lambda r: (r.at_least or 0.0, r.rps is not None), default=None)

    def compare(self, challengers: Callable[[Reading], bool]) -> Comparison | None:
        """The best challenger against the best blocking target, each valid or a generator
        floor; None if either side has neither here."""
        challenger = self.best(challengers)
        blocker = self.best(lambda r: r.blocking)
        if challenger is None or blocker is None:
            return None
        return Comparison(challenger, blocker)

    @property
    def margin(self) -> Comparison | None:
        """The best non-blocking target (green threads or an event loop) over the best blocking."""
        return self.compare(lambda r: not r.blocking)

    @property
    def event_loop(self) -> Comparison | None:
        return self.compare(lambda r: r.model == EVENT_LOOP)

    @property
    def not_compared(self) -> tuple[Reading, ...]:
        """The targets left out of this cell's comparison: no valid level nor floor here."""
        return tuple(r for r in self.readings if r.at_least is None)


@dataclass(frozen=True)
class Line:
    """Where the event loop wins along one row (a CPU) or one column (a wait) of the map.

    ``wins`` holds, along the line in rising order, True where it wins, False where it does
    not (it loses, or it is even), None where there is no comparison.
    """

    at: float
    along: tuple[float, ...]
    wins: tuple[bool | None, ...]

    @property
    def read(self) -> tuple[tuple[float, bool], ...]:
        return tuple((x, w) for x, w in zip(self.along, self.wins, strict=True) if w is not None)

    @property
    def wins_from(self) -> float | None:
        """The least value from which it wins at every reading above: None if it does not
        win at the highest one."""
        found = None
        for x, won in reversed(self.read):
            if not won:
                break
            found = x
        return found

    @property
    def wins_up_to(self) -> float | None:
        """The highest value up to which it wins at every reading below: None if it does not
        win at the lowest one."""
        found = None
        for x, won in self.read:
            if not won:
                break
            found = x
        return found

    @property
    def won_at(self) -> tuple[float, ...]:
        return tuple(x for x, won in self.read if won)


@dataclass(frozen=True)
class Level:
    users: int
    # Row-major, as the map's cells: for each CPU, each wait.
    squares: tuple[Square, ...]
    waits_ms: tuple[int, ...]
    cpu_ms: tuple[float, ...]
    event_loops: tuple[str, ...]

    def square(self, wait_ms: float, cpu_ms: float) -> Square | None:
        return next(
            (s for s in self.squares if s.cell.wait_ms == wait_ms and s.cell.cpu_ms == cpu_ms),
            None,
        )

    @property
    def rows(self) -> tuple[tuple[Square | None, ...], ...]:
        """By CPU, rising; in each, by wait, rising; None where the map has no such cell."""
        return tuple(tuple(self.square(w, c) for w in self.waits_ms) for c in self.cpu_ms)

    def _wins(self, square: Square | None) -> bool | None:
        found = square.event_loop if square else None
        return None if found is None or found.open else found.wins

    @property
    def by_cpu(self) -> tuple[Line, ...]:
        """Per CPU row, the event loop along the waits."""
        return tuple(
            Line(cpu, tuple(self.waits_ms), tuple(self._wins(s) for s in row))
            for cpu, row in zip(self.cpu_ms, self.rows, strict=True)
        )

    @property
    def by_wait(self) -> tuple[Line, ...]:
        """Per wait column, the event loop along the CPUs."""
        return tuple(
            Line(wait, tuple(self.cpu_ms), tuple(self._wins(row[column]) for row in self.rows))
            for column, wait in enumerate(self.waits_ms)
        )

    @property
    def sentence(self) -> str:
        """Where the event loop wins, per CPU row, in one sentence."""
        who = ", ".join(self.event_loops) or "none measured"
        head = f"At {formats.users(self.users)} the event loop ({who})"
        clauses = [_row_clause(line) for line in self.by_cpu]
        return f"{head} beats the best blocking target by more than {EVEN:.0%}: " + (
            "; ".join(clauses) + "."
        )

    @property
    def column_sentence(self) -> str:
        """Per wait column, up to which CPU the event loop wins."""
        clauses = [_column_clause(line) for line in self.by_wait]
        return f"Along each wait at {formats.users(self.users)}: " + "; ".join(clauses) + "."


@dataclass(frozen=True)
class MapView:
    map: DecisionMap
    targets: tuple[str, ...]
    models: dict[str, str | None]
    levels: tuple[Level, ...]
    # The map's cells this run measured, out of all the map's cells.
    measured: int

    @property
    def name(self) -> str:
        return self.map.name


def present(run: Run) -> bool:
    """Whether the run measured any cell of a decision map of the catalogue."""
    cells = catalogued.map_scenarios()
    return any(cell.scenario in cells for cell in run.cells)


def views(run: Run) -> tuple[MapView, ...]:
    """Every map of the catalogue with a cell in the run."""
    found = []
    for item in catalogued.maps().values():
        view = view_of(run, item)
        if view is not None:
            found.append(view)
    return tuple(found)


def view_of(run: Run, item: DecisionMap) -> MapView | None:
    names = {cell.scenario for cell in item.cells}
    known = variants()
    series: dict[tuple[str, str], Series] = {
        (s.scenario, s.target): s
        for results in by_scenario(run)
        if results.name in names
        for s in results.series
        if s.target not in known
    }
    if not series:
        return None
    targets = tuple(dict.fromkeys(t for t in run.targets if any(k[1] == t for k in series)))
    targets += tuple(t for t in dict.fromkeys(k[1] for k in series) if t not in targets)
    models = {t: next(s.model for k, s in series.items() if k[1] == t) for t in targets}
    users = sorted({p.users for s in series.values() for p in s.points})
    event_loops = tuple(t for t in targets if models[t] == EVENT_LOOP)

    def reading(cell: MapCell, target: str, level: int) -> Reading:
        found = series.get((cell.scenario, target))
        return Reading(target, models[target], found.at(level) if found else None)

    levels = tuple(
        Level(
            users=level,
            squares=tuple(
                Square(cell, level, tuple(reading(cell, t, level) for t in targets))
                for cell in item.cells
            ),
            waits_ms=tuple(item.waits_ms),
            cpu_ms=tuple(item.cpu_ms),
            event_loops=event_loops,
        )
        for level in users
    )
    measured = len({k[0] for k in series})
    return MapView(item, targets, models, levels, measured)


def cpu_words(value: float) -> str:
    return f"{value:g} ms"


def _row_clause(line: Line) -> str:
    cpu = f"with {cpu_words(line.at)} of CPU per request"
    if not line.read:
        return f"{cpu}, no comparison was measured"
    start = line.wins_from
    won = line.won_at
    if start is not None and start == line.read[0][0] and len(won) == len(line.read):
        return f"{cpu}, at every wait measured"
    if start is not None:
        earlier = [x for x in won if x < start]
        also = f" (and at {_list(earlier)} ms)" if earlier else ""
        return f"{cpu}, from {start:g} ms of wait{also}"
    if won:
        return f"{cpu}, only at {_list(won)} ms of wait"
    return f"{cpu}, it never wins"


def _column_clause(line: Line) -> str:
    wait = f"with {line.at:g} ms of wait"
    if not line.read:
        return f"{wait}, no comparison"
    upto = line.wins_up_to
    won = line.won_at
    if upto is not None and len(won) == len(line.read):
        return f"{wait}, it wins at every CPU measured"
    if upto is not None:
        return f"{wait}, it wins up to {cpu_words(upto)} of CPU"
    if won:
        return f"{wait}, it wins only at {_list(won)} ms of CPU"
    return f"{wait}, it wins at no CPU measured"


def _list(values: Sequence[float]) -> str:
    words = [f"{value:g}" for value in values]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
