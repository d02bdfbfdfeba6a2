"""Runs one target of the catalogue (blockbench/targets/targets.toml) in a container's foreground.

Every app service of docker-compose.yml starts through this, so a container named for a target
runs exactly the server command the catalogue gives that target, never a copy of it:

    python docker/serve_target.py TARGET
    python docker/serve_target.py --twin APP     the app's twin: its target tagged "twin"

PORT and BIND_HOST (default 0.0.0.0) say where to listen. APP_CPUS, the container's CPU limit,
is the catalogue's "cores": worker counts follow from it (gthread: 2 x cores + 1).
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Mapping

from blockbench.targets import catalogue, twins

USAGE = (
    "usage: python docker/serve_target.py TARGET | --twin APP  "
    f"(a target of blockbench/targets/targets.toml, or the twin of {', '.join(catalogue.APPS)})"
)


def _whole(env: Mapping[str, str], key: str, default: int | None = None) -> int:
    raw = env.get(key, "").strip()
    if not raw and default is not None:
        return default
    if not raw.isdigit() or int(raw) < 1:
        sys.exit(f"serve_target: {key} must be a whole number of at least 1, got {raw!r}")
    return int(raw)


def main(argv: list[str], env: Mapping[str, str]) -> None:
    if len(argv) not in (1, 2) or (len(argv) == 2) != (argv[0] == "--twin"):
        sys.exit(USAGE)
    # The catalogue counts whole cores; a fractional CPU limit has no "2 x cores + 1".
    cores = _whole(env, "APP_CPUS", default=1)
    port = _whole(env, "PORT")
    host = env.get("BIND_HOST") or "0.0.0.0"
    try:
        found = catalogue.load(cores=cores)
        target = twins.twin(found, argv[1]) if len(argv) == 2 else found.get(argv[0])
    except catalogue.CatalogueError as exc:
        sys.exit(f"serve_target: {exc}")
    command = target.command(port, host)
    print(
        f"serve_target: {target.name} ({target.server}), {target.workers} workers for "
        f"{cores} CPU{'s' if cores > 1 else ''}: {shlex.join(command)}",
        flush=True,
    )
    os.execvpe(command[0], command, {**env, **target.env(port, host)})


if __name__ == "__main__":
    main(sys.argv[1:], os.environ)
