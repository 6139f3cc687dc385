"""LinkedIn: the operations Latchkey uses, transcribed from LinkedIn's pages, as `Spec`s.

LinkedIn publishes no machine-readable description of its Marketing API.
`tests/platform_specs/linkedin/operations.json` holds the operations
Latchkey uses, transcribed from LinkedIn's documentation pages on
learn.microsoft.com (each operation names its page and the file names the
LinkedIn-Version it describes). It is already JSON Schema 2020-12; its
`$ref`s point into the file's own `schemas`, so the file is the `Spec`'s
document as it is.

One `Spec` per base URL: the versioned Marketing API (`/rest`), the v2
profile (`/v2/me`), and the OAuth 2.0 token endpoint.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from ..model import Operation, Spec

ROOT = Path(__file__).resolve().parents[3]
SOURCE = "tests/platform_specs/linkedin/operations.json"


def _operation(spec_index: int, index: int, raw: dict[str, Any]) -> Operation:
    return Operation(
        method=raw["method"],
        path=raw["path"],
        operation_id=raw["id"],
        where=f"{SOURCE}#/specs/{spec_index}/operations/{index} ({raw['doc']})",
        query=raw.get("query", {}),
        required_query=frozenset(raw.get("required_query", [])),
        path_params=raw.get("path_params", {}),
        body=raw.get("body"),
        body_media=raw.get("body_media"),
        response=raw.get("response"),
    )


@functools.cache
def load() -> list[Spec]:
    document = json.loads((ROOT / SOURCE).read_text(encoding="utf-8"))
    return [
        Spec(
            name=raw["name"],
            platform="linkedin",
            base_urls=(raw["base_url"],),
            source=SOURCE,
            document=document,
            operations=[_operation(s, i, op) for i, op in enumerate(raw["operations"])],
        )
        for s, raw in enumerate(document["specs"])
    ]
