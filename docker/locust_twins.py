"""The compose stack's Locust add-on: an "app" choice in the web UI picks the twin to load.

Loaded beside the workloads (docker-compose.yml runs
``locust -f loadtests/locustfile.py,docker/locust_twins.py``); the twins' URLs come from the
stack's environment, FLASK_URL, STARLETTE_URL, FASTAPI_URL and QUART_URL. At start, a Host
field left as the page showed it (or emptied) follows the app choice; a Host typed in goes where
it says, so any server can be driven. Headless runs are not touched: there ``--host`` says where
the load goes.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Response, g, request
from locust import events
from locust.env import Environment

# The apps in the order of blockbench.targets.catalogue.APPS, which this file may not import (the
# Locust image has no harness); tests/docker/test_locust_twins.py keeps the two the same.
APPS = ("flask", "starlette", "fastapi", "quart")
TWINS = {app: os.environ.get(f"{app.upper()}_URL", "") for app in APPS}
# The twin of the last start, so the form offers what the Host field shows.
_current = {"app": "flask"}


def _add_app_option(parser: Any) -> None:
    # Locust rebuilds its parser for every page, so the default follows _current.
    parser.add_argument(
        "--app",
        choices=list(TWINS),
        default=_current["app"],
        include_in_web_ui=True,
        help="The twin to load, unless you type a Host: "
        + ", ".join(f"{app} = {url}" for app, url in TWINS.items()),
    )


def _twin_of(url: str) -> str | None:
    return next((app for app, twin in TWINS.items() if twin and twin == url), None)


def _on_init(environment: Environment, **_: Any) -> None:
    app = environment.web_ui.app if environment.web_ui else None
    if app is None:
        return

    @app.before_request
    def _choose_host() -> None:
        if request.method != "POST" or not request.path.endswith("/swarm"):
            return
        host, chosen = request.form.get("host"), request.form.get("app")
        if host is None:
            return  # a change of users during a run: the host stays
        untouched = host in ("", environment.host)
        g.twin_host = TWINS[chosen] if untouched and chosen in TWINS else host

    @app.after_request
    def _aim(response: Response) -> Response:
        host = g.pop("twin_host", None)
        if host is None or not response.is_json:
            return response
        body = response.get_json()
        if body.get("success"):
            # Before the runner's greenlet first runs, so every spawn job carries this host.
            environment.host = host
            _current["app"] = _twin_of(host) or _current["app"]
            body["host"] = host
            response.set_data(app.json.dumps(body))
        return response


# Locust's EventHook is unannotated: hence the ignores.
events.init_command_line_parser.add_listener(_add_app_option)  # type: ignore[no-untyped-call]
events.init.add_listener(_on_init)  # type: ignore[no-untyped-call]
