"""Each target's look on every chart and table: an Okabe–Ito colour and a marker of its own.

Fixed by the target's place in the catalogue, so a target looks the same in every run, on
every page, whatever else ran beside it.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from blockbench import catalogue

# Okabe & Ito's colour-blind-safe palette, the order spreading the most distinct colours over
# the first targets; yellow, faint on white paper, comes last.
OKABE_ITO = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#D55E00",  # vermillion
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#000000",  # black
    "#F0E442",  # yellow
)
# Every target also gets a marker of its own: eight colours are fewer than the catalogue's
# targets, and markers still tell the lines apart on a black and white printer.
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
)
# Levels that are not results: hollow and grey whatever the target.
INVALID_COLOUR = "#8c8c8c"


@dataclass(frozen=True)
class Style:
    colour: str
    symbol: str


def styles(targets: Iterable[str]) -> dict[str, Style]:
    """A look per target; one the catalogue no longer has gets it from its name's hash."""
    order = catalogue_order()
    found = {}
    for name in sorted(set(targets)):
        if name in order:
            index = order.index(name)
        else:
            digest = hashlib.sha256(name.encode()).digest()
            index = len(order) + int.from_bytes(digest[:4], "big")
        found[name] = Style(OKABE_ITO[index % len(OKABE_ITO)], SYMBOLS[index % len(SYMBOLS)])
    return found


@functools.cache
def catalogue_order() -> tuple[str, ...]:
    # The names and their order do not depend on the core count.
    return catalogue.load(cores=1).names()
