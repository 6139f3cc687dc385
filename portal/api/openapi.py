"""The OpenAPI 3.1 document, generated from the operation table and the
pydantic models that validate input: what is served is what the code does."""

from __future__ import annotations

import copy
import re

from flask import current_app, jsonify
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from . import OPERATIONS, bp
from .schemas import Problem, WebhookEvent

_RULE_ARG = re.compile(r"<(?:[a-z]+:)?([a-z_]+)>")
_CACHE_KEY = "latchkey_openapi"

ERROR_RESPONSES = {
    401: "Missing, unknown or revoked API key.",
    403: "The key lacks the scope this operation needs (write).",
    404: "No such object in your agency.",
    422: "Invalid input: `errors` lists each field and what to change.",
    429: "Too many requests for this key: wait `Retry-After` seconds.",
}


def _strip_null(schema: dict) -> dict:
    """A query parameter is absent rather than null: drop the null branch."""
    options = schema.get("anyOf")
    if options:
        kept = [o for o in options if o.get("type") != "null"]
        if len(kept) == 1:
            merged = {k: v for k, v in schema.items() if k not in ("anyOf", "default")}
            merged.update(kept[0])
            return merged
    return {k: v for k, v in schema.items() if k != "default"}


def _models() -> list[tuple[type[BaseModel], str]]:
    found: list[tuple[type[BaseModel], str]] = [(Problem, "serialization")]
    for op in OPERATIONS:
        if op.body is not None:
            found.append((op.body, "validation"))
        for model in op.responses.values():
            if isinstance(model, type) and issubclass(model, BaseModel):
                found.append((model, "serialization"))
    found.append((WebhookEvent, "serialization"))
    return list(dict.fromkeys(found))


def build_document() -> dict:
    models = _models()
    refs, top = models_json_schema(models, ref_template="#/components/schemas/{model}")
    schemas = top.get("$defs", {})

    def ref(model, mode):
        return copy.deepcopy(refs[(model, mode)])

    problem = {"application/problem+json": {"schema": ref(Problem, "serialization")}}
    paths: dict[str, dict] = {}
    for op in OPERATIONS:
        path = "/api/v1" + _RULE_ARG.sub(r"{\1}", op.rule)
        parameters = []
        for name in _RULE_ARG.findall(op.rule):
            parameters.append(
                {
                    "name": name,
                    "in": "path",
                    "required": True,
                    "schema": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
                }
            )
        if op.query is not None:
            query_schema = op.query.model_json_schema()
            for name, prop in query_schema["properties"].items():
                parameters.append(
                    {
                        "name": name,
                        "in": "query",
                        "required": name in query_schema.get("required", []),
                        "schema": _strip_null(prop),
                    }
                )
        if op.idempotent:
            parameters.append(
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "description": (
                        "Send the same key with the same body to get the first answer again "
                        "(for 24 hours); the same key with another body answers 422."
                    ),
                    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                }
            )
        responses: dict[str, dict] = {}
        for status, model in op.responses.items():
            entry: dict = {"description": "OK" if status < 300 else "Error"}
            if model == "application/pdf":
                entry["content"] = {
                    "application/pdf": {
                        "schema": {"type": "string", "contentMediaType": "application/pdf"}
                    }
                }
            elif model is not None:
                entry["content"] = {"application/json": {"schema": ref(model, "serialization")}}
            else:
                entry["description"] = "No content"
            responses[str(status)] = entry
        if op.scope is not None:
            for status, text in ERROR_RESPONSES.items():
                if status == 404 and "<" not in op.rule:
                    continue
                if status == 403 and op.scope != "write":
                    continue
                if status == 422 and op.body is None and op.query is None and not op.idempotent:
                    continue
                responses[str(status)] = {"description": text, "content": problem}
        responses["default"] = {
            "description": "Any other error (malformed request, too large, ...).",
            "content": problem,
        }
        entry = {
            "operationId": op.operation_id,
            "summary": op.summary,
            "tags": [op.tag],
            "parameters": parameters,
            "responses": responses,
        }
        if op.description:
            entry["description"] = op.description
        if op.body is not None:
            entry["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": ref(op.body, "validation")}},
            }
        if op.scope is None:
            entry["security"] = []
        paths.setdefault(path, {})[op.method.lower()] = entry

    paths["/api/v1/openapi.json"] = {
        "get": {
            "operationId": "get_openapi",
            "summary": "This document",
            "tags": ["Meta"],
            "security": [],
            "responses": {
                "200": {
                    "description": "The OpenAPI 3.1 document",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
                "default": {"description": "Error", "content": problem},
            },
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Latchkey API",
            "version": "1.0.0",
            "description": (
                "Create access requests from your own systems and follow them to completion. "
                "Authenticate with `Authorization: Bearer <API key>`. Errors are "
                "`application/problem+json`. Webhooks are signed per Standard Webhooks; their "
                "body is the `WebhookEvent` schema."
            ),
        },
        "servers": [{"url": current_app.config["LATCHKEY_BASE_URL"]}],
        "security": [{"apiKey": []}],
        "tags": [{"name": n} for n in dict.fromkeys(op.tag for op in OPERATIONS)],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "apiKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API key created in Settings → API keys (lk_...).",
                }
            },
        },
    }


def document() -> dict:
    cached = current_app.extensions.get(_CACHE_KEY)
    if cached is None:
        cached = current_app.extensions[_CACHE_KEY] = build_document()
    return cached


@bp.get("/openapi.json")
def openapi_json():
    return jsonify(document())


openapi_json.api_scope = None
