"""What a platform's published description says, in one form for every platform.

Each platform's description comes in its own format (Pinterest's OpenAPI file,
Google's discovery documents and Ads protos, Meta's SDK codegen specs, TikTok's
SDK OpenAPI files, LinkedIn's documented pages transcribed). An adapter in
`tests/conformance/specs/<name>.py` reads it and returns `Spec`s of
`Operation`s; the checker (`checker.py`) knows only this form.

Schemas are JSON Schema (draft 2020-12). Adapters convert what is not (OpenAPI
3.0's `nullable`, discovery's bare `$ref` names). A `$ref` inside an
operation's schema is a JSON pointer ("#/...") into `Spec.document`.

How strict the checker is about objects: a property is declared when a
`properties` or `patternProperties` of the schema at that place (through
`$ref`, `allOf`, `anyOf`, `oneOf`, `items`) names it, or when
`additionalProperties` there is a schema or `true`, explicitly. Anything else
is undeclared: the connector may not send it, the sandbox may not answer it,
and the connector may not read it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

Schema = Mapping[str, Any]


@dataclass(frozen=True)
class Operation:
    method: str  # upper case: "GET", "POST", ...
    path: str  # template relative to the spec's base URL: "/businesses/{business_id}/invites"
    operation_id: str  # the description's own name for it, e.g. "invites/create"
    where: str  # where it stands in the description file (a pointer or a short locator)
    query: Mapping[str, Schema] = field(default_factory=dict)  # declared query parameters
    required_query: frozenset[str] = frozenset()
    path_params: Mapping[str, Schema] = field(default_factory=dict)
    # The request body: a JSON body, or form fields described as an object.
    body: Schema | None = None
    body_media: str | None = None  # "application/json" or "application/x-www-form-urlencoded"
    # The success answer (2xx). None: the description declares no body.
    response: Schema | None = None


@dataclass
class Spec:
    name: str  # "Pinterest API v5"
    platform: str  # the connector id: "pinterest", "meta", "google", "tiktok", "linkedin"
    base_urls: tuple[str, ...]  # the real base URLs it describes: ("https://api.pinterest.com/v5",)
    source: str  # the description file, relative to the repository root
    document: Mapping[str, Any]  # the root every "$ref": "#/..." of the schemas resolves in
    operations: list[Operation]
    # Optional: pick among several operations whose method and path template
    # all match one request (Meta's "/{id}/agencies" is an edge of several
    # node types). Gets the candidates and the recorded call; returns the ones
    # to check against. Without it, a call conforms if any candidate accepts it.
    choose: Callable[[list[Operation], Any], list[Operation]] | None = None
