"""Google's descriptions, as `Spec`s.

- The products with discovery documents (Analytics Admin, Tag Manager,
  Merchant API accounts, Business Profile account management and business
  information, Search Console, OAuth2 userinfo) are read straight from the
  documents shipped in the installed `google-api-python-client` package
  (`googleapiclient/discovery_cache/documents/`): no copy is kept here.
- Google Ads publishes protos, not a discovery document:
  `tests/platform_specs/google/ads-<version>.json` holds the facts of the
  operations Latchkey uses, transcribed by `refresh.py`; the newest file is
  loaded, and a test checks it is the connector's `API_VERSION`.
- The OAuth endpoints (authorization, token) are in no discovery document:
  `tests/platform_specs/google/oauth2.json`, from Google's pages.

Discovery schemas are close to JSON Schema; the conversion turns `$ref`
names into pointers ("#/schemas/X"), drops what is not a JSON Schema keyword
(`id`, `annotations`, parameters' boolean `required`, ...), and `type: any`
into no constraint. Request bodies point at "#/requests/X": the same schemas
without their output-only (`readOnly`) fields, which a request may not set.
"""

from __future__ import annotations

import functools
import json
from importlib import metadata, resources
from pathlib import Path
from typing import Any

from ..model import Operation, Spec

HERE = Path(__file__).resolve().parents[2] / "platform_specs" / "google"
PACKAGE = "google-api-python-client"
DOCUMENTS = "discovery_cache/documents"
DISCOVERY = (
    ("analyticsadmin.v1alpha.json", "Google Analytics Admin API v1alpha"),
    ("tagmanager.v2.json", "Tag Manager API v2"),
    ("merchantapi.accounts_v1.json", "Merchant API accounts v1"),
    ("mybusinessaccountmanagement.v1.json", "My Business Account Management API v1"),
    ("mybusinessbusinessinformation.v1.json", "My Business Business Information API v1"),
    ("searchconsole.v1.json", "Search Console API v1"),
    ("oauth2.v2.json", "Google OAuth2 API v2 (userinfo)"),
)
# What a discovery schema says that JSON Schema does not (or says otherwise).
_DROP = frozenset(
    {
        "id",
        "description",
        "annotations",
        "enumDescriptions",
        "enumDeprecated",
        "deprecated",
        "default",
        "location",
        "required",
        "repeated",
    }
)


def _schema(node: Any) -> Any:
    """A discovery schema as JSON Schema 2020-12."""
    if isinstance(node, list):
        return [_schema(v) for v in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROP:
            continue
        if key == "$ref":
            out["$ref"] = f"#/schemas/{value}"
        elif key == "type" and value == "any":
            continue
        elif key in ("properties", "patternProperties"):
            out[key] = {name: _schema(sub) for name, sub in value.items()}
        else:
            out[key] = _schema(value)
    return out


def _writable(node: Any) -> Any:
    """A converted schema as a request may carry it: without its output-only
    (`readOnly`) fields, its `$ref`s pointing at the writable copies."""
    if isinstance(node, list):
        return [_writable(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key == "$ref":
            out[key] = value.replace("#/schemas/", "#/requests/")
        elif key == "properties":
            out[key] = {k: _writable(v) for k, v in value.items() if not v.get("readOnly")}
        else:
            out[key] = _writable(value)
    return out


def _methods(resources_: dict, where: str):
    for name, resource in (resources_ or {}).items():
        here = f"{where}/resources/{name}"
        for method_name, method in (resource.get("methods") or {}).items():
            yield f"{here}/methods/{method_name}", method
        yield from _methods(resource.get("resources") or {}, here)


def _ref(node: dict | None) -> dict | None:
    return {"$ref": f"#/schemas/{node['$ref']}"} if node and node.get("$ref") else None


def discovery(file: str, name: str) -> Spec:
    version = metadata.version(PACKAGE)
    text = resources.files("googleapiclient").joinpath(DOCUMENTS, file).read_text("utf-8")
    doc = json.loads(text)
    base = (doc["rootUrl"] + doc.get("servicePath", "")).rstrip("/")
    shared = {
        k: _schema(v)
        for k, v in (doc.get("parameters") or {}).items()
        if v.get("location") == "query"
    }
    schemas = {k: _schema(v) for k, v in (doc.get("schemas") or {}).items()}
    operations = []
    for where, method in _methods(doc.get("resources") or {}, "#"):
        params = method.get("parameters") or {}
        query = {k: _schema(v) for k, v in params.items() if v.get("location") == "query"}
        path = "/" + (method.get("flatPath") or method["path"])
        body = _ref(method.get("request"))
        if body:
            body = {"$ref": body["$ref"].replace("#/schemas/", "#/requests/")}
        operations.append(
            Operation(
                method=method["httpMethod"].upper(),
                path=path,
                operation_id=method["id"],
                where=f"{file}{where}",
                query={**shared, **query},
                required_query=frozenset(
                    k
                    for k, v in params.items()
                    if v.get("location") == "query" and v.get("required")
                ),
                path_params={},  # flatPath names ({accountsId}) are not the parameters' names
                body=body,
                body_media="application/json" if body else None,
                response=_ref(method.get("response")),
            )
        )
    return Spec(
        name=f"{name} (discovery revision {doc.get('revision')})",
        platform="google",
        base_urls=(base,),
        source=f"{PACKAGE} {version}: googleapiclient/{DOCUMENTS}/{file}",
        document={"schemas": schemas, "requests": _writable(schemas)},
        operations=operations,
    )


def transcribed(file: str, name: str) -> list[Spec]:
    """A description kept as facts in tests/platform_specs/google (Ads, OAuth), a Spec per host."""
    doc = json.loads((HERE / file).read_text("utf-8"))
    by_base: dict[str, list[Operation]] = {}
    for index, op in enumerate(doc["operations"]):
        body = op.get("body")
        by_base.setdefault(op.get("baseUrl") or doc["baseUrl"], []).append(
            Operation(
                method=op["method"],
                path=op["path"],
                operation_id=op["id"],
                where=f"{file}#/operations/{index}"
                + (f" ({op['proto']})" if "proto" in op else ""),
                query=op.get("query") or {},
                required_query=frozenset(op.get("requiredQuery") or ()),
                path_params={p: {"type": "string"} for p in op.get("pathParams", ())},
                body=_writable(body),
                body_media=(op.get("bodyMedia") or "application/json") if body else None,
                response=op.get("response"),
            )
        )
    return [
        Spec(
            name=name,
            platform="google",
            base_urls=(base,),
            source=f"tests/platform_specs/google/{file}",
            document={**doc, "requests": _writable(doc.get("schemas") or {})},
            operations=operations,
        )
        for base, operations in by_base.items()
    ]


@functools.cache
def load() -> list[Spec]:
    specs = [discovery(file, name) for file, name in DISCOVERY]
    # The newest transcribed version (the connector's API_VERSION: a test checks it).
    ads = max(HERE.glob("ads-v*.json"), key=lambda f: int(f.stem.removeprefix("ads-v")))
    specs += transcribed(ads.name, f"Google Ads API {ads.stem.removeprefix('ads-')}")
    specs += transcribed("oauth2.json", "Google OAuth 2.0")
    return specs
