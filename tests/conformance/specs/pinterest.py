"""Pinterest API v5: its OpenAPI 3.0 description, as `Spec`s.

The description is `tests/platform_specs/pinterest/openapi.json`: Pinterest's
own `v5/openapi.json` (pinterest/api-description, MIT), trimmed to the
operations Latchkey uses by `refresh.py` next to it. It is OpenAPI 3.0.3;
this module converts its schemas to JSON Schema 2020-12:

- `nullable: true` becomes `anyOf: [<the schema>, {"type": "null"}]` (a plain
  `type: [..., "null"]` would not do: a nullable `allOf` or `$ref` must also
  accept null);
- a `discriminator` with a `mapping` becomes an `anyOf` of one branch per
  mapped schema, each pinning the discriminating property with `const`;
- `example`, `discriminator`, `xml`, `externalDocs` and `x-*` keys go (they
  are annotations of OpenAPI, not JSON Schema);
- siblings of a `$ref` go too: OpenAPI 3.0 ignores them.

The authorization page (`https://www.pinterest.com/oauth/`) is no operation
of the description, but its OAuth 2.0 security scheme names it
(`pinterest_oauth2`, flow `authorizationCode`, with the scopes): it becomes a
second Spec, whose query parameters are those of that flow (RFC 6749 §4.1.1;
the description defines no PKCE) and whose `scope` is a comma-separated list
of the scheme's scopes. It answers a page, not JSON.

One addition, from the description's prose rather than its schemas: `POST
/oauth/token` says "set the `continuous_refresh` parameter to `true`" for
apps created before 25 September 2025, but its refresh-token schema does not
list the field. It is added to that schema below (`PROSE_FIELDS`).
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..model import Operation, Spec

ROOT = Path(__file__).resolve().parents[3]
SOURCE = "tests/platform_specs/pinterest/openapi.json"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
DROPPED = frozenset({"example", "discriminator", "xml", "externalDocs", "nullable"})
# Schema keywords holding one schema, a list of schemas, or a map of schemas.
ONE = ("items", "not", "additionalProperties", "contains", "propertyNames")
MANY = ("allOf", "anyOf", "oneOf", "prefixItems")
MAP = ("properties", "patternProperties", "$defs")
# Fields the description names only in prose: (schema name, field, schema).
PROSE_FIELDS = (
    (
        "OauthAccessTokenRequestRefresh",
        "continuous_refresh",
        {
            "type": "boolean",
            "description": "From POST /oauth/token's description: set it to true for "
            "apps created before September 25, 2025 (continuous refresh tokens).",
        },
    ),
)


def convert(schema: Any) -> Any:
    """One OpenAPI 3.0 schema object as JSON Schema 2020-12."""
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        converted: dict[str, Any] = {"$ref": schema["$ref"]}
    else:
        converted = {}
        for key, value in schema.items():
            if key in DROPPED or key.startswith("x-"):
                continue
            if key in ONE:
                converted[key] = convert(value)
            elif key in MANY:
                converted[key] = [convert(v) for v in value]
            elif key in MAP:
                converted[key] = {name: convert(v) for name, v in value.items()}
            else:
                converted[key] = value
        mapping = (schema.get("discriminator") or {}).get("mapping")
        if mapping:
            name = schema["discriminator"]["propertyName"]
            converted["anyOf"] = [
                {
                    "properties": {name: {"const": value}},
                    "required": [name],
                    "allOf": [{"$ref": target}],
                }
                for value, target in mapping.items()
            ]
    if schema.get("nullable") is True:
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


def _resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow a `$ref` to a parameter, request body or response object."""
    while "$ref" in node:
        target: Any = document
        for part in node["$ref"][2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def _pointer(*parts: str) -> str:
    return "#/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def _operation(document: dict[str, Any], path: str, method: str) -> Operation:
    item = document["paths"][path]
    raw = item[method]
    query: dict[str, Any] = {}
    required: set[str] = set()
    path_params: dict[str, Any] = {}
    for parameter in [*item.get("parameters", []), *raw.get("parameters", [])]:
        parameter = _resolve(document, parameter)
        schema = convert(parameter.get("schema", {}))
        if parameter["in"] == "query":
            query[parameter["name"]] = schema
            if parameter.get("required"):
                required.add(parameter["name"])
        elif parameter["in"] == "path":
            path_params[parameter["name"]] = schema
    body = media = None
    if "requestBody" in raw:
        content = _resolve(document, raw["requestBody"]).get("content", {})
        media = next(iter(content), None)
        body = convert(content[media]["schema"]) if media else None
    response = None
    for status in sorted(raw.get("responses", {})):
        if status.startswith("2"):
            content = _resolve(document, raw["responses"][status]).get("content", {})
            answer = content.get("application/json")
            response = convert(answer["schema"]) if answer else None
            break
    return Operation(
        method=method.upper(),
        path=path,
        operation_id=raw["operationId"],
        where=_pointer("paths", path, method),
        query=query,
        required_query=frozenset(required),
        path_params=path_params,
        body=body,
        body_media=media,
        response=response,
    )


@functools.cache
def load() -> list[Spec]:
    raw = json.loads((ROOT / SOURCE).read_text(encoding="utf-8"))
    schemas = {name: convert(s) for name, s in raw["components"]["schemas"].items()}
    for name, field, schema in PROSE_FIELDS:
        schemas[name].setdefault("properties", {})[field] = schema
    document = {**raw, "components": {**raw["components"], "schemas": schemas}}
    operations = [
        _operation(document, path, method)
        for path, item in raw["paths"].items()
        for method in item
        if method in METHODS
    ]
    return [
        Spec(
            name=f"Pinterest API v5 ({raw['info']['version']})",
            platform="pinterest",
            base_urls=tuple(server["url"].rstrip("/") for server in raw["servers"]),
            source=SOURCE,
            document=document,
            operations=operations,
        ),
        _authorize_spec(raw),
    ]


def _authorize_spec(raw: dict[str, Any]) -> Spec:
    flow = raw["components"]["securitySchemes"]["pinterest_oauth2"]["flows"]["authorizationCode"]
    url = urlsplit(flow["authorizationUrl"])
    scope = "(" + "|".join(re.escape(name) for name in sorted(flow["scopes"])) + ")"
    query = {
        "response_type": {"type": "string", "enum": ["code"]},
        "client_id": {"type": "string"},
        "redirect_uri": {"type": "string"},
        "scope": {"type": "string", "pattern": f"^{scope}(,{scope})*$"},
        "state": {"type": "string"},
    }
    operation = Operation(
        method="GET",
        path=url.path,
        operation_id="pinterest_oauth2/authorizationCode",
        where="#/components/securitySchemes/pinterest_oauth2/flows/authorizationCode",
        query=query,
        required_query=frozenset({"response_type", "client_id"}),
    )
    return Spec(
        name="Pinterest OAuth 2.0 authorization (security scheme pinterest_oauth2)",
        platform="pinterest",
        base_urls=(f"{url.scheme}://{url.netloc}",),
        source=SOURCE,
        document={},
        operations=[operation],
    )


@functools.cache
def published_error_codes() -> frozenset[int]:
    """The error codes Pinterest's description publishes (in its examples)."""
    raw = json.loads((ROOT / SOURCE).read_text(encoding="utf-8"))
    return frozenset(e["code"] for e in raw.get("x-latchkey-error-examples", []))
