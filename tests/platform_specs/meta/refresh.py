"""Re-create `graph_nodes.json` from Meta's SDK codegen node specs.

The official Business SDKs (Python, PHP, Node, Java, Ruby) are generated from
the Graph API node specs in facebook/facebook-business-sdk-codegen,
`api_specs/specs/<Node>.json` (each node's fields and edges) and
`api_specs/specs/enum_types.json`. The whole set is about 1,000 files and
several megabytes; this script keeps what Latchkey uses: every field of the
nodes below (so a `fields=` list is checked against all the node declares)
and only the edges Latchkey calls, plus the enums those name.

    python tests/platform_specs/meta/refresh.py [SOURCE] [--commit SHA]

SOURCE is a checkout or a bare git directory of the repository; without it
the repository is cloned from GitHub into a temporary directory. The commit
defaults to COMMIT below: change it (and the README beside this file) to
move to newer specs, and check that their `version.txt` is the Graph API
version of portal/platforms/versions.py.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

REPOSITORY = "https://github.com/facebook/facebook-business-sdk-codegen"
COMMIT = "ad2b0b6fdfbe4d73ed0754cb4562ef20b72b40d4"  # 2026-04-15, Graph API v25.0
SPECS = "api_specs/specs"
HERE = Path(__file__).resolve().parent
OUTPUT = HERE / "graph_nodes.json"

AGENCIES = ["#get", "GET agencies", "POST agencies", "DELETE agencies"]
# node -> the APIs kept ("#get" is the node read; "METHOD edge" an edge).
KEEP: dict[str, list[str]] = {
    "User": ["#get", "GET businesses", "GET business_users", "GET adaccounts", "GET permissions"],
    "Business": [
        "#get",
        "GET owned_ad_accounts",
        "GET owned_pages",
        "GET owned_pixels",
        "GET owned_product_catalogs",
        "GET owned_instagram_assets",
        "GET client_ad_accounts",
        "GET client_pages",
        "GET client_pixels",
        "GET client_product_catalogs",
        "GET client_instagram_assets",
        "GET pending_client_ad_accounts",
        "GET pending_client_pages",
    ],
    "BusinessUser": ["#get"],
    "BusinessAdAccountRequest": [],
    "BusinessPageRequest": [],
    "Permission": [],
    "AdAccount": AGENCIES,
    "Page": AGENCIES,
    "AdsPixel": AGENCIES,
    "ProductCatalog": AGENCIES,
    "InstagramBusinessAsset": AGENCIES,
}


def _git(source: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(source), *args], check=True, capture_output=True, text=True
    ).stdout


def _api_key(api: dict) -> str:
    return api["name"] if "endpoint" not in api else f"{api['method']} {api['endpoint']}"


def _type_names(type_name: str) -> list[str]:
    """`list<map<string, Foo>>` -> ["list", "map", "string", "Foo"]."""
    return re.findall(r"[A-Za-z0-9_]+", type_name)


def trim(source: Path, commit: str) -> dict:
    def read(name: str) -> dict | list:
        return json.loads(_git(source, "show", f"{commit}:{SPECS}/{name}"))

    nodes: dict[str, dict] = {}
    used_types: set[str] = set()
    for node, wanted in KEEP.items():
        spec = read(f"{node}.json")
        apis = {_api_key(api): api for api in spec.get("apis", [])}
        missing = [key for key in wanted if key not in apis]
        if missing:
            raise SystemExit(f"{node}: not in the specs at {commit}: {', '.join(missing)}")
        kept = [apis[key] for key in wanted]
        nodes[node] = {"fields": spec["fields"], "apis": kept}
        for item in spec["fields"]:
            used_types.update(_type_names(item["type"]))
        for api in kept:
            for param in api.get("params", []):
                used_types.update(_type_names(param["type"]))
    enums = {
        entry["name"]: entry["values"]
        for entry in read("enum_types.json")
        if entry["name"] in used_types
    }
    version = _git(source, "show", f"{commit}:{SPECS}/version.txt").strip()
    return {
        "source": {
            "repository": REPOSITORY,
            "path": f"{SPECS}/<Node>.json, {SPECS}/enum_types.json",
            "commit": commit,
            "graph_api_version": version,
            "licence": "see LICENSE beside this file (the repository's LICENSE)",
        },
        "nodes": nodes,
        "enums": dict(sorted(enums.items())),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", nargs="?", type=Path, help="checkout or bare git dir")
    parser.add_argument("--commit", default=COMMIT)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        source = args.source
        if source is None:
            source = Path(scratch) / "codegen"
            subprocess.run(
                [
                    "git",
                    "clone",
                    "--quiet",
                    "--filter=blob:none",
                    "--no-checkout",
                    REPOSITORY,
                    str(source),
                ],
                check=True,
            )
        commit = _git(source, "rev-parse", args.commit).strip()
        data = trim(source, commit)
        licence = _git(source, "show", f"{commit}:LICENSE")
    OUTPUT.write_text(json.dumps(data, indent=1, sort_keys=False) + "\n")
    (HERE / "LICENSE").write_text(licence)
    print(f"wrote {OUTPUT.name}: {len(data['nodes'])} nodes, {len(data['enums'])} enums, {commit}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
