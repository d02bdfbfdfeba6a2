"""The Kubernetes manifest for Locust workers (deploy/k8s/): it runs `blockbench worker` as the
command line takes it, at the port its Service gives the master."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer.main
import yaml

from blockbench.cli import app
from blockbench.load import distributed

MANIFEST = Path(__file__).resolve().parents[1] / "deploy" / "k8s" / "locust-workers.yaml"


def documents() -> dict[str, dict[str, Any]]:
    return {doc["kind"]: doc for doc in yaml.safe_load_all(MANIFEST.read_text())}


def test_the_workers_run_blockbench_worker_as_the_command_line_takes_it() -> None:
    [container] = documents()["Deployment"]["spec"]["template"]["spec"]["containers"]
    program, command, *args = container["command"]
    assert (program, command) == ("blockbench", "worker")
    options = dict(zip(args[::2], args[1::2], strict=True))
    worker = typer.main.get_command(app).commands["worker"]  # type: ignore[attr-defined]
    known = {name for param in worker.params for name in param.opts}
    assert set(options) <= known, set(options) - known
    master = distributed.parse_address(options["--master"], "--master")
    # The master's Service, at the port the master binds to by default.
    service = documents()["Service"]
    assert master.host == service["metadata"]["name"]
    assert [port["port"] for port in service["spec"]["ports"]] == [master.port]
    assert master.port == distributed.DEFAULT_PORT
    # One process per pod, with a core of its own: replicas count the master's remote workers.
    assert options["--processes"] == "1"
    assert container["resources"]["limits"]["cpu"] == "1"


def test_the_masters_endpoint_belongs_to_its_service() -> None:
    docs = documents()
    labels = docs["EndpointSlice"]["metadata"]["labels"]
    assert labels["kubernetes.io/service-name"] == docs["Service"]["metadata"]["name"]
    selector = docs["Deployment"]["spec"]["selector"]["matchLabels"]
    assert selector.items() <= docs["Deployment"]["spec"]["template"]["metadata"]["labels"].items()
