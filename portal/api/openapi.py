"""The OpenAPI 3.1 document, generated from the operation table and the
pydantic models that validate input: what is served is what the code does."""

from __future__ import annotations

import copy
import re

from flask import current_app, jsonify
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from . import OPERATIONS, Operation, bp
from .schemas import AccessRequestCreate, ClientIn, ItemIn, Problem, WebhookEvent

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


# ------------------------------------------ what validation accepts, said


def _item_choices() -> list[dict]:
    """The (platform, asset type, permissions) an item may name: the connector registry,
    which `services.requests.normalise_items` checks items against."""
    from ..platforms import all_connectors
    from ..platforms.manual import custom

    choices = []
    for connector in all_connectors():
        if connector.id == custom.PLATFORM_ID:
            # Each agency's own tools: their keys are listed by GET /platforms.
            tool = {
                "type": "string",
                "pattern": custom.KEY_RE.pattern,
                "maxLength": custom.KEY_MAX,
                "description": "The key of one of your agency's other tools (see GET /platforms).",
            }
            choices.append(_choice(connector.id, tool, [custom.ACCESS]))
            continue
        for asset_type in connector.asset_types:
            permissions = [p.id for p in asset_type.permissions]
            choices.append(_choice(connector.id, {"const": asset_type.id}, permissions))
    return choices


def _choice(platform: str, asset_type: dict, permissions: list[str]) -> dict:
    return {
        "properties": {
            "platform": {"const": platform},
            "asset_type": asset_type,
            "permissions": {"items": {"enum": permissions}},
        }
    }


def _input(schemas: dict, model: type[BaseModel]) -> dict:
    """The component of an input model (pydantic names it apart when it is output too)."""
    return schemas.get(f"{model.__name__}-Input") or schemas[model.__name__]


def _say_what_is_accepted(schemas: dict) -> None:
    """Rules the views and services check (against the registry, the configuration or
    each other's fields) that pydantic's own schema cannot know."""
    item = _input(schemas, ItemIn)
    choices = _item_choices()
    item["properties"]["platform"]["enum"] = list(
        dict.fromkeys(c["properties"]["platform"]["const"] for c in choices)
    )
    item["anyOf"] = choices
    item["description"] = (
        "One thing to ask for: a platform, one of its asset types and some of that asset "
        "type's permissions (GET /platforms lists them). Your agency must be connected to "
        "the platform, where the platform needs it."
    )
    locale = _input(schemas, ClientIn)["properties"]["locale"]
    for option in locale.get("anyOf", [locale]):
        if option.get("type") == "string":
            option["enum"] = sorted(current_app.config["LANGUAGES"])
    create = _input(schemas, AccessRequestCreate)
    # views.create_access_request: a template, or items, or both.
    create["anyOf"] = [
        {"required": ["items"], "properties": {"items": {"type": "array"}}},
        {"required": ["template_id"], "properties": {"template_id": {"type": "integer"}}},
    ]
    if current_app.config["LATCHKEY_ENV"] == "production":
        redirect = create["properties"]["redirect_url"]
        for option in redirect.get("anyOf", [redirect]):
            if "pattern" in option:
                option["pattern"] = option["pattern"].replace("^https?://", "^https://", 1)


# ---------------------------------------------------------------- links


def _label(op: Operation) -> str:
    return f"{op.method} /api/v1" + _RULE_ARG.sub(r"{\1}", op.rule)


def _collection(op: Operation) -> str:
    return op.rule.split("/<", 1)[0]


def _fields(model: type[BaseModel] | None) -> dict:
    return model.model_fields if model is not None else {}


def _answer(op: Operation) -> type[BaseModel] | None:
    """The model of the operation's success answer (None: no JSON object)."""
    for status, model in sorted(op.responses.items()):
        if status < 300 and isinstance(model, type) and issubclass(model, BaseModel):
            return model
    return None


def links_by_operation() -> dict[str, dict[str, dict]]:
    """OpenAPI links, by source operation: from an answer naming an object (its `id`) to
    every operation on that object; from the object as GET answers it to the bodies
    that name it (`template_id`); from a page to the next one (`next_cursor`). Clients,
    and Schemathesis' stateful tests, follow them to real ids."""
    found: dict[str, dict[str, dict]] = {}
    for source in OPERATIONS:
        answer = _answer(source)
        if answer is None:
            continue
        fields = answer.model_fields
        links = found.setdefault(source.operation_id, {})
        if "id" in fields:
            collection = _collection(source)
            singular = collection.rsplit("/", 1)[-1].removesuffix("s").replace("-", "_")
            for target in OPERATIONS:
                if target is source:
                    continue
                if target.rule.startswith(collection + "/<int:id>"):
                    links[target.operation_id] = {
                        "operationId": target.operation_id,
                        "parameters": {"path.id": "$response.body#/id"},
                        "description": f"{_label(target)} with the `id` of this answer.",
                    }
                elif source.method == "GET" and f"{singular}_id" in _fields(target.body):
                    links[target.operation_id] = {
                        "operationId": target.operation_id,
                        "requestBody": {f"{singular}_id": "$response.body#/id"},
                        "description": (
                            f"The `id` of this answer as `{singular}_id` in a body of your own."
                        ),
                    }
        if "next_cursor" in fields and source.query and "cursor" in source.query.model_fields:
            links["next_page"] = {
                "operationId": source.operation_id,
                "parameters": {"query.cursor": "$response.body#/next_cursor"},
                "description": "The next page, while `next_cursor` is not null.",
            }
    return {name: links for name, links in found.items() if links}


# ------------------------------------------------------------- document


def build_document() -> dict:
    models = _models()
    refs, top = models_json_schema(models, ref_template="#/components/schemas/{model}")
    schemas = top.get("$defs", {})
    _say_what_is_accepted(schemas)
    links = links_by_operation()

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
                    # Compared without surrounding spaces (views.idempotent).
                    "schema": {
                        "type": "string",
                        "minLength": 1,
                        "maxLength": 255,
                        "pattern": r"^[!-~](?:[ -~]*[!-~])?$",
                    },
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
            if status < 300 and links.get(op.operation_id):
                entry["links"] = links[op.operation_id]
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
