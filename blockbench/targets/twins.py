"""The compose stack's twins: for each app, the catalogue target its service runs by default,
the one tagged "twin" in targets.toml.

Standard library only: docker/serve_target.py reads it in the app image.
"""

from __future__ import annotations

from blockbench.targets.catalogue import APPS, Catalogue, CatalogueError, Target

TWIN_TAG = "twin"


def twins(catalogue: Catalogue) -> dict[str, Target]:
    """Each app's twin target, in the order of ``APPS``; every app needs exactly one."""
    return {app: twin(catalogue, app) for app in APPS}


def twin(catalogue: Catalogue, app: str) -> Target:
    if app not in APPS:
        raise CatalogueError(f"no app {app!r}; the apps: {', '.join(APPS)}")
    tagged = [t for t in catalogue.targets if t.app == app and TWIN_TAG in t.tags]
    if len(tagged) != 1:
        found = ", ".join(t.name for t in tagged) or "none"
        raise CatalogueError(
            f"{catalogue.source}: the {app} twin is the one {app} target with "
            f'tags = ["{TWIN_TAG}"]; found {found}'
        )
    return tagged[0]
