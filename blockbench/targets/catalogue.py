"""The target catalogue: reads targets.toml beside it, checks it, and derives each capacity.

Capacity (requests a target can have in flight) is computed from the entry's workers, threads
and connections, never written down; with it the Little's-law ceiling is capacity / latency.
"""

from __future__ import annotations

import re
import shlex
import string
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
    PrivateAttr,
    ValidationInfo,
    model_validator,
)

from blockbench import catalogues
from blockbench.apps import upstream_clients
from blockbench.apps.settings import AppSettings, SettingsError

# The one catalogue error, for callers of this module (the scenario catalogue raises it too).
from blockbench.catalogues import CatalogueError as CatalogueError
from blockbench.catalogues import Count, Text

CATALOGUE_PATH = Path(__file__).with_name("targets.toml")
LOOPBACK = "127.0.0.1"

Model = Literal["processes", "threads", "green-threads", "event-loop"]
App = Literal["flask", "starlette", "fastapi", "quart"]
# Every app a target may run, in the order the compose files give their twins ports.
APPS: tuple[App, ...] = get_args(App)
# Each app as its project spells it, for tables, pages and generated files.
APP_TITLES: dict[str, str] = {
    "flask": "Flask",
    "starlette": "Starlette",
    "fastapi": "FastAPI",
    "quart": "Quart",
}
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
PLACEHOLDERS = ("python", "host", "port", "workers", "threads", "connections")
# Set for every target by the catalogue itself, so an entry cannot contradict its own sizes.
RESERVED_ENV = (
    "BLOCKBENCH_TARGET",
    "BLOCKBENCH_MODE",
    "BLOCKBENCH_CORES",
    "CONCURRENCY",
    "CPU_PROCESSES",
)

_NAME = re.compile(r"[a-z0-9][a-z0-9-]*")
_WORKERS_RULE = re.compile(r"(?:(?P<factor>\d+)\s*\*\s*)?cores(?:\s*\+\s*(?P<extra>\d+))?")


@dataclass(frozen=True)
class Cap:
    """One limit on how many requests can be in flight somewhere on a target's path."""

    name: str
    # None: nothing limits it there.
    value: int | None
    per: Literal["target", "worker", "process"]
    # Which limit it is, so the bounds (blockbench.results.bounds) know how a request holds it.
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
    # What profiles and scenarios select it by (blockbench.load.selection), and "twin" for the
    # target a compose twin runs by default; a target's own, never inherited by its variants.
    tags: tuple[str, ...] = ()

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
        env["BLOCKBENCH_CORES"] = str(self.cores)
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
        return style == "async" if style else self.app != "flask"

    @property
    def shares_event_loop(self) -> bool:
        """Whether all its requests' ``async def`` code in a worker runs on one event loop:
        the ASGI apps' async endpoints, on the server's loop or on the one a2wsgi's
        ASGIMiddleware starts per process. (Flask's async views each run on a loop of their own.)"""
        return self.app != "flask" and self.endpoints_async

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
class Migration:
    """A path off one stack onto another, as two targets: the one run today and the one moved
    to (``[migrations.NAME]`` in the catalogue). The report sets each pair side by side."""

    name: str
    # How people say it: "Flask → Quart".
    title: str
    before: str
    after: str
    # What the move asks of the code, in one line.
    changes: str


@dataclass(frozen=True)
class Catalogue:
    targets: tuple[Target, ...]
    source: str
    migrations: tuple[Migration, ...] = ()

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
        targets = tuple(target.with_env(extra) for target in self.targets)
        return replace(self, targets=targets)

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
    return _checked(catalogues.read(path), cores, str(path))


def loads(text: str, *, cores: int, source: str = "<catalogue>") -> Catalogue:
    return _checked(catalogues.parse_toml(text, source), cores, source)


def _checked(data: dict[str, Any], cores: int, source: str) -> Catalogue:
    if cores < 1:
        raise CatalogueError(f"cores must be at least 1, got {cores}")
    entries = {"targets": "target", "migrations": "migration"}
    file = catalogues.validate(_File, data, source, entries, {"cores": cores})
    migrations = tuple(entry.migration(name) for name, entry in file.migrations.items())
    return Catalogue(file.built, source, migrations)


def check_settings(target: Target, where: str) -> None:
    """Fail, naming ``where``, if the target's app would refuse its own environment."""
    problem = _settings_problem(target)
    if problem:
        raise CatalogueError(f"{where}: {problem}")


def _settings_problem(target: Target) -> str | None:
    try:
        target.settings()
        target.upstream_client()
    except (SettingsError, upstream_clients.ClientChoiceError) as exc:
        return str(exc)
    return None


def workers_for(rule: str, cores: int) -> int:
    """The workers a rule of the catalogue ("3", "cores", "2*cores+1") gives on ``cores``."""
    if rule.isdigit():
        return int(rule)
    match = _WORKERS_RULE.fullmatch(rule)
    assert match is not None, rule  # _workers_rule let it in
    return int(match["factor"] or 1) * cores + int(match["extra"] or 0)


# -- the file's schema --------------------------------------------------------------------


def _name(value: str) -> str:
    if not _NAME.fullmatch(value):
        raise ValueError("a name is lowercase letters, digits and '-'")
    return value


def _one_line(value: str) -> str:
    if "\n" in value:
        raise ValueError("one line, please: the report prints it so")
    return value


def _workers_rule(value: object) -> object:
    """A count of workers, or a rule of cores, as the rule written without spaces."""
    # bool is an int in Python; `workers = true` is a mistake, not 1.
    if type(value) is int:
        if value < 1:
            raise ValueError(f"at least 1, got {value}")
        return str(value)
    if isinstance(value, str) and _WORKERS_RULE.fullmatch(value.strip()):
        return value.replace(" ", "")
    raise ValueError(
        f"a whole number or a rule of cores such as 'cores' or '2*cores+1', got {value!r}"
    )


def _fields(template: str) -> list[str]:
    try:
        return [field for _, field, _, _ in string.Formatter().parse(template) if field]
    except ValueError as exc:
        raise ValueError(f"{exc} (write {{{{ for a literal brace)") from None


def _template(value: str) -> str:
    """A command or env value: only the known placeholders, in valid format syntax."""
    for field in _fields(value):
        if field not in PLACEHOLDERS:
            known = ", ".join(f"{{{name}}}" for name in PLACEHOLDERS)
            raise ValueError(f"unknown placeholder {{{field}}}; known: {known}")
    return value


def _command(value: str) -> str:
    try:
        words = shlex.split(value)
    except ValueError as exc:
        raise ValueError(f"{exc}; quote as a POSIX shell would") from None
    if not words:
        raise ValueError("empty")
    return _template(value)


def _env(value: dict[str, str]) -> dict[str, str]:
    for key, item in value.items():
        if key in RESERVED_ENV:
            raise catalogues.Invalid(
                "set by the catalogue itself (from model, workers, threads, connections); "
                "change those instead",
                key,
            )
        try:
            _template(item)
        except ValueError as exc:
            raise catalogues.Invalid(str(exc), key) from None
    return value


Name = Annotated[str, AfterValidator(_name)]


def _cores(info: ValidationInfo) -> int:
    """The size of the CPU set the file is read for, which load passes as context."""
    cores: int = (info.context or {})["cores"]
    return cores


class _Entry(BaseModel):
    """One ``[targets.NAME]`` table, as written (a variant's completed from its base's)."""

    model_config = catalogues.ENTRY

    app: App
    model: Model
    server: Text
    # The rule as written ("2*cores+1"); workers_for gives the count.
    workers: Annotated[str, BeforeValidator(_workers_rule)]
    threads: Count | None = None
    connections: Count | None = None
    bounded_by: Text | None = None
    command: Annotated[Text, AfterValidator(_command)]
    env: Annotated[dict[str, str], AfterValidator(_env)] = {}
    explanation: Annotated[Text, AfterValidator(_one_line)]
    variant_of: Name | None = None
    # What profiles and scenarios select it by; a target's own, never its base's.
    tags: list[Name] = []

    @model_validator(mode="after")
    def _sizes_fit_the_model(self, info: ValidationInfo) -> _Entry:
        threads, connections, model = self.threads, self.connections, self.model
        if model == "processes" and (threads or connections):
            raise catalogues.Invalid(
                "model 'processes' serves one request per worker; use model 'threads' or "
                "'green-threads' for more",
                "threads" if threads else "connections",
            )
        if model == "threads" and (threads is None or connections is not None):
            raise ValueError("model 'threads' needs 'threads' (per worker) and no 'connections'")
        if model == "green-threads" and (connections is None or threads is not None):
            raise ValueError(
                "model 'green-threads' needs 'connections' (per worker) and no 'threads'"
            )
        if model == "event-loop" and threads is not None:
            raise catalogues.Invalid(
                "an event loop has no threads; use model 'threads' for an event loop in front "
                "of a thread pool",
                "threads",
            )
        if (threads or connections) and self.bounded_by is None:
            raise catalogues.Invalid(
                f"missing, saying what holds a worker to its "
                f"{'threads' if threads else 'connections'} (it is recorded with every run)",
                "bounded_by",
            )
        templates = [("command",), *(("env", key) for key in self.env)]
        for at, template in zip(templates, [self.command, *self.env.values()], strict=True):
            for size in ("threads", "connections"):
                if size in _fields(template) and getattr(self, size) is None:
                    raise catalogues.Invalid(f"uses {{{size}}} but the entry sets no {size}", *at)
        workers = workers_for(self.workers, _cores(info))
        if workers < 1:
            raise catalogues.Invalid(f"{self.workers!r} gives {workers} workers", "workers")
        return self

    def target(self, name: str, cores: int) -> Target:
        return Target(
            name=name,
            app=self.app,
            model=self.model,
            server=self.server,
            workers=workers_for(self.workers, cores),
            workers_rule=self.workers,
            threads=self.threads,
            connections=self.connections,
            bounded_by=self.bounded_by,
            command_template=self.command,
            env_template=tuple(self.env.items()),
            explanation=self.explanation,
            cores=cores,
            variant_of=self.variant_of,
            tags=tuple(dict.fromkeys(self.tags)),
        )


class _MigrationEntry(BaseModel):
    """One ``[migrations.NAME]`` table: ``from`` and ``to`` name targets of the file."""

    model_config = catalogues.ENTRY

    title: Annotated[Text, AfterValidator(_one_line)]
    before: Name = Field(alias="from")
    after: Name = Field(alias="to")
    changes: Annotated[Text, AfterValidator(_one_line)]

    def migration(self, name: str) -> Migration:
        return Migration(name, self.title, self.before, self.after, self.changes)


class _File(BaseModel):
    model_config = catalogues.ENTRY

    targets: Annotated[dict[Name, _Entry], Field(min_length=1)]
    migrations: dict[Name, _MigrationEntry] = {}
    # The targets as the last validator built them to check their apps' environments, kept so
    # that loading builds each target once.
    _built: tuple[Target, ...] = PrivateAttr(default=())

    @model_validator(mode="before")
    @classmethod
    def _complete_variants(cls, data: object) -> object:
        """A variant's entry completed from its base target's: its own keys win, env merges,
        and tags are not inherited (they choose targets for profiles: a variant by its own)."""
        if not isinstance(data, dict) or not isinstance(data.get("targets"), dict):
            return data
        entries: dict[str, Any] = data["targets"]
        completed = dict(entries)
        for name, entry in entries.items():
            if not isinstance(entry, dict) or "variant_of" not in entry:
                continue
            base = entry["variant_of"]
            base_entry = entries.get(base) if isinstance(base, str) and base != name else None
            if not isinstance(base_entry, dict):
                raise catalogues.Invalid(
                    f"{base!r} must name another target of the catalogue",
                    "targets", name, "variant_of",
                )  # fmt: skip
            if "variant_of" in base_entry:
                raise catalogues.Invalid(
                    f"{base!r} is a variant itself; name its base target",
                    "targets", name, "variant_of",
                )  # fmt: skip
            inherited = {key: value for key, value in base_entry.items() if key != "tags"}
            completed[name] = {**inherited, **entry}
            if isinstance(base_entry.get("env"), dict) and isinstance(entry.get("env"), dict):
                completed[name]["env"] = {**base_entry["env"], **entry["env"]}
        return {**data, "targets": completed}

    @model_validator(mode="after")
    def _apps_accept_their_environment(self, info: ValidationInfo) -> _File:
        self._built = tuple(
            entry.target(name, _cores(info)) for name, entry in self.targets.items()
        )
        for target in self._built:
            problem = _settings_problem(target)
            if problem:
                raise catalogues.Invalid(problem, "targets", target.name, "env")
        return self

    @model_validator(mode="after")
    def _migrations_name_two_targets(self) -> _File:
        for name, entry in self.migrations.items():
            for key, target in (("from", entry.before), ("to", entry.after)):
                if target not in self.targets:
                    raise catalogues.Invalid(
                        f"{target!r} is no target of the catalogue", "migrations", name, key
                    )
            if entry.before == entry.after:
                raise catalogues.Invalid(
                    "names the same target as 'from'; a path leads somewhere else",
                    "migrations", name, "to",
                )  # fmt: skip
        return self

    @property
    def built(self) -> tuple[Target, ...]:
        return self._built
