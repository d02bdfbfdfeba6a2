"""The OpenAPI description: valid OpenAPI 3.1, saying what the README promises and what the
parser both apps share accepts. The apps serve exactly these bytes (tests/apps/test_conformance.py).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import jsonschema_rs
import pytest
from schemathesis.specs.openapi.definitions import OPENAPI_31_VALIDATOR

from blockbench.apps import contract, openapi

# The README's table of endpoints and their bounds, typed out again on purpose: the document is
# generated from the contract, so comparing the two would compare the contract with itself.
MS = {"type": "integer", "minimum": 0, "maximum": 60000}
QUERY: dict[str, dict[str, tuple[bool, dict[str, Any]]]] = {
    "/healthz": {},
    "/io/sleep": {"ms": (True, MS)},
    "/io/upstream": {"ms": (True, MS)},
    "/io/db": {"ms": (True, MS)},
    "/io/fanout": {
        "n": (True, {"type": "integer", "minimum": 1, "maximum": 32}),
        "ms": (True, MS),
        "mode": (True, {"type": "string", "enum": ["seq", "par"]}),
    },
    "/cpu": {
        "work": (True, {"type": "integer", "minimum": 0, "maximum": 10_000_000}),
        "offload": (False, {"type": "string", "enum": ["none", "process"], "default": "none"}),
    },
    "/io/blocking": {"ms": (True, MS)},
    "/cpu-then-sleep": {
        "work": (True, {"type": "integer", "minimum": 0, "maximum": 10_000_000}),
        "ms": (True, MS),
    },
    "/io/db-row": {
        "id": (True, {"type": "integer", "minimum": 1, "maximum": 10_000}),
        "ms": (True, MS),
    },
}


def _served() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(openapi.document_bytes())
    return document


def _operations() -> list[tuple[str, dict[str, Any]]]:
    return [(path, item["get"]) for path, item in _served()["paths"].items()]


def test_the_document_is_valid_openapi_3_1() -> None:
    document = _served()
    assert document["openapi"].startswith("3.1.")
    # The OpenAPI Initiative's own schema of 3.1 documents, as schemathesis ships it.
    OPENAPI_31_VALIDATOR.validate(document)
    # That schema leaves the JSON Schemas inside alone: each must be valid JSON Schema 2020-12.
    for path, operation in _operations():
        schemas = [param["schema"] for param in operation["parameters"]]
        schemas += [
            r["content"][contract.MEDIA_TYPE]["schema"] for r in operation["responses"].values()
        ]
        for schema in schemas:
            assert jsonschema_rs.meta.is_valid(schema), (path, schema)


def test_the_validator_rejects_a_broken_document() -> None:
    # So the test above can fail: a parameter without "in", and a path item of the wrong type.
    document = _served()
    document["paths"]["/io/sleep"]["get"]["parameters"][0].pop("in")
    assert not OPENAPI_31_VALIDATOR.is_valid(document)
    assert not OPENAPI_31_VALIDATOR.is_valid({**_served(), "paths": {"/x": []}})


def test_every_endpoint_of_the_readme_and_its_parameters_are_described() -> None:
    operations = dict(_operations())
    assert set(operations) == set(QUERY)
    for path, operation in operations.items():
        described = {
            param["name"]: (param["required"], param["schema"])
            for param in operation["parameters"]
            if param["in"] == "query"
        }
        assert described == QUERY[path], path
        assert len(operation["parameters"]) == len(described), path
        assert all(param["description"] for param in operation["parameters"]), path
    assert len({operation["operationId"] for operation in operations.values()}) == len(QUERY)


def test_400_is_documented_where_there_are_parameters_and_503_where_a_dependency_can_fail() -> None:
    for path, operation in _operations():
        responses = set(operation["responses"])
        has_params = bool(QUERY[path])
        can_fail = path in {"/io/upstream", "/io/db", "/io/fanout", "/io/db-row"}
        assert responses == {"200"} | ({"400"} if has_params else set()) | (
            {"503"} if can_fail else set()
        ), path


def _valid(params: dict[str, tuple[bool, dict[str, Any]]]) -> dict[str, str]:
    """The least valid value of every required parameter, read off the document."""
    found = {}
    for name, (required, schema) in params.items():
        if required:
            found[name] = str(schema.get("minimum", (schema.get("enum") or [""])[0]))
    return found


@pytest.mark.parametrize("path", [path for path, params in QUERY.items() if params])
def test_the_documented_bounds_are_the_ones_the_apps_enforce(path: str) -> None:
    endpoint = contract.find(path)
    assert endpoint is not None
    described = {
        p["name"]: (p["required"], p["schema"]) for p in dict(_operations())[path]["parameters"]
    }
    base = _valid(described)
    assert contract.parse_query(endpoint, urlencode(base))
    for name, (required, schema) in described.items():
        if schema["type"] == "integer":
            accepted = [schema["minimum"], schema["maximum"]]
            refused = [schema["minimum"] - 1, schema["maximum"] + 1]
        else:
            first = schema["enum"][0]
            accepted, refused = schema["enum"], ["", first.upper(), f"{first} ", first[:-1]]
        for value in accepted:
            parsed = contract.parse_query(endpoint, urlencode({**base, name: value}))
            assert parsed[name] == value
        for value in refused:
            with pytest.raises(contract.InvalidParameter):
                contract.parse_query(endpoint, urlencode({**base, name: value}))
        if required:
            missing = {key: value for key, value in base.items() if key != name}
            with pytest.raises(contract.InvalidParameter):
                contract.parse_query(endpoint, urlencode(missing))
        else:
            assert contract.parse_query(endpoint, urlencode(base))[name] == schema["default"]
