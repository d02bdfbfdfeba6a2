"""The OpenAPI description is generated from the contract and says what it says."""

from __future__ import annotations

import json

from blockbench.apps import contract, openapi


def test_every_endpoint_and_parameter_is_described_with_its_bounds() -> None:
    paths = openapi.document()["paths"]
    assert set(paths) == {endpoint.path for endpoint in contract.ENDPOINTS}
    sleep = paths["/io/sleep"]["get"]
    assert sleep["parameters"] == [
        {
            "name": "ms",
            "in": "query",
            "required": True,
            "description": contract.MS.description,
            "schema": {"type": "integer", "minimum": 0, "maximum": 60000},
        }
    ]
    offload = paths["/cpu"]["get"]["parameters"][1]
    assert offload["required"] is False
    assert offload["schema"]["default"] == "none"


def test_503_is_documented_only_where_a_dependency_can_fail() -> None:
    paths = openapi.document()["paths"]
    with_503 = {path for path, item in paths.items() if "503" in item["get"]["responses"]}
    assert with_503 == {"/io/upstream", "/io/db", "/io/fanout"}


def test_bytes_are_the_rendered_document() -> None:
    assert json.loads(openapi.document_bytes()) == openapi.document()
