"""The target catalogue: the shipped file, derived capacity and commands, and clear errors."""

from __future__ import annotations

import importlib
import json
import re
import sys

import pytest

from blockbench import results
from blockbench.apps.settings import FANOUT_POOL_FACTOR
from blockbench.results import bounds
from blockbench.targets import catalogue
from blockbench.targets.catalogue import CatalogueError, Target

REQUIRED = (
    "flask-sync",
    "flask-gthread",
    "flask-gevent",
    "flask-a2wsgi",
    "flask-async-views",
    "starlette-uvicorn",
    "starlette-threadpool",
    "starlette-gunicorn",
    "starlette-gunicorn-asgi",
    "starlette-a2wsgi",
    # The servers and frameworks users pick instead (issue 13).
    "flask-granian",
    "starlette-granian",
    "starlette-hypercorn",
    "fastapi-uvicorn",
    "fastapi-threadpool",
    "quart-hypercorn",
)
# module.path:attribute, optionally called: how gunicorn and uvicorn name an app factory.
_APP_SPEC = re.compile(r"(?P<module>[A-Za-z_][\w.]*):(?P<attribute>[A-Za-z_]\w*)(?:\(\))?")


def entry(**keys: object) -> str:
    """One catalogue entry named "t" as TOML: a valid processes target, changed by ``keys``
    (None removes a key)."""
    fields: dict[str, object] = {
        "app": "flask",
        "model": "processes",
        "server": "gunicorn sync",
        "workers": 2,
        "command": "{python} -m gunicorn --workers {workers} --bind {host}:{port} app:make()",
        "explanation": "A test target.",
        **keys,
    }
    lines = ["[targets.t]"]
    for key, value in fields.items():
        if isinstance(value, dict):
            pairs = ", ".join(f"{name} = {json.dumps(item)}" for name, item in value.items())
            lines.append(f"{key} = {{ {pairs} }}")
        elif value is not None:
            # A JSON string, number or boolean is written the same way in TOML.
            lines.append(f"{key} = {json.dumps(value)}")
    return "\n".join(lines)


def one(cores: int = 1, /, **keys: object) -> Target:
    return catalogue.loads(entry(**keys), cores=cores).get("t")


@pytest.mark.parametrize("cores", [1, 2, 8])
def test_the_shipped_catalogue_loads_with_every_required_target(cores: int) -> None:
    shipped = catalogue.load(cores=cores)
    assert set(REQUIRED) <= set(shipped.names())
    for target in shipped.targets:
        assert target.explanation and "\n" not in target.explanation
        assert target.cores == cores


def test_loading_builds_each_target_once(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[str] = []
    build_one = catalogue._Entry.target

    def counted(self: catalogue._Entry, name: str, cores: int) -> Target:
        built.append(name)
        return build_one(self, name, cores)

    monkeypatch.setattr(catalogue._Entry, "target", counted)
    shipped = catalogue.load(cores=2)
    assert sorted(built) == sorted(shipped.names())


def test_shipped_capacities_follow_the_rules_of_each_model() -> None:
    for cores in (1, 2, 4):
        shipped = catalogue.load(cores=cores)
        assert shipped.get("flask-sync").capacity == 2 * cores + 1
        assert shipped.get("flask-async-views").capacity == 2 * cores + 1
        gthread = shipped.get("flask-gthread")
        assert gthread.capacity == gthread.workers * (gthread.threads or 0) > 0
        gevent = shipped.get("flask-gevent")
        assert gevent.capacity == gevent.workers * (gevent.connections or 0) > 0
        assert shipped.get("flask-a2wsgi").capacity == cores * 10  # a2wsgi's default, explicit
        assert shipped.get("starlette-threadpool").capacity == cores * 40  # anyio's default
        for name in ("starlette-uvicorn", "starlette-gunicorn", "starlette-gunicorn-asgi"):
            assert shipped.get(name).capacity is None
            assert shipped.get(name).workers == cores


def test_every_command_names_an_app_factory_that_exists() -> None:
    for target in catalogue.load(cores=1).targets:
        specs = [m for arg in target.command(8000) if (m := _APP_SPEC.fullmatch(arg))]
        assert len(specs) == 1, target.name
        module = importlib.import_module(specs[0]["module"])
        assert callable(getattr(module, specs[0]["attribute"])), target.name


def test_every_command_stays_on_loopback_and_its_port() -> None:
    for target in catalogue.load(cores=1).targets:
        command = " ".join(target.command(8123))
        assert "127.0.0.1" in command and "8123" in command, target.name
        assert "0.0.0.0" not in command
        if "gunicorn" in command:
            assert "--no-control-socket" in command, target.name


def test_the_app_is_told_its_sizes_through_its_environment() -> None:
    shipped = catalogue.load(cores=2)
    threadpool = shipped.get("starlette-threadpool").settings()
    assert threadpool.endpoint_style == "def"
    assert threadpool.thread_tokens == 40
    assert threadpool.concurrency == 40
    assert threadpool.target == "starlette-threadpool"
    assert threadpool.mode == "threads"
    assert threadpool.cpu_processes == 2
    assert shipped.get("flask-a2wsgi").settings().a2wsgi_threads == 10
    assert shipped.get("flask-async-views").settings().endpoint_style == "async"
    assert shipped.get("flask-sync").settings().concurrency == 1
    # No capacity of its own: the app keeps its default pool sizes.
    assert "CONCURRENCY" not in shipped.get("starlette-uvicorn").env()


def test_workers_rules() -> None:
    assert one(3, workers="2*cores+1").workers == 7
    assert one(3, workers="cores").workers == 3
    assert one(3, workers="4 * cores").workers == 12
    assert one(3, workers="cores + 2").workers == 5
    assert one(3, workers=5).workers == 5
    assert one(3, workers="2*cores+1").workers_rule == "2*cores+1"


@pytest.mark.parametrize(
    ("keys", "per_worker"),
    [
        ({}, 1),
        ({"model": "threads", "threads": 8, "bounded_by": "gunicorn --threads"}, 8),
        ({"model": "green-threads", "connections": 50, "bounded_by": "pool"}, 50),
        ({"model": "event-loop"}, None),
        ({"model": "event-loop", "connections": 64, "bounded_by": "--limit-concurrency"}, 64),
    ],
)
def test_capacity_is_derived_from_the_model_and_sizes(
    keys: dict[str, object], per_worker: int | None
) -> None:
    target = one(1, **keys)
    assert target.per_worker == per_worker
    assert target.capacity == (None if per_worker is None else 2 * per_worker)


def _bound(target: catalogue.Target, users: int) -> tuple[str, float]:
    caps = [
        results.Cap(name=c.name, value=c.value, where=c.per, kind=c.kind) for c in target.caps()
    ]
    setting = bounds.Setting(caps, cores=1, model=target.model, generator_rps=None,
                             upstream_calls_rps=None)  # fmt: skip
    found = bounds.level_bounds(
        bounds.RequestPath(wait_s=0.5), bounds.Measured(users, None), setting
    )
    tightest = bounds.binding(found)
    assert tightest is not None
    return tightest.name, tightest.rps


def test_a_targets_caps_bound_it_at_its_capacity_over_latency() -> None:
    threads = one(model="threads", threads=5, bounded_by="x")  # capacity 10
    assert threads.capacity == 10
    assert _bound(threads, 4) == ("users", 8)
    assert _bound(threads, 100) == ("x", 20)
    # No capacity of its own: every user can be in flight.
    assert _bound(one(model="event-loop"), 100) == ("users", 200)


def test_command_and_env_are_filled_in() -> None:
    target = one(
        model="threads",
        threads=6,
        bounded_by="x",
        command="{python} -m srv --threads {threads} --bind {host}:{port} 'a b'",
        env={"POOL": "{threads}", "OTHER": "plain"},
    )
    assert target.command(9000) == [
        sys.executable,
        "-m",
        "srv",
        "--threads",
        "6",
        "--bind",
        "127.0.0.1:9000",
        "a b",
    ]
    assert target.env() == {
        "POOL": "6",
        "OTHER": "plain",
        "BLOCKBENCH_TARGET": "t",
        "BLOCKBENCH_MODE": "threads",
        "BLOCKBENCH_CORES": "1",
        "CPU_PROCESSES": "1",
        "CONCURRENCY": "6",
    }


def test_caps_list_every_limit_on_the_path() -> None:
    target = one(model="threads", threads=6, bounded_by="anyio thread tokens")
    caps = {cap.name: (cap.value, cap.per) for cap in target.caps()}
    assert caps == {
        "server workers": (2, "target"),
        "anyio thread tokens": (6, "worker"),
        "upstream HTTP pool (urllib3)": (6 * FANOUT_POOL_FACTOR, "process"),
        "fan-out thread pool": (6 * FANOUT_POOL_FACTOR, "process"),
        "database pool": (6, "process"),
        "CPU process pool": (1, "process"),
    }
    loop = one(model="event-loop", app="starlette")
    unbounded = {cap.name: cap.value for cap in loop.caps()}
    assert unbounded["event loop, no connection limit"] is None
    # An event loop fans out with tasks: no pool of its own, only the HTTP pool.
    assert not any(name.startswith("fan-out") for name in unbounded)
    assert "upstream HTTP pool (aiohttp)" in unbounded
    gevent = {cap.name for cap in one(model="green-threads", connections=50, bounded_by="x").caps()}
    assert {"upstream HTTP pool (geventhttpclient)", "fan-out greenlet pool"} <= gevent


@pytest.mark.parametrize(
    ("name", "shares"),
    [
        ("starlette-uvicorn", True),
        ("starlette-gunicorn-asgi", True),
        # Threads, but each waits on the one loop a2wsgi's ASGIMiddleware runs per process.
        ("starlette-a2wsgi", True),
        # def endpoints on anyio's threads; Flask's async views each run on a loop of their own.
        ("starlette-threadpool", False),
        ("flask-async-views", False),
        ("flask-a2wsgi", False),
        ("flask-gthread", False),
    ],
)
def test_targets_whose_async_code_shares_a_loop_per_worker_have_that_cap(
    name: str, shares: bool
) -> None:
    target = catalogue.load(cores=2).get(name)
    loops = [cap for cap in target.caps() if cap.kind == "event_loop"]
    assert [(cap.value, cap.per) for cap in loops] == ([(1, "worker")] if shares else [])


@pytest.mark.parametrize(
    ("name", "client"),
    [
        ("starlette-uvicorn", "aiohttp"),
        ("starlette-a2wsgi", "aiohttp"),
        ("flask-async-views", "aiohttp"),
        ("flask-gthread", "urllib3"),
        ("starlette-threadpool", "urllib3"),
        ("flask-gevent", "geventhttpclient"),
        ("starlette-uvicorn-httpx", "httpx"),
        ("flask-gevent-httpx", "httpx"),
    ],
)
def test_each_target_calls_the_upstream_with_its_models_client(name: str, client: str) -> None:
    assert catalogue.load(cores=1).get(name).upstream_client().name == client


def test_a_variant_is_its_base_with_more_environment_and_not_in_the_matrix() -> None:
    shipped = catalogue.load(cores=2)
    base, variant = shipped.get("flask-gevent"), shipped.get("flask-gevent-httpx")
    assert variant.variant_of == "flask-gevent"
    assert variant.command(8000) == base.command(8000)
    assert variant.capacity == base.capacity
    assert variant.env()["UPSTREAM_CLIENT"] == "httpx"
    assert "UPSTREAM_CLIENT" not in base.env()
    assert "flask-gevent-httpx" in shipped.names()
    assert "flask-gevent-httpx" not in shipped.matrix_names()
    assert "flask-gevent" in shipped.matrix_names()


def test_tags_are_a_targets_own_and_a_variant_has_only_its_own() -> None:
    assert one(tags=["quick", "tiny", "quick"]).tags == ("quick", "tiny")
    assert one().tags == ()
    text = entry(tags=["quick", "twin"]) + '\n[targets.v]\nvariant_of = "t"\nexplanation = "x"\n'
    assert catalogue.loads(text, cores=1).get("v").tags == ()
    tagged = text + 'tags = ["pair"]\n'
    assert catalogue.loads(tagged, cores=1).get("v").tags == ("pair",)


@pytest.mark.parametrize(
    ("variants", "message"),
    [
        ({"v": "nope"}, "target 'v': variant_of: 'nope' must name another target"),
        ({"v": "v"}, "target 'v': variant_of: 'v' must name another target"),
        ({"v": "t", "w": "v"}, "target 'w': variant_of: 'v' is a variant itself"),
    ],
)
def test_a_variant_must_name_a_real_base(variants: dict[str, str], message: str) -> None:
    text = entry() + "".join(
        f'\n[targets.{name}]\nvariant_of = "{base}"\nexplanation = "x"\n'
        for name, base in variants.items()
    )
    with pytest.raises(CatalogueError, match=message):
        catalogue.loads(text, cores=1)


def test_a_variant_keeps_its_own_keys_and_merges_env() -> None:
    text = entry(env={"A": "base", "B": "base"}) + (
        '\n[targets.v]\nvariant_of = "t"\nexplanation = "the variant"\nenv = { B = "own" }\n'
    )
    variant = catalogue.loads(text, cores=1).get("v")
    assert variant.explanation == "the variant"
    assert dict(variant.env_template) == {"A": "base", "B": "own"}
    assert variant.command(8000) == catalogue.loads(text, cores=1).get("t").command(8000)


def test_a_client_that_cannot_run_where_the_endpoints_run_is_refused() -> None:
    with pytest.raises(CatalogueError, match="geventhttpclient.*OS threads.*urllib3"):
        one(model="threads", threads=4, bounded_by="x", env={"UPSTREAM_CLIENT": "geventhttpclient"})
    with pytest.raises(CatalogueError, match="UPSTREAM_CLIENT must be one of"):
        one(env={"UPSTREAM_CLIENT": "curl-cffi"})


def test_app_env_overrides_every_target_and_is_checked_where_used() -> None:
    shipped = catalogue.load(cores=1).with_env({"UPSTREAM_CLIENT": "httpx"})
    assert shipped.get("starlette-uvicorn").upstream_client().family == "async"
    assert shipped.get("flask-gthread").upstream_client().family == "blocking"
    pycurl = catalogue.load(cores=1).with_env({"UPSTREAM_CLIENT": "pycurl"})
    assert pycurl.get("flask-gthread").upstream_client().name == "pycurl"
    with pytest.raises(CatalogueError, match="--app-env for flask-gevent"):
        catalogue.check_settings(pycurl.get("flask-gevent"), "--app-env for flask-gevent")
    with pytest.raises(CatalogueError, match="cannot set CONCURRENCY"):
        catalogue.load(cores=1).with_env({"CONCURRENCY": "5"})


# Every rule of an entry, each with an entry that breaks it: (keys changed, what the error says
# after "<catalogue>: target 't': ").
BAD_ENTRIES: list[tuple[dict[str, object], str]] = [
    ({"app": None}, "app: missing"),
    ({"colour": "red"}, "colour: unknown key; the keys: app, model, server, workers, "),
    ({"model": "fibers"}, "model: input should be 'processes', 'threads', 'green-threads' or"),
    (
        {"app": "django"},
        "app: input should be 'flask', 'starlette', 'fastapi' or 'quart', got 'django'",
    ),
    ({"server": " "}, "server: string should have at least 1 character"),
    ({"threads": 4, "bounded_by": "x"}, "threads: model 'processes' serves one request"),
    ({"connections": 4, "bounded_by": "x"}, "connections: model 'processes' serves one request"),
    ({"model": "threads"}, "model 'threads' needs 'threads' (per worker) and no 'connections'"),
    (
        {"model": "threads", "threads": 4, "connections": 2, "bounded_by": "x"},
        "model 'threads' needs 'threads' (per worker) and no 'connections'",
    ),
    ({"model": "green-threads"}, "model 'green-threads' needs 'connections' (per worker)"),
    (
        {"model": "green-threads", "connections": 4, "threads": 2, "bounded_by": "x"},
        "model 'green-threads' needs 'connections' (per worker) and no 'threads'",
    ),
    ({"model": "event-loop", "threads": 2}, "threads: an event loop has no threads"),
    ({"model": "threads", "threads": 4}, "bounded_by: missing, saying what holds a worker"),
    ({"model": "threads", "threads": 4, "bounded_by": ""}, "bounded_by: string should have"),
    ({"model": "threads", "threads": 0, "bounded_by": "x"}, "threads: input should be greater"),
    # bool is an int in Python; `threads = true` is a mistake, not 1.
    ({"model": "threads", "threads": True, "bounded_by": "x"}, "threads: input should be a valid"),
    ({"model": "green-threads", "connections": 2.0, "bounded_by": "x"}, "connections: input sho"),
    ({"workers": "cores*2"}, "workers: a whole number or a rule of cores such as 'cores' or"),
    ({"workers": 0}, "workers: at least 1, got 0"),
    ({"workers": True}, "workers: a whole number or a rule of cores"),
    ({"workers": "0*cores"}, "workers: '0*cores' gives 0 workers"),
    ({"command": "srv --port {prot}"}, "command: unknown placeholder {prot}; known: {python}"),
    ({"command": "srv --threads {threads}"}, "command: uses {threads} but the entry sets no"),
    ({"command": "srv 'unclosed"}, "command: No closing quotation; quote as a POSIX shell would"),
    ({"command": "srv {"}, "command: Single '{' encountered in format string (write {{ for"),
    ({"command": "   "}, "command: string should have at least 1 character"),
    ({"env": {"CONCURRENCY": "5"}}, "env.CONCURRENCY: set by the catalogue itself"),
    ({"env": {"THREAD_TOKENS": "many"}}, "env: THREAD_TOKENS must be a whole number"),
    ({"env": {"X": 5}}, "env.X: input should be a valid string, got 5"),
    ({"env": {"X": "{prot}"}}, "env.X: unknown placeholder {prot}"),
    ({"env": {"X": "{connections}"}}, "env.X: uses {connections} but the entry sets no"),
    ({"env": "X=1"}, "env: expected a table, got 'X=1'"),
    ({"explanation": ""}, "explanation: string should have at least 1 character"),
    ({"explanation": "two\nlines"}, "explanation: one line, please: the report prints it so"),
    ({"tags": "quick"}, "tags: input should be a valid list, got 'quick'"),
    ({"tags": ["quick", 1]}, "tags[1]: input should be a valid string, got 1"),
    ({"tags": ["Quick"]}, "tags[0]: a name is lowercase letters, digits and '-'"),
]


@pytest.mark.parametrize(("keys", "message"), BAD_ENTRIES, ids=[m for _, m in BAD_ENTRIES])
def test_bad_entries_name_the_file_the_entry_and_key(keys: dict[str, object], message: str) -> None:
    with pytest.raises(CatalogueError) as info:
        one(**keys)
    assert str(info.value).startswith(f"<catalogue>: target 't': {message}")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[targets.t", "<catalogue>: not valid TOML: "),
        ("", "<catalogue>: targets: missing"),
        ("[targets]", "<catalogue>: targets: dictionary should have at least 1 item"),
        ("targets = 3", "<catalogue>: targets: expected a table, got 3"),
        ("[targets]\nt = 3", "<catalogue>: target 't': expected a table, got 3"),
        ("[target.t]\napp = 'flask'", "<catalogue>: target: unknown key; the keys: targets"),
        (
            entry().replace("targets.t", "targets.Flask_Sync"),
            "<catalogue>: target 'Flask_Sync': a name is lowercase letters, digits and '-'",
        ),
    ],
)
def test_bad_files_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(CatalogueError) as info:
        catalogue.loads(text, cores=1)
    assert str(info.value).startswith(message)


def test_a_file_that_cannot_be_read_or_a_cpu_set_of_none_is_refused() -> None:
    missing = catalogue.CATALOGUE_PATH.with_name("missing.toml")
    with pytest.raises(CatalogueError, match=f"^{missing}: cannot read the catalogue"):
        catalogue.load(missing, cores=1)
    with pytest.raises(CatalogueError, match="cores must be at least 1, got 0"):
        catalogue.loads(entry(), cores=0)


def test_names_are_looked_up_with_helpful_errors() -> None:
    shipped = catalogue.load(cores=1)
    with pytest.raises(CatalogueError, match="unknown target 'flask'; .* has: flask-sync, "):
        shipped.get("flask")
    with pytest.raises(CatalogueError, match="unknown targets a, b;"):
        shipped.select(["a", "flask-sync", "b"])
    chosen = shipped.select(["starlette-uvicorn", "flask-sync", "starlette-uvicorn"])
    assert [target.name for target in chosen] == ["starlette-uvicorn", "flask-sync"]
    assert shipped.index("flask-sync") == 0
