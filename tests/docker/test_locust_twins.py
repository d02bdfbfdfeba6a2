"""The compose stack's Locust add-on offers every twin of the catalogue, at its stack URL.

It is imported in a child process: importing Locust monkey-patches the interpreter with gevent.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from blockbench.targets.catalogue import APPS, load
from blockbench.targets.compose import services

ROOT = Path(__file__).resolve().parents[2]
READ_TWINS = (
    "import json, sys; sys.path.insert(0, 'docker'); import locust_twins as t; "
    "print(json.dumps([list(t.APPS), t.TWINS]))"
)


def test_offers_each_twin_of_the_stack_at_its_url() -> None:
    twin_services, _ = services(load(cores=1))
    # The URLs docker-compose.yml gives the Locust services (x-urls), by app.
    urls = {s.name: f"http://{s.name}:{s.port}" for s in twin_services}
    env = os.environ | {f"{s.variable}_URL": urls[s.name] for s in twin_services}
    done = subprocess.run(
        [sys.executable, "-c", READ_TWINS], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    apps, twins = json.loads(done.stdout)
    assert tuple(apps) == APPS
    assert twins == urls
