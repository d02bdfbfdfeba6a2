"""Which targets a profile or a scenario is for, written by what they are (tags, models, apps)
rather than by name, so that a target's name is written in the target catalogue alone.

Standard library only (the scenario catalogue's pydantic model places its errors); the targets
are anything with a name, an app, a model, tags and variant_of (catalogue.Target).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from blockbench.errors import BlockbenchError

# The keys a selector may have; within a key any value matches, across keys all must.
KEYS = ("tags", "models", "apps")


class SelectionError(BlockbenchError):
    """A selector that is malformed, or names what no target has. ``at`` is the key below
    ``targets`` a malformed one is about, for the catalogue's message to name."""

    def __init__(self, message: str, *at: str) -> None:
        super().__init__(message)
        self.at = at


class TargetInfo(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def app(self) -> str: ...
    @property
    def model(self) -> str: ...
    @property
    def tags(self) -> tuple[str, ...]: ...
    @property
    def variant_of(self) -> str | None: ...


@dataclass(frozen=True)
class Selector:
    """No keys: every target ("all"). A profile's selection leaves variants out unless a tag of
    their own chooses them, so that "all" and models keep one entry per server."""

    tags: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    apps: tuple[str, ...] = ()

    def matches(self, target: TargetInfo) -> bool:
        """Whether ``target`` is one of this selection (a scenario's filter: variants too)."""
        return (
            (not self.tags or any(tag in self.tags for tag in target.tags))
            and (not self.models or target.model in self.models)
            and (not self.apps or target.app in self.apps)
        )

    def pick(self, targets: Sequence[TargetInfo]) -> tuple[str, ...]:
        """The names a profile runs, in catalogue order with each variant right after its base
        (the report sets them side by side)."""
        chosen = [
            target
            for target in targets
            if self.matches(target)
            and (target.variant_of is None or any(tag in self.tags for tag in target.tags))
        ]
        order = {target.name: index for index, target in enumerate(targets)}

        def place(target: TargetInfo) -> tuple[int, int]:
            base = order.get(target.variant_of or target.name, order[target.name])
            return base, order[target.name]

        return tuple(target.name for target in sorted(chosen, key=place))

    def check(self, targets: Iterable[TargetInfo], where: str) -> None:
        """Fail if a value names what no target has: a misspelt tag would select nothing."""
        targets = list(targets)
        for key, wanted, has in (
            ("tags", self.tags, lambda t: t.tags),
            ("models", self.models, lambda t: (t.model,)),
            ("apps", self.apps, lambda t: (t.app,)),
        ):
            known = list(dict.fromkeys(value for target in targets for value in has(target)))
            unknown = [value for value in wanted if value not in known]
            if unknown:
                raise SelectionError(
                    f"{where}: targets.{key}: no target has {', '.join(map(repr, unknown))}; "
                    f"the target catalogue's {key}: {', '.join(known) or 'none'}"
                )


ALL = Selector()


def parse(value: object) -> Selector:
    """``targets`` of a profile or scenario: absent or "all", or a table of tags, models, apps."""
    if value is None or value == "all":
        return ALL
    if isinstance(value, list):
        raise SelectionError(
            "select targets by what they are, e.g. "
            '{ tags = ["quick"] } or { models = ["threads"] }, not by name: a target\'s name '
            "is written in blockbench/targets/targets.toml alone (give it a tag there)"
        )
    if not isinstance(value, Mapping) or not value:
        raise SelectionError(f'expected "all" or a table of {", ".join(KEYS)}, got {value!r}')
    unknown = sorted(set(value) - set(KEYS))
    if unknown:
        raise SelectionError(f"unknown key; the keys: {', '.join(KEYS)}", unknown[0])
    lists = {key: _names(value[key], key) for key in KEYS if key in value}
    return Selector(lists.get("tags", ()), lists.get("models", ()), lists.get("apps", ()))


def _names(value: object, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise SelectionError(f"expected a list of one or more names, got {value!r}", key)
    return tuple(dict.fromkeys(value))
