"""The OpenAPI description of the endpoint contract, generated from it so the two never drift."""

from __future__ import annotations

from functools import cache

from blockbench import __version__
from blockbench.apps import contract

_ERROR = {
    "type": "object",
    "required": ["error", "message"],
    "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
}
_RESULT = {
    "type": "object",
    "required": ["endpoint", "params", "result"],
    "properties": {
        "endpoint": {"type": "string"},
        "params": {"type": "object"},
        "result": {"type": "object"},
    },
}
_HEALTH = {
    "type": "object",
    "required": ["status", "app", "interface", "mode", "target", "cores"],
    "properties": {
        "status": {"const": "ok"},
        "app": {"type": "string"},
        "interface": {"enum": ["wsgi", "asgi"]},
        "mode": {"type": "string"},
        "target": {"type": ["string", "null"]},
        "cores": {"type": ["integer", "null"], "minimum": 1},
    },
}


def _json(description: str, schema: contract.JSON) -> contract.JSON:
    return {"description": description, "content": {contract.MEDIA_TYPE: {"schema": schema}}}


def _parameter(param: contract.Param) -> contract.JSON:
    required = not (isinstance(param, contract.ChoiceParam) and param.default is not None)
    schema = param.allowed()
    if isinstance(param, contract.ChoiceParam) and param.default is not None:
        schema["default"] = param.default
    return {
        "name": param.name,
        "in": "query",
        "required": required,
        "description": param.description,
        "schema": schema,
    }


def _operation(endpoint: contract.Endpoint) -> contract.JSON:
    body = _HEALTH if endpoint is contract.HEALTHZ else _RESULT
    responses = {"200": _json("The work was done.", body)}
    if endpoint.params:
        responses["400"] = _json("A parameter is missing, malformed or out of range.", _ERROR)
    if endpoint.dependency is not None:
        responses["503"] = _json(f"The {endpoint.dependency} is unavailable.", _ERROR)
    return {
        "operationId": endpoint.name,
        "summary": endpoint.summary,
        "parameters": [_parameter(param) for param in endpoint.params],
        "responses": responses,
    }


@cache
def document() -> contract.JSON:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "blockbench twin apps",
            "version": __version__,
            "description": "The endpoints both the Flask and the Starlette app serve.",
        },
        "paths": {endpoint.path: {"get": _operation(endpoint)} for endpoint in contract.ENDPOINTS},
    }


@cache
def document_bytes() -> bytes:
    return contract.render(document())
