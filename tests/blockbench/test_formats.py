from __future__ import annotations

from blockbench import formats


def test_a_level_reads_as_words() -> None:
    assert formats.users(1) == "1 user"
    assert formats.users(0) == "0 users"
    assert formats.users(10) == "10 users"
    assert formats.users(10_000) == "10,000 users"
