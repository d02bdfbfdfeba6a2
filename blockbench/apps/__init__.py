"""What the twin apps import: the endpoint contract, their settings and the slow work behind it.

Imports nothing of the harness, so the app image runs without it.
"""
