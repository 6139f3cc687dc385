"""Helpers for the request, client-link, OAuth and verification tests."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import event, select
from werkzeug.datastructures import MultiDict

from portal import crypto
from portal.extensions import db
from portal.models import AgencyConnection, AuditEvent
from portal.models.base import utcnow

_CSRF_INPUT = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')
_CSRF_HEADER = re.compile(r'"X-CSRFToken": "([^"]+)"')

PINTEREST_ITEMS = [
    {"platform": "pinterest", "asset_type": "AD_ACCOUNT", "permissions": ["CAMPAIGN_MANAGER"]},
    {"platform": "pinterest", "asset_type": "PROFILE", "permissions": ["PROFILE_PUBLISHER"]},
]


def csrf_from(html: str) -> str:
    match = _CSRF_INPUT.search(html) or _CSRF_HEADER.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def fake_connection(agency, platform: str = "pinterest", **fields) -> AgencyConnection:
    """An agency connection row that reaches no platform (for tests of our side only)."""
    values = {
        "agency_id": agency.id,
        "platform": platform,
        "access_token_encrypted": crypto.encrypt("agency-access-token"),
        "refresh_token_encrypted": crypto.encrypt("agency-refresh-token"),
        "account_id": "549755885175",
        "account_name": "Acme Agency Business",
        "identity": {"business_id": "549755885175", "name": "Acme Agency Business"},
        "status": "active",
    }
    values.update(fields)
    connection = AgencyConnection(**values)
    db.session.add(connection)
    db.session.commit()
    return connection


def sandbox_connection(agency) -> AgencyConnection:
    """The agency's real connection to the emulated Pinterest."""
    from portal.sandbox.connect import connect_agency_to_sandbox

    connect_agency_to_sandbox(agency)
    return db.session.execute(
        select(AgencyConnection).where(
            AgencyConnection.agency_id == agency.id, AgencyConnection.platform == "pinterest"
        )
    ).scalar_one()


def make_request(agency, user, items=None, **kwargs):
    from portal.services.requests import create_request

    kwargs.setdefault("client_name", "Blue Harbor")
    kwargs.setdefault("client_email", "marketing@blueharbor.test")
    kwargs.setdefault("locale", "en")
    return create_request(agency, user, items=PINTEREST_ITEMS if items is None else items, **kwargs)


def add_grant(access_request, index: int, status: str = "verified", **fields):
    """A grant row for item `index` of the request (no platform is called)."""
    from portal.models import Grant

    item = access_request.items[index]
    values = {
        "agency_id": access_request.agency_id,
        "item_index": index,
        "platform": item["platform"],
        "asset_type": item["asset_type"],
        "permissions": item["permissions"],
        "asset_id": f"asset-{index}",
        "asset_name": f"Asset {index}",
        "status": status,
        "granted_at": utcnow(),
        "external": {"client_business_id": "777"},
    }
    values.update(fields)
    grant = Grant(**values)
    access_request.grants.append(grant)
    db.session.commit()
    return grant


def query_params(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def audit_actions(agency_id=None) -> list[str]:
    stmt = select(AuditEvent.action).order_by(AuditEvent.id)
    if agency_id is not None:
        stmt = stmt.where(AuditEvent.agency_id == agency_id)
    return list(db.session.execute(stmt).scalars())


def expire_now(access_request) -> None:
    from datetime import timedelta

    access_request.expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()


class QueryCounter:
    """Count SQL statements sent while the block runs (this process, any thread)."""

    def __init__(self):
        self.statements: list[str] = []

    def _count(self, conn, cursor, statement, parameters, context, executemany):
        self.statements.append(statement)

    def __enter__(self):
        event.listen(db.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc):
        event.remove(db.engine, "before_cursor_execute", self._count)

    @property
    def count(self) -> int:
        return len(self.statements)


class _FormParser(HTMLParser):
    def __init__(self, action: str):
        super().__init__()
        self.action = action
        self.inside = False
        self.found = False
        self.fields: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and not self.found and path_of(attrs.get("action") or "") == self.action:
            self.inside = self.found = True
            return
        if not self.inside or tag != "input" or "disabled" in attrs or not attrs.get("name"):
            return
        kind = attrs.get("type", "text")
        if kind in ("checkbox", "radio") and "checked" not in attrs:
            return
        self.fields.append((attrs["name"], attrs.get("value") or ""))

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False


def form_fields(html: str, action: str) -> MultiDict:
    """What a browser would submit from the form posting to `action` (as is)."""
    parser = _FormParser(action)
    parser.feed(html)
    assert parser.found, f"no form posting to {action}"
    return MultiDict(parser.fields)


def consent(client, location: str, persona: str = "business", decision: str = "allow") -> str:
    """On the sandbox's consent page, choose `persona` and press Allow (or Deny);
    return where the platform sends the browser back (the OAuth callback)."""
    page = client.get(path_of(location))
    assert page.status_code == 200, page.get_data(as_text=True)[:500]
    html = page.get_data(as_text=True)
    action = path_of(location).split("?")[0]
    fields = form_fields(html, action)
    fields.setlist("persona", [persona])
    fields.setlist("decision", [decision])
    answer = client.post(action, data=fields)
    assert answer.status_code in (302, 303), answer.get_data(as_text=True)[:500]
    return answer.headers["Location"]
