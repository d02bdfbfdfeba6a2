from __future__ import annotations

import itertools
from collections import defaultdict

import plotly.graph_objects as go
import pytest

from blockbench.errors import BlockbenchError
from blockbench.report import charts, palette, points
from blockbench.report.palette import Entry, Style
from blockbench.report.points import scenarios
from tests.blockbench.report.colour_vision import VISIONS, ciede2000, contrast, difference
from tests.blockbench.synthetic import make_run

# The looks of the catalogue's targets on every published page. A target inserted or moved in
# targets.toml, or the palette reordered, would recolour the reports already out: this fails.
PUBLISHED = {
    "flask-sync": Style("#0072B2", "circle"),
    "flask-gthread": Style("#D55E00", "square"),
    "flask-gevent": Style("#009E73", "diamond"),
    "flask-a2wsgi": Style("#CC79A7", "triangle-up"),
    "flask-async-views": Style("#000000", "triangle-down"),
    "starlette-uvicorn": Style("#332288", "cross"),
    "starlette-threadpool": Style("#882255", "x"),
    "starlette-gunicorn": Style("#D55E00", "star"),
    "starlette-gunicorn-asgi": Style("#009E73", "pentagon"),
    "starlette-a2wsgi": Style("#CC79A7", "hexagon"),
    "starlette-uvicorn-httpx": Style("#882255", "cross", "dot"),
    "flask-gthread-httpx": Style("#CC79A7", "square", "dot"),
    "flask-gevent-httpx": Style("#000000", "diamond", "dot"),
    # Added after the rest (issue 13), so none of the looks above moved.
    "flask-granian": Style("#CC79A7", "triangle-left"),
    "starlette-granian": Style("#000000", "triangle-right"),
    "starlette-hypercorn": Style("#332288", "hourglass"),
    "fastapi-uvicorn": Style("#882255", "bowtie"),
    "fastapi-threadpool": Style("#0072B2", "hexagram"),
    "quart-hypercorn": Style("#009E73", "star-triangle-up"),
}
# Okabe & Ito's published colour-blind-safe palette, the yardstick for ours.
OKABE_ITO = ("#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#000000")


def _chart_background() -> str:
    run = make_run()
    figure = charts.throughput(scenarios(run)[0], palette.styles(run.targets))
    background: str = figure["layout"]["plot_bgcolor"]
    assert figure["layout"]["paper_bgcolor"] == background
    return background


def _closest(colours: tuple[str, ...]) -> float:
    """The least difference between two of the colours, for any of the visions."""
    return min(
        difference(first, second, vision)
        for vision in VISIONS
        for first, second in itertools.combinations(colours, 2)
    )


def _grown(extra: int) -> tuple[Entry, ...]:
    """The catalogue with ``extra`` targets more at its end: bases, and every third a variant
    of a base before it, with tags like the real ones."""
    entries = list(palette.catalogue_entries())
    for number in range(extra):
        bases = [entry.name for entry in entries if entry.base is None]
        if number % 3 == 2:
            base = bases[number % len(bases)]
            entries.append(Entry(f"new-{number}", base, frozenset({"http-client"})))
        else:
            tags = frozenset({("quick", "blocking-bug", "later")[number % 3]})
            entries.append(Entry(f"new-{number}", None, tags))
    return tuple(entries)


def _looks_of(entries: tuple[Entry, ...], monkeypatch: pytest.MonkeyPatch) -> dict[str, Style]:
    monkeypatch.setattr(palette, "catalogue_entries", lambda: entries)
    # Uncached: the real catalogue's looks stay cached for the other tests.
    return palette.catalogue_styles.__wrapped__()


def _pairs_are_unique(looks: dict[str, Style]) -> bool:
    return len({(look.colour, look.symbol) for look in looks.values()}) == len(looks)


def test_the_contrast_formula_matches_wcags_reference_values() -> None:
    # The extremes, and the greys either side of WCAG AA's 4.5:1 for text on white.
    assert contrast("#000000", "#FFFFFF") == pytest.approx(21.0)
    assert contrast("#FFFFFF", "#FFFFFF") == pytest.approx(1.0)
    assert contrast("#777777", "#FFFFFF") == pytest.approx(4.48, abs=0.01)
    assert contrast("#FFFFFF", "#767676") == pytest.approx(4.54, abs=0.01)


def test_the_colour_difference_matches_sharma_wu_and_dalals_reference_values() -> None:
    # Pairs 1, 7, 17 and 25 of their table: blue, neutral, a large difference, and green.
    assert ciede2000((50, 2.6772, -79.7751), (50, 0, -82.7485)) == pytest.approx(2.0425, abs=1e-4)
    assert ciede2000((50, 0, 0), (50, -1, 2)) == pytest.approx(2.3669, abs=1e-4)
    assert ciede2000((50, 2.5, 0), (73, 25, -18)) == pytest.approx(27.1492, abs=1e-4)
    assert ciede2000((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387)) == (
        pytest.approx(1.2644, abs=1e-4)
    )


def test_the_simulated_colour_blindness_loses_what_it_should() -> None:
    # Red and green, far apart to most readers, nearly one colour to a deuteranope; blue and
    # yellow stay apart for them, and grow closer for a tritanope.
    assert difference("#FF0000", "#00AA00", "typical") > 70
    assert difference("#FF0000", "#00AA00", "deuteranopia") < 5
    assert difference("#0072B2", "#F0E442", "deuteranopia") > 50
    assert difference("#0072B2", "#F0E442", "tritanopia") < difference(
        "#0072B2", "#F0E442", "deuteranopia"
    )


def test_every_colour_stands_out_on_the_charts_background() -> None:
    # WCAG's 3:1 for graphics, for the lines and markers; the plateau labels are written in
    # the same colours, so they need it too.
    background = _chart_background()
    faint = {colour: contrast(colour, background) for colour in palette.COLOURS}
    assert {colour: ratio for colour, ratio in faint.items() if ratio < 3} == {}
    # And the bound catches a faint one: Okabe & Ito's yellow, orange and sky blue.
    assert [colour for colour in OKABE_ITO if contrast(colour, background) < 3] == [
        "#E69F00",
        "#56B4E9",
        "#F0E442",
    ]


def test_every_two_colours_stay_apart_for_colour_blind_readers() -> None:
    # At least as far apart as Okabe & Ito's, the palette made for them, under each dichromacy.
    assert _closest(palette.COLOURS) >= _closest(OKABE_ITO) > 10
    # And the check tells: a red and a green, the classic confusion, fail it.
    assert _closest((*palette.COLOURS[:2], "#CC3311", "#228833")) < _closest(OKABE_ITO)


def test_every_marker_has_a_hollow_form_plotly_draws() -> None:
    for symbol in palette.SYMBOLS:
        go.scatter.Marker(symbol=symbol)
        go.scatter.Marker(symbol=f"{symbol}-open")
    assert len(set(palette.SYMBOLS)) == len(palette.SYMBOLS)


def test_the_catalogue_keeps_its_published_looks() -> None:
    looks = palette.styles(palette.catalogue_order())
    assert looks == PUBLISHED


def test_no_two_catalogue_targets_share_a_colour_and_marker() -> None:
    looks = palette.styles(palette.catalogue_order())
    assert _pairs_are_unique(looks)
    assert {look.colour for look in looks.values()} <= set(palette.COLOURS)
    # Every base has a marker of its own: what tells two bases of one colour apart, in print
    # and for a reader who cannot tell the colours apart.
    bases = [name for name in looks if name not in points.variants()]
    assert len({looks[name].symbol for name in bases}) == len(bases)


def test_targets_a_profile_draws_together_differ_in_colour() -> None:
    looks = palette.catalogue_styles()
    together: dict[str, list[str]] = defaultdict(list)
    for entry in palette.catalogue_entries():
        for tag in entry.tags:
            together[tag].append(entry.name)
    # The open-loop page may draw its targets' latency curves on one chart: its tag counts.
    assert set(together) >= {"quick", "http-client", "blocking-bug", "open-loop"}
    for tag, names in together.items():
        assert len({looks[name].colour for name in names}) == len(names), tag


@pytest.mark.parametrize("extra", [10, 30, 90])
def test_a_grown_catalogue_still_gives_every_target_a_pair_of_its_own(
    extra: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    looks = _looks_of(_grown(extra), monkeypatch)
    assert len(looks) == len(palette.catalogue_order()) + extra
    assert _pairs_are_unique(looks)
    # Up to the markers' count, every base has a marker of its own.
    bases = [entry.name for entry in _grown(extra) if entry.base is None]
    first = bases[: len(palette.SYMBOLS)]
    assert len({looks[name].symbol for name in first}) == len(first)


def test_adding_a_target_at_the_end_changes_no_other_look(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    grown = _grown(24)
    start = len(palette.catalogue_order())
    before = _looks_of(grown[:start], monkeypatch)
    assert before == PUBLISHED
    for size in range(start + 1, len(grown) + 1):
        after = _looks_of(grown[:size], monkeypatch)
        assert {name: after[name] for name in before} == before, grown[size - 1]
        before = after


def test_a_variant_written_before_its_base_waits_for_it(monkeypatch: pytest.MonkeyPatch) -> None:
    entries = (
        Entry("early-variant", "late-base", frozenset()),
        Entry("first-base", None, frozenset()),
        Entry("late-base", None, frozenset()),
    )
    looks = _looks_of(entries, monkeypatch)
    assert looks["early-variant"].symbol == looks["late-base"].symbol
    assert looks["early-variant"].colour != looks["late-base"].colour
    assert looks["late-base"].symbol == palette.SYMBOLS[1]


def test_a_catalogue_beyond_every_pair_is_told_to_grow_the_palette(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pairs = len(palette.COLOURS) * len(palette.SYMBOLS)
    entries = tuple(Entry(f"base-{n}", None, frozenset()) for n in range(pairs + 1))
    with pytest.raises(BlockbenchError, match="add colours or markers"):
        _looks_of(entries, monkeypatch)
    assert _pairs_are_unique(_looks_of(entries[:-1], monkeypatch))


def test_a_target_looks_the_same_whatever_else_ran() -> None:
    alone = palette.styles(["starlette-a2wsgi"])
    together = palette.styles(["flask-sync", "starlette-a2wsgi", "starlette-uvicorn"])
    assert (
        alone["starlette-a2wsgi"] == together["starlette-a2wsgi"] == PUBLISHED["starlette-a2wsgi"]
    )


def test_a_target_gone_from_the_catalogue_gets_a_look_from_its_name_alone() -> None:
    # From sha256 of the name, not from Python's hash(), which changes with every process: one
    # page would draw it in two looks. And not a catalogue target's look.
    gone = palette.styles(["not-in-the-catalogue", "flask-sync"])
    assert gone["not-in-the-catalogue"] == Style("#882255", "star-triangle-up")
    assert gone["not-in-the-catalogue"] not in PUBLISHED.values()
    assert gone["flask-sync"] == PUBLISHED["flask-sync"]


def test_levels_that_are_not_results_are_grey_yet_visible() -> None:
    background = _chart_background()
    assert palette.INVALID_COLOUR not in palette.COLOURS
    assert contrast(palette.INVALID_COLOUR, background) >= 3
    red, green, blue = (int(palette.INVALID_COLOUR[i : i + 2], 16) for i in (1, 3, 5))
    assert red == green == blue, "grey, so it reads as no target's colour"


def test_a_variant_is_dotted_and_unlike_its_base_and_the_other_variants() -> None:
    variants = points.variants()
    assert variants, "the catalogue has variants"
    looks = palette.styles(palette.catalogue_order())
    for variant, base in variants.items():
        assert looks[variant].dash == "dot" and looks[base].dash == "solid"
        assert looks[variant].colour != looks[base].colour
        assert looks[variant].symbol == looks[base].symbol
    # Bases with variants are drawn beside them (the http-client profile): no shared colour.
    beside = {*variants, *variants.values()}
    assert len({looks[name].colour for name in beside}) == len(beside)


def test_a_tag_that_selects_only_map_cells_draws_no_two_targets_together() -> None:
    # The map page draws each target on a chart of its own: its tag is no reason for two
    # targets to differ in colour, and adding it kept every published look.
    assert palette.map_only_tags() == {"map"}
    entries = {entry.name: entry for entry in palette.catalogue_entries()}
    assert "map" not in entries["starlette-a2wsgi"].tags
    # The replications' scenarios are ordinary ones, drawn together: their tag counts.
    assert "replications" in entries["flask-gthread"].tags
