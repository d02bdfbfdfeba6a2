from __future__ import annotations

from blockbench import palette


def test_a_target_looks_the_same_whatever_else_ran() -> None:
    alone = palette.styles(["flask-gevent"])
    together = palette.styles(["flask-sync", "flask-gevent", "starlette-uvicorn"])
    assert alone["flask-gevent"] == together["flask-gevent"]
    assert palette.styles(["not-in-the-catalogue"]) == palette.styles(["not-in-the-catalogue"])


def test_every_catalogue_target_has_a_look_of_its_own() -> None:
    looks = palette.styles(palette.catalogue_order())
    assert len(set(looks.values())) == len(looks)
    assert {look.colour for look in looks.values()} <= set(palette.OKABE_ITO)
