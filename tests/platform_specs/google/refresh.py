"""Re-create `ads-vNN.json` and `errors.json` from protos in googleapis/googleapis.

Google Ads publishes its API as protocol buffers: each service's `rpc` names
its REST rule (`google.api.http`), and the request and response messages
are the JSON bodies (proto3 JSON mapping: lowerCamel field names, int64 as
strings, enums by name, FieldMask as a comma-separated string). This script
reads just the protos of the operations Latchkey uses, with the messages and
enums they reach, and writes them as JSON Schema in one file the conformance
adapter (`tests/conformance/specs/google.py`) loads. Facts only: paths,
methods, field names and enum values, each naming the proto it comes from.

    python tests/platform_specs/google/refresh.py /path/to/googleapis [commit] [version]

The first argument is a clone (or bare mirror) of
https://github.com/googleapis/googleapis; the commit defaults to HEAD and the
version to the connector's `API_VERSION`. `errors.json` holds what every
Google API's errors may carry (status names, ErrorInfo reasons), so the
sandbox's errors can be checked against it.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = "google/ads/googleads/{v}"
# The operations Latchkey calls: (proto file under services/, service, rpc).
OPERATIONS = (
    ("customer_service.proto", "CustomerService", "ListAccessibleCustomers"),
    ("google_ads_service.proto", "GoogleAdsService", "Search"),
    ("customer_client_link_service.proto", "CustomerClientLinkService", "MutateCustomerClientLink"),
    (
        "customer_manager_link_service.proto",
        "CustomerManagerLinkService",
        "MutateCustomerManagerLink",
    ),
)
# GoogleAdsRow has a field per resource; Latchkey's queries select only these.
ROW_FIELDS = ("customer", "customer_client", "customer_client_link", "customer_manager_link")
# Error enums the sandbox answers with (GoogleAdsFailure.errors[].errorCode), by
# their ErrorCode field.
ERRORS = (
    "authentication_error",
    "authorization_error",
    "field_error",
    "manager_link_error",
    "query_error",
    "request_error",
)
SCALARS = {
    "string": {"type": "string"},
    "bytes": {"type": "string"},
    "bool": {"type": "boolean"},
    "double": {"type": "number"},
    "float": {"type": "number"},
    **{t: {"type": "integer"} for t in ("int32", "uint32", "sint32", "fixed32", "sfixed32")},
    # proto3 JSON writes 64-bit integers as strings.
    **{
        t: {"type": "string", "pattern": "^-?[0-9]+$"}
        for t in ("int64", "uint64", "sint64", "fixed64", "sfixed64")
    },
    "google.protobuf.FieldMask": {"type": "string"},  # "a.b,c" in lowerCamel
}
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[A-Za-z_][\w.]*|-?\d+|[{}\[\]();=<>,:]')


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class Protos:
    """The protos of one commit, parsed on demand: messages, enums and rpcs."""

    def __init__(self, repo: str, commit: str, version: str):
        self.repo, self.commit, self.version = repo, commit, version
        self.root = ROOT.format(v=version)
        self.messages: dict[str, tuple[str, list[dict]]] = {}  # name -> (file, fields)
        self.enums: dict[str, tuple[str, list[str]]] = {}  # qualified name -> (file, values)
        self.rpcs: dict[tuple[str, str], dict] = {}
        self.files: list[str] = []
        self.imports: dict[str, list[str]] = {}

    def read(self, path: str) -> None:
        if path in self.files:
            return
        text = subprocess.run(
            ["git", "-C", self.repo, "show", f"{self.commit}:{path}"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        text = re.sub(r'("(?:[^"\\]|\\.)*")|//[^\n]*', lambda m: m.group(1) or "", text)
        text = re.sub(r"\s*\.\s*(?=[A-Za-z_])", ".", text)  # a type name split over lines
        self.files.append(path)
        self.imports[path] = re.findall(r'^import "([^"]+)";', text, re.MULTILINE)
        tokens = _TOKEN.findall(text)
        self._block(tokens, 0, path, "", None)

    # -- a small recursive-descent reader of the proto3 subset Google Ads uses
    def _block(self, t: list[str], i: int, path: str, outer: str, fields: list | None) -> int:
        while i < len(t) and t[i] != "}":
            word = t[i]
            if word in ("message", "enum", "service") and t[i + 2] == "{":
                name = t[i + 1]
                if word == "message":
                    own: list[dict] = []
                    i = self._block(t, i + 3, path, f"{outer}{name}.", own)
                    self.messages[name] = (path, own)
                elif word == "enum":
                    values, i = [], i + 3
                    while t[i] != "}":
                        if t[i + 1] == "=":
                            values.append(t[i])
                        i = _skip_statement(t, i)
                    self.enums[f"{outer}{name}"] = (path, values)
                    i += 1
                else:
                    i = self._service(t, i + 3, path, name)
            elif word == "oneof" and t[i + 2] == "{":
                i = self._block(t, i + 3, path, outer, fields)
            elif word in ("syntax", "package", "import", "option", "reserved", "extensions"):
                i = _skip_statement(t, i)
            elif fields is not None:
                label = word if word in ("optional", "repeated") else ""
                j = i + 1 if label else i
                kind = t[j]
                if kind == "map":  # map<K, V> name = n;
                    kind, j = f"map<{t[j + 2]},{t[j + 4]}>", j + 5
                end = _skip_statement(t, j)
                fields.append(
                    {
                        "label": label,
                        "type": kind,
                        "name": t[j + 1],
                        # google.api.field_behavior: a field no request may set.
                        "output_only": "OUTPUT_ONLY" in t[j:end],
                    }
                )
                i = end
            else:
                i = _skip_statement(t, i)
        return i + 1

    def _service(self, t: list[str], i: int, path: str, service: str) -> int:
        while t[i] != "}":
            if t[i] != "rpc":
                i = _skip_statement(t, i)
                continue
            name, request, response = t[i + 1], t[i + 3], t[i + 7]
            i += 9
            rule: dict[str, str] = {}
            if t[i] == "{":
                depth, i = 1, i + 1
                while depth:
                    if t[i] == "google.api.http":
                        k = i + 4
                        while t[k] != "}":
                            rule[t[k]] = json.loads(t[k + 2])
                            k += 3
                    depth += {"{": 1, "}": -1}.get(t[i], 0)
                    i += 1
            else:
                i += 1
            self.rpcs[(service, name)] = {
                "request": request,
                "response": response,
                "rule": rule,
                "file": path,
            }
        return i + 1

    # -- lookups, reading the imported file that defines a type when first needed
    def _short(self, qualified: str) -> str:
        return re.sub(rf"^google\.ads\.googleads\.{self.version}\.\w+\.", "", qualified)

    def _find(self, table: dict, qualified: str, where: str):
        short = self._short(qualified)
        key = short if table is self.enums else short.rsplit(".", 1)[-1]
        if key not in table:
            wanted = snake(short.split(".")[-1])
            mine = [i for i in self.imports.get(where, ()) if i.startswith(self.root)]
            likely = [i for i in mine if Path(i).stem.removesuffix("_enum") == wanted]
            for path in likely or mine:
                self.read(path)
                if key in table:
                    break
        return table.get(key)

    def enum(self, qualified: str, where: str) -> tuple[str, list[str]] | None:
        return self._find(self.enums, qualified, where)

    def message(self, qualified: str, where: str) -> tuple[str, list[dict]] | None:
        return self._find(self.messages, qualified, where)


def _skip_statement(t: list[str], i: int) -> int:
    """The token after the statement at i (its ';', or its balanced block)."""
    depth = 0
    while i < len(t):
        if t[i] in "{[(":
            depth += 1
        elif t[i] in "}])":
            depth -= 1
            if depth == 0 and t[i] == "}":
                return i + 2 if i + 1 < len(t) and t[i + 1] == ";" else i + 1
        elif t[i] == ";" and depth == 0:
            return i + 1
        i += 1
    return i


def build(repo: str, commit: str, version: str) -> dict:
    protos = Protos(repo, commit, version)
    schemas: dict[str, dict] = {}

    def schema_of(kind: str, where: str) -> dict:
        if kind in SCALARS:
            return dict(SCALARS[kind])
        if kind.startswith("map<"):
            _k, value = kind[4:-1].split(",")
            return {"type": "object", "additionalProperties": schema_of(value, where)}
        if kind.rsplit(".", 2)[-2:-1] and kind.rsplit(".", 2)[-2].endswith("Enum"):
            enum = protos.enum(kind, where)  # Google Ads wraps each enum in an XEnum message
            if enum is None:
                return {"type": "string", "description": f"{kind}: not transcribed"}
            return {"type": "string", "enum": enum[1], "x-proto": enum[0]}
        name = kind.rsplit(".", 1)[-1]
        if name not in schemas:
            found = protos.message(kind, where)
            if found is None:
                return {"type": "object", "description": f"{kind}: not transcribed"}
            schemas[name] = {}  # reserve the name: messages may refer to themselves
            path, fields = found
            if name == "GoogleAdsRow":
                fields = [f for f in fields if f["name"] in ROW_FIELDS]
            properties = {}
            for field in fields:
                one = schema_of(field["type"], path)
                if field["label"] == "repeated":
                    one = {"type": "array", "items": one}
                if field["output_only"]:
                    one = {**one, "readOnly": True}
                properties[camel(field["name"])] = one
            schemas[name] = {"type": "object", "x-proto": path, "properties": properties}
            if name == "GoogleAdsRow":
                schemas[name]["description"] = "Trimmed to the resources Latchkey queries."
        return {"$ref": f"#/schemas/{name}"}

    operations = []
    for file, service, rpc in OPERATIONS:
        protos.read(f"{protos.root}/services/{file}")
        found = protos.rpcs[(service, rpc)]
        rule = found["rule"]
        method = next(m for m in ("get", "post", "patch", "put", "delete") if m in rule)
        template = rule[method]
        bound = re.findall(r"\{(\w+)(?:=[^}]*)?\}", template)
        path = re.sub(r"\{(\w+)=[^}]*\}", r"{\1}", template).removeprefix(f"/{version}")
        operation = {
            "id": f"{service}.{rpc}",
            "proto": found["file"],
            "method": method.upper(),
            "path": path,
            "pathParams": bound,
            "response": schema_of(found["response"], found["file"]),
        }
        request = schema_of(found["request"], found["file"])
        if rule.get("body") == "*":
            # Every request field the path does not carry is in the JSON body.
            whole = schemas[request["$ref"].rsplit("/", 1)[-1]]
            props = {k: v for k, v in whole["properties"].items() if k not in map(camel, bound)}
            operation["body"] = {"type": "object", "properties": props}
        operations.append(operation)

    where = f"{protos.root}/errors/errors.proto"
    protos.read(where)
    codes = {f["name"]: f["type"] for f in protos.messages["ErrorCode"][1]}
    errors = {camel(name): protos.enum(codes[name], where)[1] for name in ERRORS}
    return {
        "description": (
            f"Google Ads API {version} (REST), transcribed from its protos by refresh.py: "
            "the operations Latchkey calls, their JSON request bodies and answers (proto3 "
            "JSON mapping; readOnly marks OUTPUT_ONLY fields), and the error codes the "
            "sandbox may answer."
        ),
        "source": {
            "repository": "https://github.com/googleapis/googleapis",
            "commit": commit,
            "licence": "Apache-2.0",
            "files": sorted(protos.files),
        },
        "baseUrl": f"https://googleads.googleapis.com/{version}",
        "operations": operations,
        "errorCodes": errors,
        "schemas": dict(sorted(schemas.items())),
    }


def shared_errors(repo: str, commit: str) -> dict:
    """What every Google API's errors may say: status names and ErrorInfo reasons."""
    protos = Protos(repo, commit, "")
    protos.read("google/rpc/code.proto")
    protos.read("google/api/error_reason.proto")
    return {
        "description": (
            "What any Google API's error may carry, transcribed by refresh.py: "
            "error.status (google.rpc.Code) and the reason of a google.rpc.ErrorInfo detail "
            "in the googleapis.com domain (google.api.ErrorReason)."
        ),
        "source": {
            "repository": "https://github.com/googleapis/googleapis",
            "commit": commit,
            "licence": "Apache-2.0",
            "files": sorted(protos.files),
        },
        "statusNames": protos.enums["Code"][1],
        "errorInfoReasons": protos.enums["ErrorReason"][1],
    }


def main(argv: list[str]) -> None:
    repo = argv[1] if len(argv) > 1 else "/work/.mirror/googleapis+googleapis/repo"
    commit = argv[2] if len(argv) > 2 else "HEAD"
    if len(argv) > 3:
        version = argv[3]
    else:
        sys.path.insert(0, str(HERE.parents[2]))
        from portal.platforms.google.ads import API_VERSION as version
    commit = subprocess.run(
        ["git", "-C", repo, "rev-parse", commit], check=True, capture_output=True, text=True
    ).stdout.strip()
    for out, content in (
        (HERE / f"ads-{version}.json", build(repo, commit, version)),
        (HERE / "errors.json", shared_errors(repo, commit)),
    ):
        out.write_text(json.dumps(content, indent=1) + "\n")
        print(f"wrote {out.relative_to(HERE.parents[2])} from googleapis@{commit[:12]}")


if __name__ == "__main__":
    main(sys.argv)
