"""Re-create the TikTok descriptions here from TikTok's Business API SDK.

The source is https://github.com/tiktok/tiktok-business-api-sdk (MIT
licence, `LICENSE.md` here): its `yml_files/` hold one OpenAPI 3.0 file per
endpoint. Latchkey keeps, unchanged, only the files of the endpoints its
connector and sandbox use, and the licence. Converting them to JSON Schema
(TikTok's `x-open-enum` extension holds the enum values) is the adapter's job
(`tests/conformance/specs/tiktok.py`).

Two things the SDK's files do not hold are transcribed in `documented.json`
(facts only, each naming its source): the token endpoint, which has no yml
file (the SDK describes it in `python_sdk/docs/`), and the fields of each
answer's `data`, which every yml file leaves to the endpoint's documentation
page. This script checks that the token body the SDK documents still matches
`documented.json`.

    python tests/platform_specs/tiktok/refresh.py [SOURCE]

SOURCE is a git directory of the repository (read at COMMIT); without it,
the files are downloaded at COMMIT. After a refresh, update COMMIT here and
in `tests/platform_specs/README.md`, then run the TikTok tests.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

REPOSITORY = "tiktok/tiktok-business-api-sdk"
COMMIT = "f809c396520df2d7b201a9ccc5378d822b728ed3"
HERE = Path(__file__).resolve().parent

# The endpoints Latchkey sends or the sandbox serves, one yml file each.
FILES = (
    "bc_get.yml",  # GET /bc/get/
    "bc_asset_get.yml",  # GET /bc/asset/get/
    "bc_partner_add.yml",  # POST /bc/partner/add/
    "bc_partner_get.yml",  # GET /bc/partner/get/
    "bc_partner_asset_get.yml",  # GET /bc/partner/asset/get/
    "bc_partner_asset_delete.yml",  # POST /bc/partner/asset/delete/
)
TOKEN_BODY_DOC = "python_sdk/docs/Oauth2AccessTokenBody.md"


def read(source: str | None, path: str) -> str:
    if source is None:
        url = f"https://raw.githubusercontent.com/{REPOSITORY}/{COMMIT}/{path}"
        with urllib.request.urlopen(url, timeout=60) as answer:
            return answer.read().decode("utf-8")
    shown = subprocess.run(
        ["git", "-C", source, "show", f"{COMMIT}:{path}"], check=True, capture_output=True
    )
    return shown.stdout.decode("utf-8")


def check_token_body(source: str | None) -> None:
    """The SDK's token body fields (a Markdown table) against documented.json."""
    table = read(source, TOKEN_BODY_DOC)
    fields = {
        m.group(1): "[required]" in m.group(2)
        for m in re.finditer(r"^\*\*(\w+)\*\* \|(.*)$", table, flags=re.MULTILINE)
    }
    documented = json.loads((HERE / "documented.json").read_text(encoding="utf-8"))
    body = documented["operations"]["oauth2/access_token"]["body"]
    expected = {name: name in body.get("required", []) for name in body["properties"]}
    if fields != expected:
        raise SystemExit(
            f"{TOKEN_BODY_DOC} now says {fields}; documented.json says {expected}: update it"
        )


def main(argv: list[str]) -> None:
    source = argv[1] if len(argv) > 1 else None
    (HERE / "yml").mkdir(exist_ok=True)
    for name in FILES:
        (HERE / "yml" / name).write_text(read(source, f"yml_files/{name}"), encoding="utf-8")
    (HERE / "LICENSE.md").write_text(read(source, "LICENSE.md"), encoding="utf-8")
    check_token_body(source)
    print(f"{HERE}: {len(FILES)} endpoint files at {COMMIT}; token body checked")


if __name__ == "__main__":
    main(sys.argv)
