"""Helpers for the auth tests: CSRF tokens from real pages, forms, e-mailed links."""

from __future__ import annotations

import re

from conftest import PASSWORD

_CSRF_INPUT = re.compile(r'name="(?:[\w-]+-)?csrf_token" type="hidden" value="([^"]+)"')
_CSRF_HEADER = re.compile(r'"X-CSRFToken": "([^"]+)"')
NEW_PASSWORD = "violet tractor umbrella 77 pancake"


def csrf_token(client, page: str) -> str:
    """Fetch `page` and return the CSRF token it carries (form input or htmx header)."""
    response = client.get(page)
    html = response.get_data(as_text=True)
    match = _CSRF_INPUT.search(html) or _CSRF_HEADER.search(html)
    assert match, f"no CSRF token on {page} (status {response.status_code})"
    return match.group(1)


def post_form(client, url: str, data: dict | None = None, page: str | None = None, **kwargs):
    """POST `data` to `url` like a browser would: with the token of the page showing the form."""
    token = csrf_token(client, page or url)
    return client.post(url, data={"csrf_token": token, **(data or {})}, **kwargs)


def sign_in(client, email: str, password: str = PASSWORD, remember: bool = False, **kwargs):
    """Submit the sign-in form (password step only)."""
    data = {"email": email, "password": password}
    if remember:
        data["remember"] = "y"
    page = kwargs.pop("page", "/auth/login")
    return post_form(client, kwargs.pop("url", "/auth/login"), data, page=page, **kwargs)


def sign_out(client):
    return post_form(client, "/auth/logout", page="/app/account/security")


def html(response) -> str:
    return response.get_data(as_text=True)


def text_body(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def link_in(message, base_url: str, path: str) -> str:
    """The link in an e-mail's text part that starts with base_url + path."""
    body = text_body(message)
    match = re.search(re.escape(base_url + path) + r"[A-Za-z0-9_\-]+", body)
    assert match, f"no {path} link in: {body}"
    return match.group(0)


def relative(link: str, base_url: str) -> str:
    assert link.startswith(base_url)
    return link[len(base_url) :]


def actions(agency_id=None) -> list[str]:
    """Audit actions recorded for `agency_id` (None: the agency-less chain), oldest first."""
    from sqlalchemy import select

    from portal.extensions import db
    from portal.models import AuditEvent

    condition = (
        AuditEvent.agency_id.is_(None) if agency_id is None else AuditEvent.agency_id == agency_id
    )
    return list(
        db.session.execute(
            select(AuditEvent.action).where(condition).order_by(AuditEvent.seq)
        ).scalars()
    )


def events(action: str) -> list:
    from sqlalchemy import select

    from portal.extensions import db
    from portal.models import AuditEvent

    return list(
        db.session.execute(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        ).scalars()
    )
