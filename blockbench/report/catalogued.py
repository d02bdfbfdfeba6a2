"""The scenario catalogue's decision maps and peer replications, as the report reads them.

Typed by what the report uses of them (protocols), so the pages read whatever the catalogue
holds and a catalogue without them (older blockbench, or a run of other scenarios) has none.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Protocol

from blockbench.load import scenarios


class MapCell(Protocol):
    @property
    def scenario(self) -> str: ...
    @property
    def wait_ms(self) -> int: ...
    @property
    def cpu_ms(self) -> float: ...
    @property
    def work(self) -> int: ...


class DecisionMap(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def explanation(self) -> str: ...
    @property
    def waits_ms(self) -> Sequence[int]: ...
    @property
    def cpu_ms(self) -> Sequence[float]: ...
    @property
    def cells(self) -> Sequence[MapCell]: ...


class PeerFigure(Protocol):
    @property
    def framework(self) -> str: ...
    @property
    def server(self) -> str: ...
    @property
    def model(self) -> str: ...
    @property
    def value(self) -> float: ...
    @property
    def target(self) -> str | None: ...


class Replication(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def workload(self) -> str: ...
    @property
    def scenario(self) -> str: ...
    @property
    def users(self) -> int: ...
    @property
    def unit(self) -> str: ...
    @property
    def figures(self) -> Sequence[PeerFigure]: ...
    @property
    def finding(self) -> str: ...


@functools.cache
def maps() -> Mapping[str, DecisionMap]:
    found: Mapping[str, DecisionMap] = getattr(scenarios.load(), "maps", {})
    return found


@functools.cache
def replications() -> Mapping[str, Replication]:
    found: Mapping[str, Replication] = getattr(scenarios.load(), "replications", {})
    return found


def map_scenarios() -> frozenset[str]:
    """Every scenario a decision map is made of: shown on the map page, not as a scenario."""
    return frozenset(cell.scenario for found in maps().values() for cell in found.cells)
