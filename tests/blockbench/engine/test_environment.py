"""The open-files limit a run raises for its processes, and records."""

from __future__ import annotations

import resource
import subprocess
import sys

from blockbench.engine import environment


def test_the_open_files_limit_is_raised_to_the_hard_limit() -> None:
    # In a child, so this process's limit is left alone: lowered, then raised again.
    code = (
        "import resource\n"
        "from blockbench.engine import environment\n"
        "soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))\n"
        "print(environment.raise_open_files_limit(), "
        "resource.getrlimit(resource.RLIMIT_NOFILE)[0])\n"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    expected = min(hard, environment.OPEN_FILES_WANTED)
    assert [int(value) for value in output] == [expected, expected]


def test_a_limit_already_high_enough_is_kept() -> None:
    before = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert environment.raise_open_files_limit() >= before[0]
    assert resource.getrlimit(resource.RLIMIT_NOFILE)[1] == before[1]
