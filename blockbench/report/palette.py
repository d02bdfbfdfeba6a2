"""Each target's look on every chart and table: a colour and a marker, a pair no other has.

Fixed by the target's place in the catalogue, so a target looks the same in every run, on
every page, whatever else ran beside it; and given in catalogue order from what came before
alone, so a target added at the end of the catalogue changes no other's look. A variant of a
target is drawn dotted, with its base's marker.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from blockbench.errors import BlockbenchError
from blockbench.load import scenarios
from blockbench.targets import catalogue

# Okabe & Ito's colour-blind-safe palette less its three colours too faint on white (orange,
# sky blue, yellow: under WCAG's 3:1 for graphics), plus the two colours of Paul Tol's muted
# palette that stay furthest from those five for every kind of colour blindness. Every pair
# stays apart (CIEDE2000 of 11.8 or more) under simulated protanopia, deuteranopia and
# tritanopia, further than Okabe & Ito's own eight (10.9); an eighth colour from Okabe & Ito's
# or Tol's palettes that reaches 3:1 comes within 8.4 of one of these, so seven colours it is,
# and past seven targets the marker tells them apart.
COLOURS = (
    "#0072B2",  # Okabe-Ito blue
    "#D55E00",  # Okabe-Ito vermillion
    "#009E73",  # Okabe-Ito bluish green
    "#CC79A7",  # Okabe-Ito reddish purple
    "#000000",  # Okabe-Ito black
    "#332288",  # Tol indigo
    "#882255",  # Tol wine
)
# Filled shapes that differ in outline at eight pixels, each with an "-open" form for the
# levels that are not results. Sixteen, and no multiple of seven: the bases of the catalogue
# each have a marker of their own up to sixteen of them, which tells them apart in print and
# for a reader who cannot tell the colours apart; colour and marker together are one pair per
# target for 7 x 16 targets.
SYMBOLS = (
    "circle",
    "square",
    "diamond",
    "triangle-up",
    "triangle-down",
    "cross",
    "x",
    "star",
    "pentagon",
    "hexagon",
    "triangle-left",
    "triangle-right",
    "hourglass",
    "bowtie",
    "hexagram",
    "star-triangle-up",
)
# Levels that are not results: hollow and grey whatever the target.
INVALID_COLOUR = "#8c8c8c"
# A variant (the same target with, say, another HTTP client) is drawn dotted, with its base's
# marker: the shape says "the same server", the colour and the line say "not the same run of it".
VARIANT_DASH = "dot"


@dataclass(frozen=True)
class Style:
    colour: str
    symbol: str
    dash: str = "solid"


@dataclass(frozen=True)
class Entry:
    """What the looks are given from: a catalogue target's name, base and tags."""

    name: str
    base: str | None
    tags: frozenset[str]

    def drawn_with(self, other: Entry) -> bool:
        """Whether a page is likely to draw the two on one chart: a profile or scenario that
        selects targets by a tag they share, or the http-client section, which draws a variant
        beside its base."""
        family = {self.name, self.base} - {None}
        return bool(self.tags & other.tags) or bool(family & {other.name, other.base})


def styles(targets: Iterable[str]) -> dict[str, Style]:
    """A look per target; one the catalogue no longer has gets it from its name's hash."""
    known = catalogue_styles()
    taken = {(look.colour, look.symbol) for look in known.values()}
    found = {}
    for name in sorted(set(targets)):
        if name in known:
            found[name] = known[name]
        else:
            start = int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big")
            colour, symbol = _first_free(_every_pair(start), taken)
            found[name] = Style(colour, symbol)
    return found


@functools.cache
def catalogue_styles() -> dict[str, Style]:
    """Every catalogue target's look, given in catalogue order from the looks before it.

    A base has the marker of its place among the bases, a variant its base's marker. The
    colour is the first, from the base's place (a variant's: from the colour after its base's),
    that no target before it that it is drawn with has, while the colours last; and never a
    pair another target has.
    """
    found: dict[str, Style] = {}
    done: list[Entry] = []
    taken: set[tuple[str, str]] = set()
    bases = 0
    for entry in _base_first(catalogue_entries()):
        if entry.base is None:
            symbol, start, dash = SYMBOLS[bases % len(SYMBOLS)], bases, "solid"
            bases += 1
        else:
            base = found[entry.base]
            symbol, start, dash = base.symbol, COLOURS.index(base.colour) + 1, VARIANT_DASH
        ring = [COLOURS[(start + step) % len(COLOURS)] for step in range(len(COLOURS))]
        if entry.base is not None:
            ring.remove(found[entry.base].colour)
        near = {found[other.name].colour for other in done if entry.drawn_with(other)}
        free = [colour for colour in ring if colour not in near] or ring
        preferred = ((colour, symbol) for colour in free)
        colour, symbol = _first_free(preferred, taken, fallback=_every_pair(len(found)))
        found[entry.name] = Style(colour, symbol, dash)
        taken.add((colour, symbol))
        done.append(entry)
    return found


@functools.cache
def catalogue_order() -> tuple[str, ...]:
    return tuple(entry.name for entry in catalogue_entries())


@functools.cache
def catalogue_entries() -> tuple[Entry, ...]:
    # The names, bases and tags do not depend on the core count.
    unshared = map_only_tags()
    return tuple(
        Entry(target.name, target.variant_of, frozenset(target.tags) - unshared)
        for target in catalogue.load(cores=1).targets
    )


def map_only_tags() -> frozenset[str]:
    """The tags of profiles that run a decision map's cells alone: the map page draws each
    target on a chart of its own, so sharing such a tag puts no two targets on one chart."""
    found = scenarios.load()
    return frozenset(
        tag
        for profile in found.profiles.values()
        if profile.scenarios and set(profile.scenarios) <= found.map_scenarios
        for tag in profile.targets.tags
    )


def _base_first(entries: Iterable[Entry]) -> Iterator[Entry]:
    """The catalogue's order, but a variant written before its base comes right after it."""
    waiting: dict[str, list[Entry]] = {}
    seen: set[str] = set()
    for entry in entries:
        if entry.base is not None and entry.base not in seen:
            waiting.setdefault(entry.base, []).append(entry)
            continue
        seen.add(entry.name)
        yield entry
        yield from waiting.pop(entry.name, [])


def _pair(colour: int, symbol: int) -> tuple[str, str]:
    return COLOURS[colour % len(COLOURS)], SYMBOLS[symbol % len(SYMBOLS)]


def _every_pair(start: int) -> Iterator[tuple[str, str]]:
    """Every colour and marker pair once, from the start-th: colour and marker both step, and
    as their counts share no factor this meets every pair before it repeats one."""
    for step in range(len(COLOURS) * len(SYMBOLS)):
        yield _pair(start + step, start + step)


def _first_free(
    pairs: Iterable[tuple[str, str]],
    taken: set[tuple[str, str]],
    fallback: Iterable[tuple[str, str]] = (),
) -> tuple[str, str]:
    for pair in (*pairs, *fallback):
        if pair not in taken:
            return pair
    raise BlockbenchError(
        f"the report has {len(COLOURS) * len(SYMBOLS)} looks (colour and marker) and every one "
        "is taken: add colours or markers in blockbench/report/palette.py"
    )
