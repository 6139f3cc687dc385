"""Re-create `openapi.json` here: Pinterest's API v5 description, trimmed.

The source is `v5/openapi.json` of https://github.com/pinterest/api-description
(MIT licence, 2 MB). Latchkey keeps only the operations its connector and
sandbox use, the components those operations reach (schemas, parameters,
discriminator targets, security schemes), the document's header, and (under
`x-latchkey-error-examples`) every error `{code, message}` example of the
whole description, where Pinterest publishes its error codes. Nothing is rewritten:
converting OpenAPI 3.0 to JSON Schema is the adapter's job
(`tests/conformance/specs/pinterest.py`).

    python tests/platform_specs/pinterest/refresh.py [SOURCE]

SOURCE is a local copy of the file, or a git directory of the repository
(read at COMMIT); without it, the file is downloaded at COMMIT. After a
refresh, update COMMIT here and in `tests/platform_specs/README.md`, then run
the Pinterest tests: the conformance checker reads the new description.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

REPOSITORY = "pinterest/api-description"
PATH = "v5/openapi.json"
COMMIT = "c05b18971472342ebdf4bafc15fea8a91c78bf79"
HERE = Path(__file__).resolve().parent
TARGET = HERE / "openapi.json"

# (method, path) of every operation Latchkey sends or the sandbox serves.
OPERATIONS: tuple[tuple[str, str], ...] = (
    ("post", "/oauth/token"),
    ("get", "/user_account"),
    ("get", "/user_account/businesses"),  # served by the sandbox; the connector does not use it
    ("get", "/businesses/employers"),
    ("get", "/ad_accounts"),
    ("get", "/ad_accounts/{ad_account_id}/conversion_tags"),
    ("get", "/ad_accounts/{ad_account_id}/conversion_tags/page_visit"),
    ("get", "/boards"),
    ("get", "/catalogs"),
    ("get", "/businesses/{business_id}/assets"),
    ("get", "/businesses/{business_id}/invites"),
    ("post", "/businesses/{business_id}/invites"),
    ("patch", "/businesses/invites"),
    ("patch", "/businesses/{business_id}/partners/assets"),
    ("delete", "/businesses/{business_id}/partners/assets"),
    ("get", "/businesses/{business_id}/partners/{partner_id}/assets"),
)


def read_source(source: str | None) -> dict[str, Any]:
    if source is None:
        url = f"https://raw.githubusercontent.com/{REPOSITORY}/{COMMIT}/{PATH}"
        with urllib.request.urlopen(url, timeout=60) as answer:
            return json.load(answer)
    where = Path(source)
    if where.is_dir():
        shown = subprocess.run(
            ["git", "-C", str(where), "show", f"{COMMIT}:{PATH}"],
            check=True,
            capture_output=True,
        )
        return json.loads(shown.stdout)
    return json.loads(where.read_text(encoding="utf-8"))


def _pointers(node: Any) -> set[str]:
    """Every "#/..." pointer the node names: `$ref`s and discriminator mappings."""
    found: set[str] = set()
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/"):
            found.add(ref)
        mapping = (node.get("discriminator") or {}).get("mapping") or {}
        found.update(v for v in mapping.values() if isinstance(v, str) and v.startswith("#/"))
        for value in node.values():
            found |= _pointers(value)
    elif isinstance(node, list):
        for value in node:
            found |= _pointers(value)
    return found


def _resolve(document: dict[str, Any], pointer: str) -> Any:
    node: Any = document
    for part in pointer[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def error_examples(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Every `{code, message}` example in the whole description: the only
    place Pinterest publishes its error codes."""
    found: dict[tuple[int, str], str] = {}

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            code, message = node.get("code"), node.get("message")
            if isinstance(code, int) and isinstance(message, str) and "example" in where:
                found.setdefault((code, message), where)
            for key, value in node.items():
                walk(value, f"{where}/{key.replace('~', '~0').replace('/', '~1')}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{where}/{index}")

    walk(document["paths"], "#/paths")
    return [
        {"code": code, "message": message, "where": where}
        for (code, message), where in sorted(found.items())
    ]


def trim(document: dict[str, Any]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for method, path in OPERATIONS:
        item = document["paths"][path]
        kept = paths.setdefault(path, {})
        kept[method] = item[method]
        if "parameters" in item:  # parameters shared by every method of the path
            kept["parameters"] = item["parameters"]
    components: dict[str, dict[str, Any]] = {}
    todo = _pointers(paths)
    seen: set[str] = set()
    while todo:
        pointer = todo.pop()
        if pointer in seen:
            continue
        seen.add(pointer)
        parts = pointer[2:].split("/")
        if parts[0] != "components" or len(parts) != 3:
            raise ValueError(f"unexpected reference {pointer}")
        target = _resolve(document, pointer)
        components.setdefault(parts[1], {})[parts[2]] = target
        todo |= _pointers(target) - seen
    # The security schemes the kept operations name (OAuth 2.0: the authorize URL, scopes).
    schemes = document["components"].get("securitySchemes", {})
    for item in paths.values():
        for method, operation in item.items():
            for requirement in operation.get("security", []) if method != "parameters" else []:
                for name in requirement:
                    components.setdefault("securitySchemes", {})[name] = schemes[name]
    return {
        "openapi": document["openapi"],
        "info": {
            **{k: v for k, v in document["info"].items() if k in ("title", "version", "license")},
            "x-latchkey-source": f"https://github.com/{REPOSITORY}/blob/{COMMIT}/{PATH}",
            "x-latchkey-note": "Trimmed by tests/platform_specs/pinterest/refresh.py",
        },
        "servers": document["servers"],
        "paths": {path: paths[path] for path in sorted(paths)},
        "components": {
            kind: {name: entries[name] for name in sorted(entries)}
            for kind, entries in sorted(components.items())
        },
        # Not OpenAPI: the error codes the whole description publishes.
        "x-latchkey-error-examples": error_examples(document),
    }


def main(argv: list[str]) -> None:
    trimmed = trim(read_source(argv[1] if len(argv) > 1 else None))
    TARGET.write_text(json.dumps(trimmed, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    count = sum(len([m for m in item if m != "parameters"]) for item in trimmed["paths"].values())
    print(
        f"{TARGET}: {count} operations, {sum(map(len, trimmed['components'].values()))} components"
    )


if __name__ == "__main__":
    main(sys.argv)
