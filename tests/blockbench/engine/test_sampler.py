"""The process-tree sampler: a child that exits while the tree is read loses only itself."""

from __future__ import annotations

import os
import subprocess

import psutil
import pytest

from blockbench.engine.sampler import TreeSampler


def test_a_child_gone_between_listing_and_reading_leaves_the_rest_of_the_tree(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A process pool's worker, say, that exits just after the tree was listed.
    gone = subprocess.Popen(["true"])
    gone.wait()
    alive = subprocess.Popen(["sleep", "30"])
    try:
        listed = [psutil.Process(alive.pid), _Stale(gone.pid)]
        monkeypatch.setattr(psutil.Process, "children", lambda self, recursive=False: listed)
        sample = TreeSampler()._sample(os.getpid())
        assert sample is not None
        assert sample.processes == 2  # this process and the live child
    finally:
        alive.kill()
        alive.wait()


class _Stale:
    """What a listing returns for a process that has since exited: only its pid."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
