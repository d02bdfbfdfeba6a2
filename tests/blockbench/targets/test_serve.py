"""``blockbench serve`` and ``blockbench targets`` without starting servers: ports, tables, CLI."""

from __future__ import annotations

import io
import re
import socket
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from blockbench.cli import app
from blockbench.targets import catalogue, database, pinning, serve, supervisor
from blockbench.targets.serve import ServeError

SHIPPED = catalogue.load(cores=1)


def test_base_port_gives_each_target_a_stable_port() -> None:
    base = supervisor.free_port()
    chosen = SHIPPED.select(["starlette-uvicorn", "flask-sync"])
    ports = _plan_or_skip(chosen, base)
    assert ports.upstream == base
    assert ports.targets == {
        "flask-sync": base + 1,
        "starlette-uvicorn": base + 1 + SHIPPED.index("starlette-uvicorn"),
    }


def _busy_after_a_free_port(busy: socket.socket) -> int:
    """Bind ``busy`` to a port whose neighbour below is free (the upstream's, checked first):
    other tests on this machine hold ephemeral ports too, so a random one may be taken."""
    for _ in range(50):
        probe = socket.socket()
        probe.bind((supervisor.LOOPBACK, 0))
        port: int = probe.getsockname()[1]
        probe.close()
        if supervisor.port_is_bound(port - 1):
            continue
        try:
            busy.bind((supervisor.LOOPBACK, port))
        except OSError:
            continue
        return port
    raise AssertionError("found no busy port with a free one below it in 50 tries")


def test_a_busy_port_is_refused_naming_it_and_its_target() -> None:
    with socket.socket() as busy:
        port = _busy_after_a_free_port(busy)
        busy.listen()
        chosen = SHIPPED.select(["flask-sync"])
        with pytest.raises(ServeError, match=rf"port {port} \(for flask-sync\) is already in use"):
            serve.plan_ports(SHIPPED, chosen, port - 1)


def test_a_base_port_out_of_range_is_refused() -> None:
    with pytest.raises(ServeError, match="choose a base port from 1024"):
        serve.plan_ports(SHIPPED, SHIPPED.targets, 65530)


def test_without_a_base_port_every_server_gets_its_own_free_port() -> None:
    ports = serve.plan_ports(SHIPPED, SHIPPED.targets, None)
    every = [ports.upstream, *ports.targets.values()]
    assert len(set(every)) == len(SHIPPED.targets) + 1


def test_the_catalogue_table_shows_every_target_and_capacity() -> None:
    console = Console(record=True, width=200)
    console.print(serve.catalogue_table(SHIPPED, pinning.budget({})))
    text = console.export_text()
    for target in SHIPPED.targets:
        assert target.name in text
    assert "3 × 1 = 3" in text  # flask-sync on one core
    assert "unbounded" in text
    assert pinning.TARGET_CPUS_ENV in text


def test_targets_command_lists_the_catalogue() -> None:
    result = CliRunner().invoke(app, ["targets"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for name in SHIPPED.names():
        assert name in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["serve"], "name the targets to start, or give --all"),
        (["serve", "flask-sync", "--all"], "name the targets to start, or give --all"),
        (["serve", "flask"], "unknown target flask; .* has: flask-sync"),
        (
            ["targets", "--catalogue", "/nonexistent.toml"],
            "/nonexistent.toml: cannot read the catalogue",
        ),
    ],
)
def test_mistakes_are_one_clear_line(args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert _matches(message, result.output)


def _matches(pattern: str, text: str) -> bool:
    """``pattern`` found in ``text`` with its line breaks (rich wraps long lines) undone."""
    return re.search(pattern, " ".join(text.split())) is not None


def _plan_or_skip(targets: tuple[catalogue.Target, ...], base: int) -> serve.Ports:
    try:
        return serve.plan_ports(SHIPPED, targets, base)
    except ServeError as exc:  # another process took a port of the range meanwhile
        pytest.skip(str(exc))


def _never_started(**_: object) -> None:
    raise AssertionError("a private PostgreSQL was started although DATABASE_URL is set")


def test_serve_uses_database_url_when_it_is_set(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@db.example:5432/x")
    monkeypatch.setattr(database, "start", _never_started)
    served = serve.Served(tmp_path, pinning.budget())
    url = serve._database_url(served, SHIPPED.targets, Console(file=io.StringIO()))
    assert url == "postgresql://u:p@db.example:5432/x"
    assert served.database is None


def test_serve_goes_on_without_a_database_that_cannot_start(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def fails(**_: object) -> None:
        raise database.DatabaseError("the embedded PostgreSQL is not installed")

    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setattr(database, "start", fails)
    served = serve.Served(tmp_path, pinning.budget())
    output = io.StringIO()
    url = serve._database_url(served, SHIPPED.targets, Console(file=output, width=200))
    assert url is None and served.database is None
    assert "/io/db will answer 503" in output.getvalue()
    assert "the embedded PostgreSQL is not installed" in output.getvalue()


def test_at_80_columns_the_catalogue_is_a_listing_that_fits() -> None:
    console = Console(record=True, width=80)
    console.print(serve.catalogue_view(SHIPPED, pinning.budget({}), console.width))
    text = console.export_text()
    lines = text.splitlines()
    assert all(len(line) <= 80 for line in lines)
    # A few lines per target, not the table's word a line (it took ~140 lines here).
    assert len(lines) <= 6 * len(SHIPPED.targets) + 4
    for target in SHIPPED.targets:
        assert f"{target.name} · {target.model} · capacity " in text
        assert " ".join(target.explanation.split()) in " ".join(text.split())
    assert "3 × 1 = 3" in text
