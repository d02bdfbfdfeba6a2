from __future__ import annotations

import pytest

from blockbench.report import charts, palette, points
from blockbench.report.palette import Style
from blockbench.report.points import scenarios
from tests.blockbench.synthetic import make_run

# The looks of the catalogue's bases on every published page. A base inserted or moved in
# targets.toml, or the palette reordered, would recolour the reports already out: this fails.
PUBLISHED = {
    "flask-sync": Style("#0072B2", "circle"),
    "flask-gthread": Style("#E69F00", "square"),
    "flask-gevent": Style("#009E73", "diamond"),
    "flask-a2wsgi": Style("#D55E00", "triangle-up"),
    "flask-async-views": Style("#CC79A7", "triangle-down"),
    "starlette-uvicorn": Style("#56B4E9", "cross"),
    "starlette-threadpool": Style("#000000", "x"),
    "starlette-gunicorn": Style("#F0E442", "star"),
    "starlette-gunicorn-asgi": Style("#0072B2", "pentagon"),
    "starlette-a2wsgi": Style("#E69F00", "hexagon"),
}


def _contrast(colour: str, background: str) -> float:
    """WCAG 2's contrast ratio of two sRGB colours, from their relative luminance."""

    def luminance(hex_colour: str) -> float:
        channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    light, dark = sorted((luminance(colour), luminance(background)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def _chart_background() -> str:
    run = make_run()
    figure = charts.throughput(scenarios(run)[0], palette.styles(run.targets))
    background: str = figure["layout"]["plot_bgcolor"]
    assert figure["layout"]["paper_bgcolor"] == background
    return background


def test_the_contrast_formula_matches_wcags_reference_values() -> None:
    # The extremes, and the greys either side of WCAG AA's 4.5:1 for text on white.
    assert _contrast("#000000", "#FFFFFF") == pytest.approx(21.0)
    assert _contrast("#FFFFFF", "#FFFFFF") == pytest.approx(1.0)
    assert _contrast("#777777", "#FFFFFF") == pytest.approx(4.48, abs=0.01)
    assert _contrast("#FFFFFF", "#767676") == pytest.approx(4.54, abs=0.01)


def test_the_catalogue_bases_keep_their_published_looks() -> None:
    looks = palette.styles(palette.catalogue_order())
    assert {name: looks[name] for name in PUBLISHED} == PUBLISHED
    # Every base is also a base of the catalogue today: the table above is not stale.
    bases = [name for name in palette.catalogue_order() if name not in points.variants()]
    assert bases[: len(PUBLISHED)] == list(PUBLISHED)


def test_a_target_looks_the_same_whatever_else_ran() -> None:
    alone = palette.styles(["starlette-a2wsgi"])
    together = palette.styles(["flask-sync", "starlette-a2wsgi", "starlette-uvicorn"])
    assert (
        alone["starlette-a2wsgi"] == together["starlette-a2wsgi"] == PUBLISHED["starlette-a2wsgi"]
    )


def test_a_target_gone_from_the_catalogue_gets_a_look_from_its_name_alone() -> None:
    # From sha256 of the name (offset by the catalogue's size, 13 today), not from Python's
    # hash(), which changes with every process: one page would draw it in two looks.
    gone = palette.styles(["not-in-the-catalogue", "flask-sync"])
    assert gone["not-in-the-catalogue"] == Style("#CC79A7", "pentagon")
    assert gone["flask-sync"] == PUBLISHED["flask-sync"]


def test_every_catalogue_target_has_a_look_and_every_base_a_marker_of_its_own() -> None:
    looks = palette.styles(palette.catalogue_order())
    assert len(set(looks.values())) == len(looks)
    assert {look.colour for look in looks.values()} <= set(palette.OKABE_ITO)
    # Eight colours for more targets, and three of them faint on white (below): the marker is
    # what tells two bases of one colour apart, in print and for colour-blind readers.
    bases = [name for name in looks if name not in points.variants()]
    assert len({looks[name].symbol for name in bases}) == len(bases)


def test_the_faintest_colour_on_the_charts_background_is_handed_out_last() -> None:
    background = _chart_background()
    contrast = {colour: _contrast(colour, background) for colour in palette.OKABE_ITO}
    assert min(contrast, key=contrast.__getitem__) == palette.OKABE_ITO[-1]
    # The first target of the catalogue, on every page, stands out by WCAG's 3:1 for graphics.
    assert contrast[palette.OKABE_ITO[0]] >= 3


def test_levels_that_are_not_results_are_grey_yet_visible() -> None:
    background = _chart_background()
    assert palette.INVALID_COLOUR not in palette.OKABE_ITO
    assert _contrast(palette.INVALID_COLOUR, background) >= 3
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


def test_adding_a_target_to_the_catalogue_recolours_no_base_before_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    variants = {**points.variants(), "flask-sync-requests": "flask-sync"}
    order = (*palette.catalogue_order(), "starlette-new", "flask-sync-requests")
    monkeypatch.setattr(points, "variants", lambda: variants)
    monkeypatch.setattr(palette, "catalogue_order", lambda: order)
    # Uncached: the real catalogue's looks stay cached for the other tests.
    grown = palette.catalogue_styles.__wrapped__()
    assert {name: grown[name] for name in PUBLISHED} == PUBLISHED
    assert grown["flask-sync-requests"].colour != PUBLISHED["flask-sync"].colour
    assert grown["flask-sync-requests"].symbol == PUBLISHED["flask-sync"].symbol
