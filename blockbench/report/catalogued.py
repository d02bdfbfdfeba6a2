"""The scenario catalogue's decision maps and peer replications, as the report reads them:
one place, so tests can give the pages other entries."""

from __future__ import annotations

import functools
from collections.abc import Mapping

from blockbench.load import scenarios
from blockbench.load.scenarios import DecisionMap, MapCell, PeerFigure, Replication

__all__ = [
    "DecisionMap",
    "MapCell",
    "PeerFigure",
    "Replication",
    "map_scenarios",
    "maps",
    "replications",
]


@functools.cache
def maps() -> Mapping[str, DecisionMap]:
    return scenarios.load().maps


@functools.cache
def replications() -> Mapping[str, Replication]:
    return scenarios.load().replications


def map_scenarios() -> frozenset[str]:
    """Every scenario a decision map is made of: shown on the map page, not as a scenario."""
    return frozenset(cell.scenario for found in maps().values() for cell in found.cells)
