"""A "Ceiling" tab in Locust's web UI: the throughput now against the target's bound, live.

Loaded by locustfile.py, so the compose stack and ``locust --config loadtests/locust.conf`` both
have it. It uses only Locust's own extension points: an extended tab and its table in the web
UI's template arguments, their rows added to the stats the page polls every 2 s, and a route of
its own, /ceiling, with the same reading as JSON. What it shows and how it is computed is in
blockbench/load/ceiling.py (the report's bounds, fed live); this file only wires it to Locust.
"""

from __future__ import annotations

import logging
import time
import urllib.request
from typing import Any

import gevent
from flask import Response, jsonify, request
from locust import events
from locust.env import Environment
from locust.runners import STATE_RUNNING, STATE_SPAWNING, MasterRunner, Runner

from blockbench.load import ceiling
from blockbench.load.scenarios import Scenario

logger = logging.getLogger(__name__)
KEY = "ceiling"
TAB = {"title": "Ceiling", "key": KEY}
TABLE = {
    "key": KEY,
    "structure": [{"key": "what", "title": "What"}, {"key": "value", "title": "Now"}],
}
ROUTE = "/ceiling"
# A target answers /healthz at once unless the load has it queueing behind the users' requests
# (3 sync workers behind 1,000 users of 100 ms: over 30 s), so it is asked in the background
# with the users' own patience, and asked again a while after it gave no answer.
HEALTH_TIMEOUT_S = 60.0
RETRY_S = 10.0
FIRST_ANSWER_S = 1.0
# As often as the page polls its stats.
SAMPLE_S = 2.0


def _fetch(url: str) -> bytes:
    # Locust has monkey-patched the socket module: this waits in its own greenlet only.
    with urllib.request.urlopen(url, timeout=HEALTH_TIMEOUT_S) as response:
        body: bytes = response.read()
    return body


class _Ceiling:
    """The tab's state: which target each host serves, and when the users last settled."""

    def __init__(self, environment: Environment) -> None:
        self.environment = environment
        self._answers: dict[str, tuple[ceiling.Served, float]] = {}
        self._asking: dict[str, Any] = {}  # the greenlets asking, by host
        self._stale: set[str] = set()
        self._settled_at: float | None = None
        self.levels = ceiling.Levels()

    def settled(self, **_: Any) -> None:
        """The users stopped changing (or the stats were reset): the rate counts from now, by
        the wall clock, as Locust stamps its seconds."""
        self._settled_at = time.time()

    def started(self, **_: Any) -> None:
        """A new test may run against another target restarted on the same host: ask again,
        showing the last answer until the new one comes."""
        self._stale = set(self._answers)
        self._settled_at = None
        self.levels.clear()

    def served(self) -> ceiling.Served:
        host = self.environment.host or ""
        answer, asked_at = self._answers.get(host, (None, 0.0))
        retry = answer is not None and answer.target is None
        due = retry and time.monotonic() - asked_at > RETRY_S
        if (answer is None or due or host in self._stale) and host not in self._asking:
            self._asking[host] = gevent.spawn(self._ask, host)
        if answer is None:
            # A target not yet loaded answers in milliseconds: worth a second of this request.
            self._asking[host].join(timeout=FIRST_ANSWER_S)
            answer, _ = self._answers.get(host, (None, 0.0))
        if answer is None:
            return ceiling.Served(None, f"asking {host}{ceiling.HEALTH_PATH} which target it is")
        return answer

    def _ask(self, host: str) -> None:
        try:
            self._answers[host] = (ceiling.served(host, _fetch), time.monotonic())
        finally:
            self._stale.discard(host)
            self._asking.pop(host, None)

    def reading(self) -> ceiling.Reading:
        runner = self.environment.runner
        assert runner is not None  # the web UI exists only with a runner
        total = runner.stats.total
        settled_at = None if runner.state == STATE_SPAWNING else self._settled_at
        rate = ceiling.rate(
            total.num_reqs_per_sec, total.num_fail_per_sec, settled_at, total.last_request_timestamp
        )
        workload = ceiling.workload(_running(runner), _scenarios(self.environment))
        reading = ceiling.read(runner.user_count, rate, self.served(), workload)
        self.levels.record(reading)
        return reading

    def sample(self) -> None:
        """Read every SAMPLE_S while a test runs, so each level is kept with no page open."""
        while True:
            gevent.sleep(SAMPLE_S)
            runner = self.environment.runner
            if runner is None or runner.state not in (STATE_SPAWNING, STATE_RUNNING):
                continue
            try:
                self.reading()
            except Exception:
                logger.exception("the Ceiling tab failed")


def _running(runner: Runner) -> dict[str, int]:
    """Users per user class now: a master counts its workers' users, not its own."""
    if isinstance(runner, MasterRunner):
        return dict(runner.reported_user_classes_count)
    return runner.user_classes_count


def _scenarios(environment: Environment) -> dict[str, Scenario]:
    classes: dict[str, Any] = environment.available_user_classes or {
        user_class.__name__: user_class for user_class in environment.user_classes
    }
    found = {name: getattr(user_class, "scenario", None) for name, user_class in classes.items()}
    return {name: scenario for name, scenario in found.items() if isinstance(scenario, Scenario)}


def _on_init(environment: Environment, **_: Any) -> None:
    web_ui = environment.web_ui
    if web_ui is None:  # headless, or a worker: no page to extend
        return
    app = web_ui.app
    if app is None:
        return
    state = _Ceiling(environment)
    # Locust's EventHook is unannotated: hence the ignores.
    environment.events.spawning_complete.add_listener(state.settled)  # type: ignore[no-untyped-call]
    environment.events.test_start.add_listener(state.started)  # type: ignore[no-untyped-call]
    # Reset Stats empties Locust's seconds: count from then, not zeros from before.
    environment.events.reset_stats.add_listener(state.settled)  # type: ignore[no-untyped-call]
    gevent.spawn(state.sample)
    # Added to, not replaced: another plugin's tabs stay.
    args = web_ui.template_args
    args["extended_tabs"] = [*args.get("extended_tabs", []), TAB]
    args["extended_tables"] = [*args.get("extended_tables", []), TABLE]

    @app.route(ROUTE)
    @web_ui.auth_required_if_enabled  # type: ignore[untyped-decorator]
    def _ceiling() -> Response:
        reading = state.reading()
        return jsonify({**reading.as_json(), "levels": state.levels.as_json()})

    @app.after_request
    def _add_rows(response: Response) -> Response:
        # The page fills extended tables from the stats it polls, under "extended_stats".
        if not request.path.endswith("/stats/requests") or not response.is_json:
            return response
        body = response.get_json()
        try:
            data = state.reading().rows(state.levels)
        except Exception:
            # The stats feed the whole page: a fault of this tab must not take them down.
            logger.exception("the Ceiling tab failed")
            data = [{"what": "error", "value": "the Ceiling tab failed: see Locust's log"}]
        rows = {"key": KEY, "data": data}
        # Locust caches this response for 2 s and may hand it out again: rows replaced, not added.
        others = [stats for stats in body.get("extended_stats", []) if stats.get("key") != KEY]
        body["extended_stats"] = [*others, rows]
        response.set_data(app.json.dumps(body))
        return response


events.init.add_listener(_on_init)  # type: ignore[no-untyped-call]
