"""htmx never runs script that arrives in a swapped fragment.

With `inlineScriptNonce` set, htmx gives every <script> of a swapped fragment
the page's valid nonce, so script that reached a fragment would run despite
the CSP. No template has an inline script, so script tags in fragments are
simply dropped (`allowScriptTags: false`) and no nonce is handed out.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from portal import PROJECT_ROOT

META = re.compile(r"<meta name=\"htmx-config\" content='([^']*)'>")


def _config(page: str) -> dict:
    match = META.search(page)
    assert match, "every page configures htmx"
    return json.loads(match.group(1))


def test_agency_and_client_pages_give_htmx_no_script_nonce(client, auth, owner):
    pages = [client.get("/auth/login").get_data(as_text=True)]
    auth.login(owner)
    pages.append(client.get("/app/").get_data(as_text=True))
    for page in pages:
        config = _config(page)
        assert "inlineScriptNonce" not in config
        assert config["allowScriptTags"] is False
        assert config["allowEval"] is False


def test_no_template_has_an_inline_script():
    inline = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
    found = [
        str(path.relative_to(PROJECT_ROOT))
        for path in (Path(PROJECT_ROOT) / "templates").rglob("*.html")
        if inline.search(path.read_text(encoding="utf-8"))
    ]
    assert found == []
