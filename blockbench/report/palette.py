"""Each target's look on every chart and table: an Okabe–Ito colour and a marker of its own.

Fixed by the target's place in the catalogue, so a target looks the same in every run, on
every page, whatever else ran beside it. A variant of a target is drawn dotted.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from blockbench.report import points
from blockbench.targets import catalogue

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
# A variant (the same target with, say, another HTTP client) is drawn dotted, with its base's
# marker: the shape says "the same server", the colour and the line say "not the same run of it".
VARIANT_DASH = "dot"


@dataclass(frozen=True)
class Style:
    colour: str
    symbol: str
    dash: str = "solid"


def styles(targets: Iterable[str]) -> dict[str, Style]:
    """A look per target; one the catalogue no longer has gets it from its name's hash."""
    known = catalogue_styles()
    found = {}
    for name in sorted(set(targets)):
        if name in known:
            found[name] = known[name]
        else:
            digest = hashlib.sha256(name.encode()).digest()
            index = len(known) + int.from_bytes(digest[:4], "big")
            found[name] = Style(OKABE_ITO[index % len(OKABE_ITO)], SYMBOLS[index % len(SYMBOLS)])
    return found


@functools.cache
def catalogue_styles() -> dict[str, Style]:
    """Every catalogue target's look: the bases by their place among the bases, so adding a
    variant never recolours a base, then each variant."""
    variants = points.variants()
    bases = [name for name in catalogue_order() if name not in variants]
    found = {
        name: Style(OKABE_ITO[index % len(OKABE_ITO)], SYMBOLS[index % len(SYMBOLS)])
        for index, name in enumerate(bases)
    }
    # The http-client profile draws every base that has variants beside those variants, so a
    # variant avoids those bases' colours, and the other variants', while the palette lasts.
    taken = {found[base].colour for base in variants.values()}
    for number, (name, base) in enumerate(variants.items()):
        start = len(bases) + number
        ring = [OKABE_ITO[(start + step) % len(OKABE_ITO)] for step in range(len(OKABE_ITO))]
        free = [colour for colour in ring if colour not in taken]
        # Never its own base's colour, even once the palette has run out.
        colour = (free or [c for c in ring if c != found[base].colour])[0]
        taken.add(colour)
        found[name] = Style(colour, found[base].symbol, VARIANT_DASH)
    return found


@functools.cache
def catalogue_order() -> tuple[str, ...]:
    # The names and their order do not depend on the core count.
    return catalogue.load(cores=1).names()
