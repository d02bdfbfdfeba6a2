"""Where the tests' recorded runs are (run.json only): tests/data/results, two short real runs
(blockbench run --profile tiny --scenarios io-sleep,cpu --targets flask-sync,flask-gthread,
starlette-uvicorn --levels 1,10 --repeat 2), and tests/data/bounds, a quick profile recorded
with bounds (blockbench run --profile quick)."""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
RESULTS = DATA / "results"
BOUNDS = DATA / "bounds"
