"""TikTok API for Business v1.3: the SDK's per-endpoint OpenAPI files, as a `Spec`.

The description is `tests/platform_specs/tiktok/yml/*.yml`: files of
`yml_files/` in tiktok/tiktok-business-api-sdk (MIT), one OpenAPI 3.0.1 file
per endpoint, copied unchanged by `refresh.py` next to them. Conversion to
JSON Schema 2020-12:

- TikTok keeps enum values in its `x-open-enum` extension, each with an
  `is_valid` flag: the valid keys become a JSON Schema `enum` (a value marked
  not valid, e.g. `asset_type=CATALOG` on `/bc/partner/add/`, is refused);
- `nullable: true` becomes `anyOf: [<schema>, {"type": "null"}]`; the other
  `x-*` keys and `example` go;
- a query parameter described by `content: application/json` (TikTok's
  `filtering`) is a JSON object sent as text: its schema is that object's;
- the `Access-Token` parameter, which the files put `in: query`, is left out:
  the SDK built from them sends it as a header (`header_params['Access-Token']`
  in python_sdk/business_api_client/api/bc_api.py), as TikTok's pages say;
- fields the x-open-rules (`extra_rule.http_source`) mark required are
  required too (the schemas' own `required` lists are shorter).

Every file declares the answer's `data` as an empty object and refers to the
endpoint's documentation page for it; `documented.json` transcribes those
pages' fields (and the token endpoint and the authorization page, which have
no yml file), naming each page. An empty `data` stays empty: an answer field
there is undeclared.
"""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any

import yaml

from ..model import Operation, Spec

ROOT = Path(__file__).resolve().parents[3]
HERE = "tests/platform_specs/tiktok"
BASE_URL = "https://business-api.tiktok.com/open_api/v1.3"
METHODS = ("get", "post", "put", "patch", "delete")
DROPPED = frozenset({"example", "nullable", "description", "default"})
ONE = ("items", "not", "additionalProperties")
MANY = ("allOf", "anyOf", "oneOf")
# The header the files list as a query parameter.
HEADER_PARAMETERS = frozenset({"Access-Token"})


def convert(schema: Any) -> Any:
    """One schema of TikTok's files as JSON Schema 2020-12."""
    if not isinstance(schema, dict):
        return schema
    converted: dict[str, Any] = {}
    for key, value in schema.items():
        if key in DROPPED or (key.startswith("x-") and key != "x-open-enum"):
            continue
        if key == "x-open-enum":
            converted["enum"] = [e["key"] for e in value.get("enums", []) if e.get("is_valid")]
        elif key in ONE:
            converted[key] = convert(value)
        elif key in MANY:
            converted[key] = [convert(v) for v in value]
        elif key == "properties":
            converted[key] = {name: convert(v) for name, v in value.items()}
        else:
            converted[key] = value
    if schema.get("nullable") is True:
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


def _rule_required(raw: dict[str, Any], where: str) -> set[str]:
    """Names the x-open-rules mark required at `$.http.<where>.<name>`."""
    rules = ((raw.get("x-open-rules") or {}).get("extra_rule") or {}).get("http_source") or []
    prefix = f"$.http.{where}."
    return {
        rule["source"][len(prefix) :]
        for rule in rules
        if rule.get("required")
        and str(rule.get("source", "")).startswith(prefix)
        and "." not in rule["source"][len(prefix) :]
    }


def _answer(raw: dict[str, Any], data: dict[str, Any] | None) -> dict[str, Any]:
    """The 200 envelope, its `data` replaced by the documented fields (when known)."""
    content = raw["responses"]["200"]["content"]["application/json"]["schema"]
    envelope = convert(content)
    if data is not None:
        envelope = copy.deepcopy(envelope)
        envelope["properties"]["data"] = {"anyOf": [data, {"type": "null"}]}
    return envelope


def _operation(
    name: str, path: str, method: str, raw: dict[str, Any], data: dict[str, Any] | None
) -> Operation:
    query: dict[str, Any] = {}
    required: set[str] = set()
    for parameter in raw.get("parameters", []):
        if parameter["in"] != "query" or parameter["name"] in HEADER_PARAMETERS:
            continue
        if "content" in parameter:
            schema = convert(parameter["content"]["application/json"]["schema"])
        else:
            schema = convert(parameter.get("schema", {}))
        query[parameter["name"]] = schema
        if parameter.get("required"):
            required.add(parameter["name"])
    required |= _rule_required(raw, "query") & set(query)
    body = media = None
    if "requestBody" in raw:
        media = "application/json"
        body = convert(raw["requestBody"]["content"][media]["schema"])
        wanted = _rule_required(raw, "body") & set(body.get("properties", {}))
        body["required"] = sorted(set(body.get("required", [])) | wanted)
    return Operation(
        method=method.upper(),
        path=path,
        operation_id=raw.get("operationId") or f"{method} {path}",
        where=f"{HERE}/yml/{name}#/paths/{path.replace('/', '~1')}/{method}",
        query=query,
        required_query=frozenset(required),
        body=body,
        body_media=media,
        response=_answer(raw, data),
    )


def _token_operation(entry: dict[str, Any]) -> Operation:
    envelope = {
        "type": "object",
        "properties": {
            "code": {"type": "integer"},
            "message": {"type": "string"},
            "request_id": {"type": "string"},
            "data": {"anyOf": [entry["data"], {"type": "null"}]},
        },
    }
    return Operation(
        method=entry["method"],
        path=entry["path"],
        operation_id="oauth2/access_token",
        where=f"{HERE}/documented.json#/operations/oauth2~1access_token",
        body=entry["body"],
        body_media="application/json",
        response=envelope,
    )


@functools.cache
def load() -> list[Spec]:
    documented = json.loads((ROOT / HERE / "documented.json").read_text(encoding="utf-8"))
    operations = [_token_operation(documented["operations"]["oauth2/access_token"])]
    for file in sorted((ROOT / HERE / "yml").glob("*.yml")):
        description = yaml.safe_load(file.read_text(encoding="utf-8"))
        for path, item in description["paths"].items():
            for method in METHODS:
                if method in item:
                    data = (documented["data"].get(path) or {}).get("schema")
                    operations.append(_operation(file.name, path, method, item[method], data))
    page = documented["operations"]["portal/auth"]
    authorize = Operation(
        method=page["method"],
        path=page["path"],
        operation_id="portal/auth",
        where=f"{HERE}/documented.json#/operations/portal~1auth",
        query=page["query"],
        required_query=frozenset(page["required_query"]),
    )
    return [
        Spec(
            name="TikTok API for Business v1.3",
            platform="tiktok",
            base_urls=(BASE_URL,),
            source=f"{HERE}/yml/ (and documented.json)",
            document={"definitions": documented["definitions"]},
            operations=operations,
        ),
        Spec(
            name="TikTok for Business advertiser authorization page",
            platform="tiktok",
            base_urls=(page["base_url"],),
            source=f"{HERE}/documented.json",
            document={},
            operations=[authorize],
        ),
    ]
