"""The user-facing docs say what the code does: every setting, every OAuth scope.

The project stands on its own: its README and docs/ link only to files in the
repository.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from portal import platforms

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def _settings_read_by_config() -> set[str]:
    source = (ROOT / "portal" / "config.py").read_text()
    return set(re.findall(r'(?:_get|envint|envbool)\(\s*env,\s*"([A-Z0-9_]+)"', source))


def test_every_setting_is_documented():
    documented = (DOCS / "configuration.md").read_text()
    missing = sorted(n for n in _settings_read_by_config() if f"`{n}`" not in documented)
    assert not missing, f"docs/configuration.md does not describe: {', '.join(missing)}"


def test_every_oauth_scope_is_in_the_platform_setup(app):
    setup = (DOCS / "platform-setup.md").read_text()
    for connector in platforms.all_connectors():
        if not connector.needs_agency_connection:
            continue
        with app.test_request_context():
            scopes = connector.oauth_endpoints().scopes
        missing = [s for s in scopes if f"`{s}`" not in setup]
        assert not missing, f"docs/platform-setup.md misses {connector.name}'s scopes {missing}"
        assert f"BASE/oauth/{connector.id}/callback" in setup


@pytest.mark.parametrize("page", ["README.md", *sorted(p.name for p in DOCS.glob("*.md"))])
def test_links_stay_inside_the_repository(page):
    path = ROOT / page if page == "README.md" else DOCS / page
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", path.read_text()):
        if re.match(r"[a-z]+:", target):
            continue  # an external address (https:, mailto:)
        resolved = (path.parent / target).resolve()
        assert resolved.is_relative_to(ROOT), f"{page} links outside the repository: {target}"
        assert resolved.exists(), f"{page} links to a missing file: {target}"
