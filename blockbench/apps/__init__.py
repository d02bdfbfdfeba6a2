"""What the twin apps import: the endpoint contract, their settings and the slow work behind it.

Imports nothing of the harness (checked by import-linter), so the app image runs without it.
"""
