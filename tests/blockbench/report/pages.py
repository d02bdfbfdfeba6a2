"""Reading built pages back: their ids, links, sections and embedded figures."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

# Attributes through which a page can make the browser fetch or go somewhere.
URL_ATTRIBUTES = ("href", "src", "action", "data", "poster", "srcset", "formaction")


@dataclass
class Parsed:
    path: Path
    ids: set[str] = field(default_factory=set)
    # (tag, attribute, value) of every URL-bearing attribute.
    links: list[tuple[str, str, str]] = field(default_factory=list)
    sections: list[str] = field(default_factory=list)
    figures: dict[str, dict[str, Any]] = field(default_factory=dict)
    text: str = ""


class _Reader(HTMLParser):
    def __init__(self, parsed: Parsed) -> None:
        super().__init__(convert_charrefs=True)
        self.parsed = parsed
        self._json_id: str | None = None
        self._json: list[str] = []
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if "id" in values:
            self.parsed.ids.add(values["id"])
        if tag == "section" and "id" in values:
            self.parsed.sections.append(values["id"])
        for name in URL_ATTRIBUTES:
            if name in values:
                self.parsed.links.append((tag, name, values[name]))
        if tag == "script" and values.get("type") == "application/json":
            self._json_id = values["id"]

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._json_id:
            self.parsed.figures[self._json_id] = json.loads("".join(self._json))
            self._json_id, self._json = None, []

    def handle_data(self, data: str) -> None:
        if self._json_id:
            self._json.append(data)
        else:
            self._text.append(data)

    def close(self) -> None:
        super().close()
        self.parsed.text = " ".join(" ".join(self._text).split())


def parse(path: Path) -> Parsed:
    parsed = Parsed(path)
    reader = _Reader(parsed)
    reader.feed(path.read_text(encoding="utf-8"))
    reader.close()
    return parsed


def broken_links(site: Path) -> list[str]:
    """Every link of every page that is not relative, or does not lead to a file (and id)."""
    problems = []
    for page in sorted(site.rglob("*.html")):
        for tag, attribute, value in parse(page).links:
            where = f"{page.relative_to(site)}: <{tag} {attribute}={value!r}>"
            url = urlsplit(value)
            if value.startswith("data:"):
                continue
            if url.scheme or url.netloc or value.startswith("/"):
                problems.append(f"{where} is not a relative link")
                continue
            target = (page.parent / unquote(url.path)).resolve() if url.path else page
            if not target.is_file():
                problems.append(f"{where} leads to no file")
            elif url.fragment and url.fragment not in parse(target).ids:
                problems.append(f"{where} leads to no element with that id")
    return problems


def run_pages(overview: Path) -> list[Path]:
    """A run's overview (its index.html) and the scenario pages it links, in the run's order."""
    linked = [
        value
        for tag, _, value in parse(overview).links
        if tag == "a" and re.fullmatch(r"scenario-\d+\.html", value)
    ]
    return [overview, *(overview.parent / name for name in dict.fromkeys(linked))]


def parse_run(overview: Path) -> Parsed:
    """Every page of a run read as one: what it shows a reader, whichever page it is on."""
    whole = Parsed(overview)
    texts = []
    for page in run_pages(overview):
        parsed = parse(page)
        assert not whole.figures.keys() & parsed.figures.keys(), f"{page}: a figure twice"
        whole.ids |= parsed.ids
        whole.links += parsed.links
        whole.sections += parsed.sections
        whole.figures |= parsed.figures
        texts.append(parsed.text)
    whole.text = " ".join(texts)
    return whole
