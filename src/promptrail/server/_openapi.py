"""The receiver's OpenAPI description: request bodies, every error answer and the key.

The log routes read their bodies themselves (bounded, parsed off the event loop), so FastAPI
cannot infer them: :func:`log_body` and friends give each route's ``openapi_extra``, and
:func:`error_responses` its ``responses=``. :func:`install_openapi` adds the body schemas (from
:class:`~promptrail.LogRecord`) and the key's security schemes to the schema the app serves at
``/v5/openapi.json``. A module adding routes to the receiver describes them with these too.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from promptrail._record.models import LogRecord

__all__ = [
    "ERROR_SCHEMA",
    "batch_body",
    "error_responses",
    "install_openapi",
    "log_body",
    "no_key",
    "otlp_body",
]

_REF = "#/components/schemas/{model}"
ERROR_SCHEMA = "Error"

_DESCRIPTIONS = {
    400: "Malformed request (an invalid `Content-Length`, or a body that cannot be decoded).",
    401: "Missing or invalid API key (`X-API-KEY`, or `Authorization: Bearer <key>`).",
    404: "Not found.",
    408: "The request body did not arrive in time.",
    413: "The request body is larger than the receiver accepts (as sent or decompressed).",
    415: "Unsupported `Content-Type` or `Content-Encoding`.",
    422: "The input is invalid or cannot be stored; `detail` says where and why.",
    503: "The store is busy or unavailable; retry after `Retry-After` seconds.",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route answering ``statuses`` (each a JSON ``{"detail": ...}``)."""
    responses: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        answer: dict[str, Any] = {
            "description": _DESCRIPTIONS[status],
            "content": {"application/json": {"schema": {"$ref": _REF.format(model=ERROR_SCHEMA)}}},
        }
        if status == 503:
            answer["headers"] = {
                "Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}
            }
        responses[status] = answer
    return responses


def _json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def log_body() -> dict[str, Any]:
    """``openapi_extra`` of a route taking one log (``POST /v5/prompts/log`` and the like)."""
    return _json_body({"$ref": _REF.format(model="LogBody")})


def batch_body() -> dict[str, Any]:
    """``openapi_extra`` of ``POST /v5/logs/batch``."""
    return _json_body({"$ref": _REF.format(model="LogBatch")})


def otlp_body() -> dict[str, Any]:
    """``openapi_extra`` of an OTLP/HTTP route: protobuf or JSON, optionally gzipped."""
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/x-protobuf": {"schema": {"type": "string", "format": "binary"}},
                "application/json": {"schema": {"type": "object"}},
            },
        }
    }


def no_key() -> dict[str, Any]:
    """``openapi_extra`` of a route that needs no key (``/healthz``)."""
    return {"security": []}


def _body_schemas() -> dict[str, Any]:
    """``LogBody`` (a log as a client sends it: only ``path`` required), ``LogBatch``, ``Error``."""
    schema = LogRecord.model_json_schema(ref_template=_REF)
    schemas: dict[str, Any] = schema.pop("$defs", {})
    # The receiver fills ids, times and the trace when missing, and the route decides the kind.
    schema["required"] = ["path"]
    schema["title"] = "LogBody"
    schema["properties"].pop("kind", None)
    schemas["LogBody"] = schema
    entry = {
        "allOf": [{"$ref": _REF.format(model="LogBody")}],
        "properties": {"kind": {"enum": ["prompt", "flow", "tool", "evaluator"]}},
    }
    schemas["LogBatch"] = {
        "type": "object",
        "properties": {"logs": {"type": "array", "items": entry}},
        "required": ["logs"],
        "title": "LogBatch",
    }
    schemas[ERROR_SCHEMA] = {
        "type": "object",
        "properties": {"detail": {"description": "A message, or a list of {loc, msg, type}"}},
        "title": ERROR_SCHEMA,
    }
    return schemas


def install_openapi(app: FastAPI) -> None:
    """Serve ``app``'s schema with the body schemas and the key's security schemes added.

    Built on first use, so routes added after this call are described too.
    """

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            components = schema.setdefault("components", {})
            components.setdefault("schemas", {}).update(_body_schemas())
            components["securitySchemes"] = {
                "ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-KEY"},
                "Bearer": {"type": "http", "scheme": "bearer"},
            }
            schema["security"] = [{"ApiKey": []}, {"Bearer": []}]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
