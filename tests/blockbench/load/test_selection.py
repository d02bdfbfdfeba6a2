"""Selecting targets by tags, models and apps: what a selector matches, what a profile picks and
in which order, and the errors that name the key."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from blockbench.load import selection
from blockbench.load.selection import SelectionError, Selector


@dataclass(frozen=True)
class T:
    name: str
    app: str = "flask"
    model: str = "threads"
    tags: tuple[str, ...] = ()
    variant_of: str | None = None


TARGETS = (
    T("a", model="processes", tags=("small",)),
    T("b", tags=("small", "pair")),
    T("c", app="starlette", model="event-loop", tags=("pair",)),
    T("d", app="starlette", model="threads"),
    T("c-v", app="starlette", model="event-loop", tags=("pair",), variant_of="c"),
    T("b-v", tags=("pair",), variant_of="b"),
    T("a-v", model="processes", tags=(), variant_of="a"),
)


def test_all_is_the_matrix_without_variants() -> None:
    assert selection.parse(None) == selection.parse("all") == selection.ALL
    assert selection.ALL.pick(TARGETS) == ("a", "b", "c", "d")


def test_a_tag_picks_its_targets_and_the_variants_tagged_so_beside_their_base() -> None:
    pair = selection.parse({"tags": ["pair"]})
    assert pair.pick(TARGETS) == ("b", "b-v", "c", "c-v")
    assert Selector(tags=("small",)).pick(TARGETS) == ("a", "b")


def test_keys_must_all_match_and_any_value_of_a_key_does() -> None:
    selector = selection.parse({"models": ["threads", "event-loop"], "apps": ["starlette"]})
    assert selector.pick(TARGETS) == ("c", "d")
    # A model picks no variant in a profile, but a scenario's filter lets one through.
    assert selector.matches(TARGETS[4])
    assert not Selector(tags=("small",), apps=("starlette",)).pick(TARGETS)


def test_check_names_what_no_target_has() -> None:
    Selector(tags=("pair",), models=("processes",), apps=("flask",)).check(TARGETS, "p")
    with pytest.raises(SelectionError, match=r"^p: targets.tags: no target has 'quick'; .*small"):
        Selector(tags=("small", "quick")).check(TARGETS, "p")
    with pytest.raises(SelectionError, match="^p: targets.models: no target has 'green-threads'"):
        Selector(models=("green-threads",)).check(TARGETS, "p")


@pytest.mark.parametrize(
    ("value", "at", "message"),
    [
        (["a", "b"], (), "not by name"),
        ("some", (), 'expected "all" or a table'),
        ({}, (), 'expected "all" or a table'),
        ({"names": ["a"]}, ("names",), "unknown key; the keys: tags, models, apps"),
        ({"tags": "small"}, ("tags",), "expected a list of one or more names"),
        ({"tags": [1]}, ("tags",), "expected a list"),
        ({"apps": []}, ("apps",), "expected a list"),
    ],
)
def test_bad_selections_are_refused_naming_the_key(
    value: object, at: tuple[str, ...], message: str
) -> None:
    # The key below `targets` it is about; the scenario catalogue names the file and entry.
    with pytest.raises(SelectionError) as info:
        selection.parse(value)
    assert message in str(info.value)
    assert info.value.at == at
