"""Reading a catalogue (a TOML file of named entries) into pydantic models, with one kind of
error whose message names the file, the entry and the key: ``targets.toml: target 't': app: …``.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, TypeVar, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from pydantic_core import ErrorDetails

from blockbench.errors import BlockbenchError

_M = TypeVar("_M", bound=BaseModel)

# Every catalogue model: a misspelt key fails rather than pass unread; strict, because in TOML
# `true` is not 1 and "10" is not a number; frozen, because an entry read is an entry kept.
ENTRY = ConfigDict(extra="forbid", frozen=True, strict=True)
# Some text, not only spaces (kept without the spaces around it).
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
# A count of something: 1 or more (and, strict, never a bool).
Count = Annotated[int, Field(ge=1)]


class CatalogueError(BlockbenchError):
    """A catalogue, an override of it, or a name asked of it is wrong; says where and why."""


class Invalid(ValueError):
    """Raised by a validator about a key below the model it validates (a check across entries
    is made on the whole file): ``at`` is that key's place, relative to the model."""

    def __init__(self, message: str, *at: str | int) -> None:
        super().__init__(message)
        self.at = at


def read(path: Path) -> dict[str, Any]:
    """The TOML document at ``path``; an unreadable file or bad TOML is a CatalogueError."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogueError(f"{path}: cannot read the catalogue: {exc.strerror}") from None
    return parse_toml(text, str(path))


def parse_toml(text: str, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogueError(f"{source}: not valid TOML: {exc}") from None


def validate(
    model: type[_M],
    data: object,
    source: str,
    entries: Mapping[str, str],
    context: Mapping[str, Any] | None = None,
) -> _M:
    """``data`` checked as a ``model``. ``entries`` names the kind of entry each table of named
    entries holds ({"targets": "target"}), so that errors read "target 'name'"."""
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        # A misspelt key first: it is often why another reads as missing.
        errors = sorted(exc.errors(), key=lambda error: error["type"] != "extra_forbidden")
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise CatalogueError(f"{source}: {_describe(model, errors[0], entries)}{more}") from None


def _describe(model: type[BaseModel], error: ErrorDetails, entries: Mapping[str, str]) -> str:
    problem = error.get("ctx", {}).get("error")
    loc = (*error["loc"], *(problem.at if isinstance(problem, Invalid) else ()))
    if error["type"] == "missing":
        message = "missing"
    elif error["type"] == "extra_forbidden":
        message = f"unknown key; the keys: {', '.join(_keys_at(model, loc[:-1]))}"
    elif error["type"] in ("dict_type", "model_type"):
        message = f"expected a table, got {error['input']!r}"
    elif isinstance(problem, ValueError):
        message = str(problem)
    else:
        message = f"{error['msg'][0].lower()}{error['msg'][1:]}, got {error['input']!r}"
    where = []
    if len(loc) >= 2 and loc[0] in entries:
        where.append(f"{entries[str(loc[0])]} {loc[1]!r}")
        loc = loc[2:]
    # A dict key's own error is placed at the key, then "[key]": the entry's name says enough.
    key = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)
    key = key.removesuffix(".[key]").removeprefix(".")
    return ": ".join([*where, *([key] if key else []), message])


def _keys_at(model: type[BaseModel], loc: tuple[str | int, ...]) -> list[str]:
    """The keys the model allows at ``loc`` (through its tables and lists of entries)."""
    current: Any = model
    for part in loc:
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            current = field.annotation if field else None
        else:
            # dict[str, Entry], list[Entry], Entry | None: step into the entry type.
            while get_origin(current) is Annotated:
                current = get_args(current)[0]
            args = [arg for arg in get_args(current) if arg is not type(None)]
            current = args[-1] if args else None
        while get_origin(current) is Annotated:
            current = get_args(current)[0]
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []
