"""The ``blockbench`` command line: one subcommand per job, each implemented in its own module."""

from __future__ import annotations

import typer

from blockbench import upstream as upstream_service

app = typer.Typer(
    help="Measure when non-blocking (ASGI) Python servers beat blocking (WSGI) ones.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _group() -> None:
    """Measure when non-blocking (ASGI) Python servers beat blocking (WSGI) ones."""


@app.command()
def upstream(
    host: str = typer.Option(upstream_service.DEFAULT_HOST, help="Address to listen on."),
    port: int = typer.Option(upstream_service.DEFAULT_PORT, help="Port to listen on."),
) -> None:
    """Run the slow upstream service (GET /delay?ms=N answers after N ms)."""
    upstream_service.main(["--host", host, "--port", str(port)])


def main() -> None:
    app()
