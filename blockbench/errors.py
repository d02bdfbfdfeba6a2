"""The root of every failure blockbench expects (bad input, a catalogue, a busy port, a results
folder): the command line catches it once and prints its message, never a traceback."""

from __future__ import annotations


class BlockbenchError(Exception):
    """A failure the user can act on: the message says which input, what was expected and what
    to do. Anything else is a bug and keeps its traceback."""
