from __future__ import annotations

from blockbench.report import palette, points


def test_a_target_looks_the_same_whatever_else_ran() -> None:
    alone = palette.styles(["flask-gevent"])
    together = palette.styles(["flask-sync", "flask-gevent", "starlette-uvicorn"])
    assert alone["flask-gevent"] == together["flask-gevent"]
    assert palette.styles(["not-in-the-catalogue"]) == palette.styles(["not-in-the-catalogue"])


def test_every_catalogue_target_has_a_look_of_its_own() -> None:
    looks = palette.styles(palette.catalogue_order())
    assert len(set(looks.values())) == len(looks)
    assert {look.colour for look in looks.values()} <= set(palette.OKABE_ITO)


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


def test_variants_do_not_recolour_the_bases() -> None:
    bases = [name for name in palette.catalogue_order() if name not in points.variants()]
    looks = palette.styles(bases)
    for index, name in enumerate(bases):
        expected = palette.OKABE_ITO[index % len(palette.OKABE_ITO)]
        assert looks[name] == palette.Style(expected, palette.SYMBOLS[index % len(palette.SYMBOLS)])
