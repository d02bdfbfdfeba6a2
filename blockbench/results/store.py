"""Run folders on disk: written atomically level by level, read back validated.

Layout of a run folder:
    run.json                    the Run, rewritten atomically after every level
    levels/<cell>/<users>.json  one LevelResult per finished level, written atomically
    locust/<cell>/<users>_*.csv Locust's own request and failure tables for that level
    logs/                       the servers' and the load generator's logs
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from blockbench.errors import BlockbenchError
from blockbench.results.schema import SCHEMA_VERSION, Cell, LevelResult, Run

RUN_FILE = "run.json"
LEVELS_DIR = "levels"


class ResultsError(BlockbenchError):
    """A results folder or file that cannot be read; says which and why."""


def write_atomically(path: Path, text: str) -> None:
    """Write via a temporary file and rename, so a reader or a crash never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        # mkstemp makes the file private (0600); results are meant to be read and shared.
        os.chmod(temporary, 0o666 & ~_umask())
        with os.fdopen(handle, "w") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def save_run(folder: Path, run: Run) -> None:
    write_atomically(folder / RUN_FILE, run.model_dump_json(indent=2))


def save_level(folder: Path, cell: Cell, level: LevelResult) -> Path:
    path = folder / LEVELS_DIR / cell_key(cell) / f"{level.users}.json"
    write_atomically(path, level.model_dump_json(indent=2))
    return path


def cell_key(cell: Cell) -> str:
    return f"{cell.scenario}__{cell.target}__r{cell.repeat}"


def load_run(folder: Path) -> Run:
    path = folder / RUN_FILE if folder.is_dir() else folder
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ResultsError(
            f"{path} does not exist: is {folder} a blockbench results folder?"
        ) from None
    except (OSError, json.JSONDecodeError) as exc:
        raise ResultsError(f"{path} cannot be read as JSON: {exc}") from exc
    version = data.get("schema_version") if isinstance(data, dict) else None
    if version != SCHEMA_VERSION:
        raise ResultsError(
            f"{path} has results schema version {version!r}; this blockbench reads version "
            f"{SCHEMA_VERSION}. Re-run it, or use the blockbench version that wrote it."
        )
    try:
        return Run.model_validate(data)
    except ValueError as exc:
        raise ResultsError(f"{path} does not match the results schema: {exc}") from exc


def json_schema() -> str:
    return json.dumps(Run.model_json_schema(), indent=2, sort_keys=True) + "\n"


def resume(results_dir: Path, run_id: str) -> Run:
    """The stored run ``run_id`` to continue (``run --resume``), running again."""
    folder = results_dir / run_id
    if not folder.is_dir():
        known = sorted(p.name for p in results_dir.glob("*/") if (p / RUN_FILE).exists())
        raise ResultsError(
            f"no run {run_id!r} in {results_dir}; the runs there: {', '.join(known) or 'none'}"
        )
    return load_run(folder).model_copy(update={"status": "running"})
