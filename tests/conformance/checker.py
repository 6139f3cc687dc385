"""Hold a recorded call to the platform's published description.

For each call: the operation (method and path template) must exist; every
query parameter and body field must be declared, with a value the
description allows (enums included); the sandbox's answer must validate
against the operation's response schema and hold no undeclared field; and
every field the connector read must be declared for that operation.

Validation is `jsonschema` (draft 2020-12) with the description as a
`referencing` resource, so `$ref`s resolve inside it. What JSON Schema
cannot say ("is this key declared?") is the walk in `declared_child`.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from .model import Operation, Schema, Spec
from .recorder import Call, ReadPath

MAX_PROBLEMS = 8


@dataclass(frozen=True)
class Match:
    spec: Spec
    operation: Operation | None
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return self.operation is not None and not self.problems

    def label(self) -> str:
        if self.operation is None:
            return f"{self.spec.name}: no operation"
        return f"{self.operation.method} {self.operation.path} ({self.operation.operation_id})"


# ------------------------------------------------------------------ schemas


def _uri(spec: Spec) -> str:
    return f"urn:latchkey-spec:{spec.platform}:{id(spec)}"


_REGISTRIES: dict[int, Registry] = {}


def _registry(spec: Spec) -> Registry:
    registry = _REGISTRIES.get(id(spec))
    if registry is None:
        resource = DRAFT202012.create_resource(dict(spec.document))
        registry = _REGISTRIES[id(spec)] = Registry().with_resource(_uri(spec), resource)
    return registry


def _absolute_refs(schema: Any, uri: str) -> Any:
    if isinstance(schema, Mapping):
        out = {}
        for k, v in schema.items():
            local_ref = k == "$ref" and isinstance(v, str) and v.startswith("#")
            out[k] = uri + v if local_ref else _absolute_refs(v, uri)
        return out
    if isinstance(schema, list):
        return [_absolute_refs(v, uri) for v in schema]
    return schema


_VALIDATORS: dict[tuple[int, str], Draft202012Validator] = {}


def _validator(spec: Spec, schema: Schema) -> Draft202012Validator:
    key = (id(spec), json.dumps(schema, sort_keys=True, default=str))
    validator = _VALIDATORS.get(key)
    if validator is None:
        validator = Draft202012Validator(
            _absolute_refs(schema, _uri(spec)), registry=_registry(spec)
        )
        _VALIDATORS[key] = validator
    return validator


def _resolve(spec: Spec, schema: Any, seen: frozenset[str] = frozenset()) -> list[Mapping]:
    """The schema and every schema it stands for ($ref, allOf, anyOf, oneOf), flattened."""
    if not isinstance(schema, Mapping):
        return []
    out: list[Mapping] = [schema]
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref not in seen:
        out.extend(_resolve(spec, _pointer(spec.document, ref), seen | {ref}))
    for key in ("allOf", "anyOf", "oneOf"):
        for sub in schema.get(key) or ():
            out.extend(_resolve(spec, sub, seen))
    return out


def _pointer(document: Mapping, ref: str) -> Any:
    fragment = ref.split("#", 1)[1] if "#" in ref else ""
    node: Any = document
    for part in [p for p in fragment.split("/") if p]:
        part = part.replace("~1", "/").replace("~0", "~")
        node = node[int(part)] if isinstance(node, list) else node.get(part)
        if node is None:
            raise KeyError(f"{ref} does not resolve in the description")
    return node


def declared_child(spec: Spec, schema: Any, key: str) -> list[Mapping] | None:
    """The schemas of `key` inside `schema`, or None when the key is undeclared."""
    if key == "[]":
        items = [s["items"] for s in _resolve(spec, schema) if isinstance(s.get("items"), Mapping)]
        return items or None
    found: list[Mapping] = []
    open_object = False
    for sub in _resolve(spec, schema):
        props = sub.get("properties")
        if isinstance(props, Mapping) and key in props:
            found.append(props[key])
        for pattern, value in (sub.get("patternProperties") or {}).items():
            if re.search(pattern, key):
                found.append(value)
        extra = sub.get("additionalProperties")
        if extra is True or (isinstance(extra, Mapping) and extra):
            open_object = True
            if isinstance(extra, Mapping):
                found.append(extra)
    if found:
        return found
    return [{}] if open_object else None


def undeclared(spec: Spec, schema: Any, value: Any, path: str = "") -> Iterable[str]:
    """Each key of `value` (recursively) that `schema` does not declare."""
    if isinstance(value, Mapping):
        for key, child in value.items():
            schemas = declared_child(spec, schema, str(key))
            if schemas is None:
                yield f"{path}{key}"
                continue
            if any(s == {} for s in schemas):
                continue  # free-form below this point
            yield from _first_clean(spec, schemas, child, f"{path}{key}.")
    elif isinstance(value, list):
        schemas = declared_child(spec, schema, "[]")
        if schemas:
            for item in value:
                yield from _first_clean(spec, schemas, item, f"{path}[].")


def _first_clean(spec: Spec, schemas: list[Mapping], value: Any, path: str) -> Iterable[str]:
    """Undeclared keys under the alternative that declares the most (anyOf branches)."""
    best: list[str] | None = None
    for schema in schemas:
        found = sorted(set(undeclared(spec, schema, value, path)))
        if best is None or len(found) < len(best):
            best = found
        if not found:
            return []
    return best or []


def read_declared(spec: Spec, schema: Any, path: ReadPath) -> bool:
    layer: list[Any] = [schema]
    for key in path:
        following: list[Any] = []
        for sub in layer:
            children = declared_child(spec, sub, key)
            if children:
                following.extend(children)
        if not following:
            return False
        if any(s == {} for s in following):
            return True
        layer = following
    return True


# ------------------------------------------------------------------ matching


@functools.cache
def _template_regex(template: str) -> re.Pattern:
    pattern = ""
    for literal, name in re.findall(r"([^{]*)(?:\{([^}]*)\})?", template):
        pattern += re.escape(literal)
        if name:
            greedy = name.startswith("+")
            group = re.sub(r"\W", "_", name.lstrip("+"))
            pattern += f"(?P<{group}>.+)" if greedy else f"(?P<{group}>[^/]+?)"
    return re.compile(pattern + "/?$")


def _specificity(template: str) -> int:
    return len(re.sub(r"\{[^}]*\}", "", template))


def find_spec(specs: Iterable[Spec], call: Call) -> tuple[Spec, str] | None:
    best: tuple[Spec, str] | None = None
    for spec in specs:
        if spec.platform != call.platform:
            continue
        for base in spec.base_urls:
            base = base.rstrip("/")
            if (call.url == base or call.url.startswith(base + "/")) and (
                best is None or len(base) > len(best[1])
            ):
                best = (spec, base)
    return best


def candidates(spec: Spec, path: str, method: str) -> list[Operation]:
    found = [
        op for op in spec.operations if op.method == method and _template_regex(op.path).match(path)
    ]
    if not found:
        return []
    top = max(_specificity(op.path) for op in found)
    return [op for op in found if _specificity(op.path) == top]


# ------------------------------------------------------------------ checks


def _coerce(value: str, schema: Mapping, spec: Spec) -> Any:
    """A query or form value (always text) as the type its schema declares."""
    types: set[str] = set()
    for sub in _resolve(spec, schema):
        kind = sub.get("type")
        types.update([kind] if isinstance(kind, str) else kind or [])
    if "array" in types or "object" in types:
        if value[:1] in "[{":
            try:
                return json.loads(value)
            except ValueError:
                return value
        if "array" in types:
            return value.split(",") if value else []
    if "boolean" in types and value in ("true", "false"):
        return value == "true"
    if "integer" in types and re.fullmatch(r"-?\d+", value):
        return int(value)
    if "number" in types:
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _errors(spec: Spec, schema: Schema, value: Any, what: str) -> list[str]:
    out = []
    for error in _validator(spec, schema).iter_errors(value):
        where = "/".join(str(p) for p in error.absolute_path)
        out.append(f"{what}{'.' + where if where else ''}: {error.message[:200]}")
    return out


def _param_values(
    spec: Spec, declared: Mapping[str, Schema], given: Mapping[str, list[str]], what: str
) -> list[str]:
    problems = []
    for name, values in given.items():
        schema = declared.get(name)
        if schema is None:
            problems.append(f"{what} `{name}` is not declared")
            continue
        for raw in values:
            problems.extend(_errors(spec, schema, _coerce(raw, schema, spec), f"{what} `{name}`"))
    return problems


def check_request(spec: Spec, op: Operation, call: Call, path: str) -> list[str]:
    problems = _param_values(spec, op.query, call.query, "query parameter")
    missing = op.required_query - set(call.query)
    problems += [f"required query parameter `{name}` is missing" for name in sorted(missing)]
    match = _template_regex(op.path).match(path)
    if match and op.path_params:
        for name, value in match.groupdict().items():
            schema = op.path_params.get(name)
            if schema is not None:
                problems += _errors(spec, schema, _coerce(value, schema, spec), f"path `{name}`")
    if call.body is not None:
        if op.body is None:
            problems.append("sends a body; the operation declares none")
        else:
            body = call.body
            if call.body_media == "application/x-www-form-urlencoded":
                body = {}
                for name, values in call.body.items():
                    schemas = declared_child(spec, op.body, name) or [{}]
                    body[name] = _coerce(values[-1], schemas[0], spec)
            problems += _errors(spec, op.body, body, "body")
            extra = undeclared(spec, op.body, body)
            problems += [f"body field `{k}` is not declared" for k in extra]
    return problems


def check_response(spec: Spec, op: Operation, call: Call) -> list[str]:
    if not 200 <= call.status < 300 or call.response is None:
        return []
    if op.response is None:
        return ["the sandbox answers a body; the operation declares none"]
    problems = _errors(spec, op.response, call.response, "answer")
    problems += [
        f"the sandbox answers `{k}`, which the operation does not declare"
        for k in undeclared(spec, op.response, call.response)
    ]
    return problems


def check_reads(spec: Spec, op: Operation, call: Call) -> list[str]:
    if not 200 <= call.status < 300:
        return []  # error bodies are read by portal.platforms.http, by shape
    schema = op.response or {"type": "object", "properties": {}}
    return [
        f"the connector reads `{'.'.join(path)}`, which the operation does not declare"
        for path in sorted(call.reads)
        if not read_declared(spec, schema, path)
    ]


def check(specs: Iterable[Spec], call: Call, with_reads: bool = False) -> Match | None:
    """The operation `call` conforms to, or the problems; None if no description covers it."""
    found = find_spec(specs, call)
    if found is None:
        return None
    spec, base = found
    path = call.url[len(base) :] or "/"
    ops = candidates(spec, path, call.method)
    if not ops:
        return Match(spec, None, (f"{call.method} {path}: no such operation in {spec.source}",))
    if spec.choose is not None and len(ops) > 1:
        ops = spec.choose(ops, call) or ops
    best: Match | None = None
    for op in ops:
        problems = check_request(spec, op, call, path) + check_response(spec, op, call)
        if with_reads:
            problems += check_reads(spec, op, call)
        match = Match(spec, op, tuple(problems[:MAX_PROBLEMS]))
        if match.ok:
            return match
        if best is None or len(match.problems) < len(best.problems):
            best = match
    return best


def explain(call: Call, match: Match | None) -> str:
    if match is None:
        return (
            f"{call.platform}: {call.describe()} is not covered by any platform description "
            "(tests/platform_specs/): add the description, or stop calling it"
        )
    lines = [
        f"{call.platform}: {call.describe()} does not match {match.label()} "
        f"in {match.spec.source} ({match.spec.name}):"
    ]
    lines += [f"    - {p}" for p in match.problems]
    return "\n".join(lines)
