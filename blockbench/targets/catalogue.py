"""The target catalogue: reads targets.toml beside it, checks it, and derives each capacity.

Capacity (requests a target can have in flight) is computed from the entry's workers, threads
and connections, never written down; with it the Little's-law ceiling is capacity / latency.
"""

from __future__ import annotations

import re
import shlex
import string
import sys
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal, cast

from blockbench.apps import upstream_clients
from blockbench.apps.settings import AppSettings, SettingsError
from blockbench.errors import BlockbenchError

CATALOGUE_PATH = Path(__file__).with_name("targets.toml")
LOOPBACK = "127.0.0.1"

Model = Literal["processes", "threads", "green-threads", "event-loop"]
# Which limit a cap is, so the bounds know how a request holds it (results.Cap records it).
CapKind = Literal[
    "workers",
    "model",
    "event_loop",
    "http_pool",
    "fanout_pool",
    "db_pool",
    "process_pool",
    "max_connections",
]
MODELS: tuple[Model, ...] = ("processes", "threads", "green-threads", "event-loop")
APPS = ("flask", "starlette")
PLACEHOLDERS = ("python", "host", "port", "workers", "threads", "connections")
# Set for every target by the catalogue itself, so an entry cannot contradict its own sizes.
RESERVED_ENV = ("BLOCKBENCH_TARGET", "BLOCKBENCH_MODE", "CONCURRENCY", "CPU_PROCESSES")

_REQUIRED = ("app", "model", "server", "workers", "command", "explanation")
_OPTIONAL = ("threads", "connections", "bounded_by", "env", "variant_of")
_NAME = re.compile(r"[a-z0-9][a-z0-9-]*")
_WORKERS_RULE = re.compile(r"(?:(?P<factor>\d+)\s*\*\s*)?cores(?:\s*\+\s*(?P<extra>\d+))?")


class CatalogueError(BlockbenchError):
    """The catalogue file, or a name asked of it, is wrong; the message names entry and key."""


@dataclass(frozen=True)
class Cap:
    """One limit on how many requests can be in flight somewhere on a target's path."""

    name: str
    # None: nothing limits it there.
    value: int | None
    per: Literal["target", "worker", "process"]
    # Which limit it is, so the bounds (blockbench.engine.bounds) know how a request holds it.
    kind: CapKind


@dataclass(frozen=True)
class Target:
    name: str
    app: str
    model: Model
    server: str
    workers: int
    # The rule as written in the catalogue ("2*cores+1"), for tables and reports.
    workers_rule: str
    threads: int | None
    connections: int | None
    bounded_by: str | None
    command_template: str
    env_template: tuple[tuple[str, str], ...]
    explanation: str
    # The size of the CPU set the target is pinned to, which `workers` was computed from.
    cores: int
    # A variant is another target with more environment (e.g. a slower HTTP client); profiles
    # that take "all" targets leave variants out, so the matrix keeps one entry per server.
    variant_of: str | None = None

    @property
    def per_worker(self) -> int | None:
        """Requests one worker process can have in flight; None when nothing bounds it."""
        if self.model == "processes":
            return 1
        if self.model == "threads":
            return self.threads
        return self.connections

    @property
    def capacity(self) -> int | None:
        """Requests the whole target can have in flight; None (unbounded) for a bare event loop."""
        per_worker = self.per_worker
        return None if per_worker is None else self.workers * per_worker

    def _values(self, port: int, host: str) -> dict[str, object]:
        return {
            "python": sys.executable,
            "host": host,
            "port": port,
            "workers": self.workers,
            "threads": self.threads,
            "connections": self.connections,
        }

    def command(self, port: int, host: str = LOOPBACK) -> list[str]:
        """The exact server command for this target on ``host:port``."""
        values = self._values(port, host)
        return [arg.format(**values) for arg in shlex.split(self.command_template)]

    def env(self, port: int = 0, host: str = LOOPBACK) -> dict[str, str]:
        """The app's environment: the entry's own, then the sizes the catalogue derived."""
        values = self._values(port, host)
        env = {key: value.format(**values) for key, value in self.env_template}
        env["BLOCKBENCH_TARGET"] = self.name
        env["BLOCKBENCH_MODE"] = self.model
        env["CPU_PROCESSES"] = str(self.cores)
        if self.per_worker is not None:
            env["CONCURRENCY"] = str(self.per_worker)
        return env

    def settings(self) -> AppSettings:
        """The app settings each of the target's processes will run with."""
        return AppSettings.from_env(self.env())

    @property
    def endpoints_async(self) -> bool:
        """Whether its endpoints are ``async def`` (the app's own default, or ENDPOINT_STYLE)."""
        style = self.settings().endpoint_style
        return style == "async" if style else self.app == "starlette"

    @property
    def shares_event_loop(self) -> bool:
        """Whether all its requests' ``async def`` code in a worker runs on one event loop:
        Starlette's async endpoints, on uvicorn's loop or on the one a2wsgi's ASGIMiddleware
        starts per process. (Flask's async views each run on a loop of their own.)"""
        return self.app == "starlette" and self.endpoints_async

    @property
    def upstream_context(self) -> upstream_clients.Context:
        if self.endpoints_async:
            return "async"
        return "gevent" if self.model == "green-threads" else "threads"

    def upstream_client(self) -> upstream_clients.ClientKind:
        """The HTTP client its endpoints call the upstream with (UPSTREAM_CLIENT or default)."""
        return upstream_clients.choose(self.settings().upstream_client, self.upstream_context)

    def with_env(self, extra: Mapping[str, str]) -> Target:
        """The same target with more (or overriding) app environment."""
        env = dict(self.env_template) | dict(extra)
        return replace(self, env_template=tuple(env.items()))

    def caps(self) -> tuple[Cap, ...]:
        """Every limit on in-flight requests along the target's path, as the run records them."""
        caps = [Cap("server workers", self.workers, "target", "workers")]
        if self.model == "processes":
            caps.append(Cap("one request per worker process", 1, "worker", "model"))
        else:
            label = self.bounded_by or "event loop, no connection limit"
            caps.append(Cap(label, self.per_worker, "worker", "model"))
        if self.shares_event_loop:
            # A call that does not yield holds every request of the worker behind it.
            caps.append(Cap("event loop of the async endpoints", 1, "worker", "event_loop"))
        settings = self.settings()
        client = self.upstream_client().name
        http_pool = settings.upstream_pool_size
        caps.append(Cap(f"upstream HTTP pool ({client})", http_pool, "process", "http_pool"))
        if not self.endpoints_async:
            # Parallel fan-out calls run on a pool of their own (an event loop needs none).
            pool = "greenlet" if self.upstream_context == "gevent" else "thread"
            caps.append(
                Cap(f"fan-out {pool} pool", settings.fanout_pool_size, "process", "fanout_pool")
            )
        caps += [
            Cap("database pool", settings.db_pool_size, "process", "db_pool"),
            Cap("CPU process pool", settings.cpu_processes, "process", "process_pool"),
        ]
        return tuple(caps)


@dataclass(frozen=True)
class Catalogue:
    targets: tuple[Target, ...]
    source: str

    def names(self) -> tuple[str, ...]:
        return tuple(target.name for target in self.targets)

    def matrix_names(self) -> tuple[str, ...]:
        """The targets a profile's "all" means: every one but the variants."""
        return tuple(target.name for target in self.targets if target.variant_of is None)

    def with_env(self, extra: Mapping[str, str]) -> Catalogue:
        """Every target with ``extra`` in its app environment (``blockbench run --app-env``)."""
        if not extra:
            return self
        reserved = [key for key in extra if key in RESERVED_ENV]
        if reserved:
            raise CatalogueError(
                f"--app-env cannot set {reserved[0]}: the catalogue derives it for each target"
            )
        # Checked when a run picks its targets (check_settings): a client may suit some only.
        return Catalogue(tuple(target.with_env(extra) for target in self.targets), self.source)

    def get(self, name: str) -> Target:
        for target in self.targets:
            if target.name == name:
                return target
        raise CatalogueError(
            f"unknown target {name!r}; {self.source} has: {', '.join(self.names())}"
        )

    def select(self, names: Sequence[str]) -> tuple[Target, ...]:
        """The named targets in the order given, each once; every unknown name is reported."""
        unknown = [name for name in names if name not in self.names()]
        if unknown:
            raise CatalogueError(
                f"unknown target{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
                f"{self.source} has: {', '.join(self.names())}"
            )
        return tuple(self.get(name) for name in dict.fromkeys(names))

    def index(self, name: str) -> int:
        """Position in the file: gives each target a stable port under ``--base-port``."""
        return self.names().index(name)


def load(path: Path | None = None, *, cores: int) -> Catalogue:
    """Read a catalogue file (by default targets.toml beside this module) for ``cores`` CPUs."""
    path = path or CATALOGUE_PATH
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogueError(f"cannot read the target catalogue {path}: {exc.strerror}") from None
    return loads(text, cores=cores, source=str(path))


def loads(text: str, *, cores: int, source: str = "<catalogue>") -> Catalogue:
    if cores < 1:
        raise CatalogueError(f"cores must be at least 1, got {cores}")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogueError(f"{source} is not valid TOML: {exc}") from None
    extra = sorted(set(data) - {"targets"})
    if extra:
        raise CatalogueError(f"{source}: unknown top-level key {extra[0]!r}; only [targets.*]")
    entries = data.get("targets")
    if not isinstance(entries, dict) or not entries:
        raise CatalogueError(f"{source} defines no targets; add a [targets.NAME] table")
    targets = tuple(
        _target(name, _with_base(name, entry, entries, source), cores, source)
        for name, entry in entries.items()
    )
    return Catalogue(targets, source)


def _with_base(name: str, entry: object, entries: Mapping[str, Any], source: str) -> object:
    """A variant's entry completed from its base target's: its own keys win, env is merged."""
    if not isinstance(entry, dict) or "variant_of" not in entry:
        return entry
    where = f"{source}: targets.{name}.variant_of"
    base = entry["variant_of"]
    if not isinstance(base, str) or base not in entries or base == name:
        raise CatalogueError(f"{where}: {base!r} must name another target of the catalogue")
    base_entry = entries[base]
    if not isinstance(base_entry, dict) or "variant_of" in base_entry:
        raise CatalogueError(f"{where}: {base!r} is a variant itself; name its base target")
    env = {**base_entry.get("env", {}), **entry.get("env", {})}
    return {**base_entry, **entry, "env": env}


def _target(name: str, entry: object, cores: int, source: str) -> Target:
    where = f"{source}: targets.{name}"
    if not _NAME.fullmatch(name):
        raise CatalogueError(f"{where}: a name is lowercase letters, digits and '-'")
    if not isinstance(entry, dict):
        raise CatalogueError(f"{where} must be a table of keys")
    missing = [key for key in _REQUIRED if key not in entry]
    if missing:
        raise CatalogueError(f"{where}: missing key {missing[0]!r}")
    unknown = sorted(set(entry) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        raise CatalogueError(
            f"{where}: unknown key {unknown[0]!r}; known: {', '.join(_REQUIRED + _OPTIONAL)}"
        )
    app = _choice(entry, "app", APPS, where)
    model = cast(Model, _choice(entry, "model", MODELS, where))
    threads = _count(entry, "threads", where)
    connections = _count(entry, "connections", where)
    _check_model(model, threads, connections, entry, where)
    workers, rule = _workers(entry["workers"], cores, where)
    target = Target(
        name=name,
        app=app,
        model=model,
        server=_text(entry, "server", where),
        workers=workers,
        workers_rule=rule,
        threads=threads,
        connections=connections,
        bounded_by=_text(entry, "bounded_by", where) if "bounded_by" in entry else None,
        command_template=_text(entry, "command", where),
        env_template=_env(entry.get("env", {}), where),
        explanation=_text(entry, "explanation", where),
        cores=cores,
        variant_of=_text(entry, "variant_of", where) if "variant_of" in entry else None,
    )
    _check_placeholders(target, where)
    check_settings(target, f"{where}.env")
    return target


def check_settings(target: Target, where: str) -> None:
    """Fail, naming ``where``, if the target's app would refuse its own environment."""
    try:
        target.settings()
        target.upstream_client()
    except (SettingsError, upstream_clients.ClientChoiceError) as exc:
        raise CatalogueError(f"{where}: {exc}") from None


def _text(entry: Mapping[str, Any], key: str, where: str) -> str:
    value = entry[key]
    if not isinstance(value, str) or not value.strip():
        raise CatalogueError(f"{where}.{key} must be a non-empty string")
    if key == "explanation" and "\n" in value.strip():
        raise CatalogueError(f"{where}.explanation must be one line; the report prints it so")
    return value.strip()


def _choice(entry: Mapping[str, Any], key: str, choices: Sequence[str], where: str) -> str:
    value = entry[key]
    if value not in choices:
        raise CatalogueError(f"{where}.{key} must be one of {', '.join(choices)}, got {value!r}")
    return str(value)


def _count(entry: Mapping[str, Any], key: str, where: str) -> int | None:
    if key not in entry:
        return None
    value = entry[key]
    # bool is an int in Python; `threads = true` is a mistake, not 1.
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise CatalogueError(f"{where}.{key} must be a whole number of at least 1, got {value!r}")
    return value


def _check_model(
    model: Model,
    threads: int | None,
    connections: int | None,
    entry: Mapping[str, Any],
    where: str,
) -> None:
    if model == "processes" and (threads or connections):
        key = "threads" if threads else "connections"
        raise CatalogueError(
            f"{where}.{key}: model 'processes' serves one request per worker; use model "
            f"'threads' or 'green-threads' for more"
        )
    if model == "threads" and (threads is None or connections is not None):
        raise CatalogueError(
            f"{where}: model 'threads' needs 'threads' (per worker) and no 'connections'"
        )
    if model == "green-threads" and (connections is None or threads is not None):
        raise CatalogueError(
            f"{where}: model 'green-threads' needs 'connections' (per worker) and no 'threads'"
        )
    if model == "event-loop" and threads is not None:
        raise CatalogueError(
            f"{where}.threads: an event loop has no threads; use model 'threads' for an event "
            f"loop in front of a thread pool"
        )
    if (threads or connections) and "bounded_by" not in entry:
        raise CatalogueError(
            f"{where}: missing key 'bounded_by', saying what holds a worker to its "
            f"{'threads' if threads else 'connections'} (it is recorded with every run)"
        )


def _workers(value: object, cores: int, where: str) -> tuple[int, str]:
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 1:
            raise CatalogueError(f"{where}.workers must be at least 1, got {value}")
        return value, str(value)
    match = _WORKERS_RULE.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise CatalogueError(
            f"{where}.workers must be a whole number or a rule of cores such as 'cores' or "
            f"'2*cores+1', got {value!r}"
        )
    factor, extra = int(match["factor"] or 1), int(match["extra"] or 0)
    workers = factor * cores + extra
    if workers < 1:
        raise CatalogueError(f"{where}.workers {value!r} gives {workers} workers")
    return workers, str(value).replace(" ", "")


def _env(value: object, where: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, dict):
        raise CatalogueError(f'{where}.env must be a table of NAME = "value"')
    pairs: list[tuple[str, str]] = []
    for key, item in value.items():
        if key in RESERVED_ENV:
            raise CatalogueError(
                f"{where}.env.{key} is set by the catalogue itself (from model, workers, threads, "
                f"connections); change those instead"
            )
        if not isinstance(item, str):
            raise CatalogueError(f"{where}.env.{key} must be a string, got {item!r}")
        pairs.append((key, item))
    return tuple(pairs)


def _check_placeholders(target: Target, where: str) -> None:
    templates = [("command", target.command_template)]
    templates += [(f"env.{key}", value) for key, value in target.env_template]
    for key, template in templates:
        try:
            fields = [field for _, field, _, _ in string.Formatter().parse(template) if field]
        except ValueError as exc:
            raise CatalogueError(f"{where}.{key}: {exc} (write {{{{ for a literal brace)") from None
        for field in fields:
            if field not in PLACEHOLDERS:
                raise CatalogueError(
                    f"{where}.{key}: unknown placeholder {{{field}}}; known: "
                    + ", ".join(f"{{{name}}}" for name in PLACEHOLDERS)
                )
            if field in ("threads", "connections") and getattr(target, field) is None:
                raise CatalogueError(
                    f"{where}.{key} uses {{{field}}} but the entry sets no {field}"
                )
    try:
        words = shlex.split(target.command_template)
    except ValueError as exc:
        raise CatalogueError(f"{where}.command: {exc}; quote as a POSIX shell would") from None
    if not words:
        raise CatalogueError(f"{where}.command is empty")
