"""Meta: the Graph API node specs the official Business SDKs are generated from.

`tests/platform_specs/meta/graph_nodes.json` holds the nodes Latchkey uses
(from facebook/facebook-business-sdk-codegen, trimmed by `refresh.py` beside
it); `graph_docs.json` the few documented facts those specs do not carry
(Facebook Login's endpoints, the parameters of every call, paging, the fields
an edge adds to its nodes, what writing to an edge answers). Converted here:

- a node read `GET /{id}?fields=...` answers the node; `fields` may name only
  the node's declared fields (and one level of a node-typed field's own:
  `business{id,name}`);
- an edge read `GET /{id}/<edge>` answers `{"data": [<node>], "paging"}`,
  the node being the edge's declared return plus the fields the edge adds;
- `POST` edges take their parameters as a form and answer their declared
  return node, plus the struct the reference documents (`success`);
  `DELETE` edges take them in the query.

`/{id}/agencies` (and `/{id}`) belong to several node types: `choose` picks
the node type from the id, as the run's earlier answers typed it (an id
listed under `owned_pages` is a Page). Ad accounts are `act_<id>` and the
person is `me`, as Meta's reference writes them, so those need no choice.
"""

from __future__ import annotations

import functools
import json
import re
import threading
from pathlib import Path
from typing import Any

from ..model import Operation, Spec
from ..recorder import RECORDER

ROOT = Path(__file__).resolve().parents[3]
FOLDER = "tests/platform_specs/meta"
NODES_FILE = f"{FOLDER}/graph_nodes.json"
DOCS_FILE = f"{FOLDER}/graph_docs.json"
GRAPH = "https://graph.facebook.com/v25.0"
WWW = "https://www.facebook.com/v25.0"

PRIMITIVES: dict[str, dict[str, Any]] = {
    "string": {"type": "string"},
    "datetime": {"type": "string"},
    "int": {"type": "integer"},
    "unsigned int": {"type": "integer"},
    "int32": {"type": "integer"},
    "float": {"type": "number"},
    "bool": {"type": "boolean"},
}
# How Meta's reference writes a node's id in a path.
PATHS = {
    "User": "/me",
    "AdAccount": "/act_{ad_account_id}",
    "Business": "/{business_id}",
    "BusinessUser": "/{business_user_id}",
    "Page": "/{page_id}",
    "AdsPixel": "/{ads_pixel_id}",
    "ProductCatalog": "/{product_catalog_id}",
    "InstagramBusinessAsset": "/{instagram_business_asset_id}",
}


def _read(path: str) -> Any:
    return json.loads((ROOT / path).read_text())


class _Converter:
    def __init__(self, nodes: dict[str, Any], enums: dict[str, list[str]], docs: dict[str, Any]):
        self.nodes, self.enums, self.docs = nodes, enums, docs
        self.edge_fields = {(e["node"], e["edge"]): e["fields"] for e in docs["edge_fields"]}

    # ---------------------------------------------------------- types

    def schema(self, type_name: str) -> dict[str, Any]:
        name = type_name.strip()
        inner = re.fullmatch(r"list<(.*)>", name)
        if inner:
            return {"type": "array", "items": self.schema(inner[1])}
        if name == "list":
            return {"type": "array"}
        if name.startswith("map"):
            return {"type": "object", "additionalProperties": True}
        if name in PRIMITIVES:
            return dict(PRIMITIVES[name])
        if name in self.enums:
            return {"type": "string", "enum": list(self.enums[name])}
        if name in self.nodes:
            return {"$ref": f"#/$defs/{name}"}
        if name.lower() == "object":
            return {}  # the SDK types it only as an object: nothing to hold it to
        # A node whose spec is not kept: an object with nothing declared inside.
        return {"type": "object"}

    def fields(self, node: str) -> dict[str, str]:
        return {f["name"]: f["type"] for f in self.nodes[node]["fields"]}

    def properties(self, fields: dict[str, str]) -> dict[str, Any]:
        return {name: self.schema(kind) for name, kind in fields.items()}

    def node_of(self, type_name: str) -> str | None:
        inner = re.fullmatch(r"list<(.*)>", type_name)
        name = inner[1] if inner else type_name
        return name if name in self.nodes else None

    def fields_param(self, fields: dict[str, str]) -> dict[str, Any]:
        """`fields=` naming only these fields (and one level inside node-typed ones)."""
        items = []
        for name, kind in sorted(fields.items()):
            sub = self.node_of(kind)
            if sub:
                inner = "|".join(sorted(self.fields(sub)))
                items.append(f"{name}(?:\\{{(?:{inner})(?:,(?:{inner}))*\\}})?")
            else:
                items.append(name)
        item = "(?:" + "|".join(items) + ")"
        return {"type": "string", "pattern": f"^{item}(?:,{item})*$"}

    # ----------------------------------------------------- operations

    def common(self, group: str) -> dict[str, Any]:
        return self.properties(self.docs["parameters"][group])

    def params(self, api: dict[str, Any]) -> tuple[dict[str, Any], frozenset[str]]:
        given = api.get("params", [])
        schemas = {p["name"]: self.schema(p["type"]) for p in given}
        return schemas, frozenset(p["name"] for p in given if p.get("required"))

    def write_return(self, method: str, node: str, edge: str) -> dict[str, str]:
        for entry in self.docs["write_returns"]:
            if (entry["method"], entry["edge"]) == (method, edge) and entry["node"] in (node, "*"):
                return entry["fields"]
        return {}

    def operation(self, node: str, index: int, api: dict[str, Any]) -> Operation:
        method, edge = api["method"], api.get("endpoint")
        base = PATHS[node]
        path = f"{base}/{edge}" if edge else base
        where = f"{NODES_FILE}#/nodes/{node}/apis/{index}"
        op_id = f"{node}/{method} {edge}" if edge else f"{node}/{api['name']}"
        params, required = self.params(api)
        query = self.common("every_call")
        returned = api.get("return") or "Object"
        if method == "GET":
            extra = self.edge_fields.get((node, edge), {}) if edge else {}
            item = self.schema(returned)
            if extra:
                item = {"allOf": [item, {"type": "object", "properties": self.properties(extra)}]}
            shown = {**(self.fields(returned) if returned in self.nodes else {}), **extra}
            query.update(params)
            query["fields"] = self.fields_param(shown)
            if not edge:
                return Operation(method, path, op_id, where, query, required, response=item)
            query.update(self.common("edge_reads"))
            response = {
                "type": "object",
                "properties": {
                    "data": {"type": "array", "items": item},
                    "paging": {"$ref": "#/$defs/Paging"},
                },
                "required": ["data"],
            }
            return Operation(method, path, op_id, where, query, required, response=response)
        struct = self.write_return(method, node, edge or "")
        answer: dict[str, Any] = {"type": "object", "properties": self.properties(struct)}
        if returned in self.nodes:
            answer = {"anyOf": [answer, {"allOf": [self.schema(returned), answer]}]}
        if method == "DELETE":
            query.update(params)
            return Operation(method, path, op_id, where, query, required, response=answer)
        body = {"type": "object", "properties": params, "required": sorted(required)}
        return Operation(
            method, path, op_id, where, query, body=body,
            body_media="application/x-www-form-urlencoded", response=answer,
        )  # fmt: skip

    def graph_spec(self) -> Spec:
        defs = {
            name: {"type": "object", "properties": self.properties(self.fields(name))}
            for name in self.nodes
        }
        paging = self.docs["paging"]["fields"]
        cursors = {"type": "object", "properties": self.properties(paging["cursors"])}
        defs["Paging"] = {
            "type": "object",
            "properties": {
                "cursors": cursors,
                **self.properties({k: v for k, v in paging.items() if k != "cursors"}),
            },
        }
        operations = [
            self.operation(node, index, api)
            for node, spec in self.nodes.items()
            if node in PATHS
            for index, api in enumerate(spec["apis"])
        ]
        return Spec(
            name="Meta Graph API v25.0 (SDK codegen node specs)",
            platform="meta",
            base_urls=(GRAPH,),
            source=f"{NODES_FILE} (+ {DOCS_FILE})",
            document={"$defs": defs},
            operations=operations,
            choose=_choose,
        )

    def login_specs(self) -> list[Spec]:
        specs = []
        for key, base in (("dialog", WWW), ("access_token", GRAPH + "/oauth")):
            entry = self.docs["oauth"][key]
            path = entry["url"].removeprefix(base)
            query = {
                name: kind if isinstance(kind, dict) else self.schema(kind)
                for name, kind in entry["query"].items()
            }
            response = None
            if "response" in entry:
                response = {"type": "object", "properties": self.properties(entry["response"])}
            operation = Operation(
                entry["method"], path, f"facebook-login/{key}", f"{DOCS_FILE}#/oauth/{key}",
                query, frozenset(entry["required"]), response=response,
            )  # fmt: skip
            specs.append(
                Spec(
                    name=f"Facebook Login ({key}, documented)",
                    platform="meta",
                    base_urls=(base,),
                    source=DOCS_FILE,
                    document={},
                    operations=[operation],
                )
            )
        return specs


# -------------------------------------------------------------- choose

_TYPES: dict[str, str] = {}
_SEEN = [0]
_LOCK = threading.Lock()


@functools.cache
def _edge_returns() -> dict[str, set[str]]:
    returns: dict[str, set[str]] = {}
    for spec in _read(NODES_FILE)["nodes"].values():
        for api in spec["apis"]:
            if api["method"] == "GET" and api.get("endpoint"):
                returns.setdefault(api["endpoint"], set()).add(api["return"])
    return returns


def _note(node_type: str, item: Any, nodes: dict[str, Any]) -> None:
    if not isinstance(item, dict):
        return
    if isinstance(item.get("id"), str):
        _TYPES.setdefault(item["id"], node_type)
    for field in nodes.get(node_type, {}).get("fields", []):
        inner = field["type"].removeprefix("list<").removesuffix(">")
        if inner in nodes and field["name"] in item:
            value = item[field["name"]]
            for sub in value if isinstance(value, list) else [value]:
                _note(inner, sub, nodes)


def node_types() -> dict[str, str]:
    """Node type by id, from the edges' answers recorded so far in this run."""
    nodes = _read_nodes()
    with _LOCK:
        calls = RECORDER.calls[_SEEN[0] :]
        _SEEN[0] += len(calls)
        for call in calls:
            if call.platform != "meta" or not 200 <= call.status < 300:
                continue
            parts = call.url.removeprefix(GRAPH).strip("/").split("/")
            returns = _edge_returns().get(parts[-1]) if len(parts) == 2 else None
            data = call.response.get("data") if isinstance(call.response, dict) else None
            if returns and len(returns) == 1 and isinstance(data, list):
                (node_type,) = returns
                for item in data:
                    _note(node_type, item, nodes)
        return dict(_TYPES)


@functools.cache
def _read_nodes() -> dict[str, Any]:
    return _read(NODES_FILE)["nodes"]


def _choose(candidates: list[Operation], call: Any) -> list[Operation]:
    node_id = call.url.removeprefix(GRAPH).strip("/").split("/")[0]
    node_type = node_types().get(node_id)
    if node_type is None:
        return candidates  # never typed in this run: any of them may accept it
    return [op for op in candidates if op.operation_id.startswith(node_type + "/")] or candidates


@functools.cache
def load() -> list[Spec]:
    data = _read(NODES_FILE)
    converter = _Converter(data["nodes"], data["enums"], _read(DOCS_FILE))
    return [converter.graph_spec(), *converter.login_specs()]
