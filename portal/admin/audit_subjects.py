"""What an audit event is about, in people's words and linked to its page.

The audit trail stores a subject as a type and an id ("grant", "21"). The audit
log shows the thing itself: the request's client, the asset, the platform of a
connection, the person, each linked to where it can be seen. One query per
kind of subject on the page, scoped to the agency; a subject deleted since
shows what the event's details still say, or its kind in words.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from flask import url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from .. import platforms
from ..extensions import db
from ..models import (
    AccessRequest,
    AgencyConnection,
    ApiKey,
    AuditEvent,
    Client,
    CustomTool,
    Grant,
    Invitation,
    Membership,
    Template,
    User,
    WebhookEndpoint,
)


@dataclass(frozen=True)
class Subject:
    text: str
    url: str | None = None


# A subject whose row is gone: its kind, in words.
KIND_LABELS = {
    "access_request": _l("A request"),
    "grant": _l("An asset of a request"),
    "agency_connection": _l("A platform connection"),
    "user": _l("A person"),
    "client": _l("A client"),
    "template": _l("A template"),
    "api_key": _l("An API key"),
    "webhook_endpoint": _l("A webhook endpoint"),
    "webhook_delivery": _l("A webhook delivery"),
    "custom_tool": _l("Another tool"),
    "invitation": _l("An invitation"),
    "agency": _l("Your agency"),
    "job": _l("A background job"),
}


def _platform_name(platform_id: str | None) -> str:
    if not platform_id:
        return ""
    try:
        return platforms.get(platform_id).name
    except KeyError:
        return platform_id


def _asset_type_name(platform_id: str, asset_type_id: str) -> str:
    try:
        asset_type = platforms.get(platform_id).asset_type(asset_type_id)
    except KeyError:
        asset_type = None
    return str(asset_type.name) if asset_type else asset_type_id


def _ids(values: Iterable[str]) -> list[int]:
    return sorted({int(v) for v in values if v and str(v).isdigit()})


def _rows(model, agency_id: int, ids: list[int]) -> dict[str, object]:
    if not ids:
        return {}
    found = db.session.execute(
        select(model).where(model.agency_id == agency_id, model.id.in_(ids))
    ).scalars()
    return {str(row.id): row for row in found}


def _requests(agency_id: int, ids: list[int]) -> dict[str, Subject]:
    if not ids:
        return {}
    rows = db.session.execute(
        select(AccessRequest.id, Client.name)
        .join(Client, Client.id == AccessRequest.client_id)
        .where(AccessRequest.agency_id == agency_id, AccessRequest.id.in_(ids))
    ).all()
    return {
        str(row.id): Subject(
            _("Request for %(client)s", client=row.name)
            if row.name
            else _("Request %(id)s", id=row.id),
            url_for("admin.request_detail", request_id=row.id),
        )
        for row in rows
    }


def _grants(agency_id: int, ids: list[int]) -> dict[str, Subject]:
    subjects = {}
    for key, grant in _rows(Grant, agency_id, ids).items():
        name = grant.asset_name or grant.asset_id or ""
        kind = _asset_type_name(grant.platform, grant.asset_type)
        subjects[key] = Subject(
            f"{_platform_name(grant.platform)} · {kind} · {name}",
            url_for("admin.request_detail", request_id=grant.access_request_id),
        )
    return subjects


def _connections(agency_id: int, ids: list[int]) -> dict[str, Subject]:
    return {
        key: Subject(
            _("%(platform)s connection", platform=_platform_name(row.platform)),
            url_for("admin.connections"),
        )
        for key, row in _rows(AgencyConnection, agency_id, ids).items()
    }


def _users(agency_id: int, ids: list[int]) -> dict[str, Subject]:
    if not ids:
        return {}
    # The agency's people only (someone who left shows as "A person").
    rows = db.session.execute(
        select(User.id, User.name, User.email)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.agency_id == agency_id, User.id.in_(ids))
    )
    return {
        str(row.id): Subject(
            f"{row.name} ({row.email})" if row.name else row.email, url_for("auth.team")
        )
        for row in rows
    }


def _named(model, endpoint: Callable[[object], str | None], name: Callable[[object], str]):
    def find(agency_id: int, ids: list[int]) -> dict[str, Subject]:
        return {
            key: Subject(name(row), endpoint(row))
            for key, row in _rows(model, agency_id, ids).items()
        }

    return find


FINDERS = {
    "access_request": _requests,
    "grant": _grants,
    "agency_connection": _connections,
    "user": _users,
    "client": _named(
        Client,
        lambda row: url_for("admin.client_detail", client_id=row.id),
        lambda row: row.name or _("Deleted client"),
    ),
    "template": _named(
        Template,
        lambda row: url_for("admin.template_detail", template_id=row.id),
        lambda row: _("Template “%(name)s”", name=row.name),
    ),
    "api_key": _named(
        ApiKey,
        lambda row: url_for("admin.api_key_list"),
        lambda row: _("API key “%(name)s”", name=row.name),
    ),
    "webhook_endpoint": _named(
        WebhookEndpoint,
        lambda row: url_for("admin.webhook_detail", endpoint_id=row.id),
        lambda row: _("Webhook endpoint %(url)s", url=row.description or row.url),
    ),
    "custom_tool": _named(
        CustomTool,
        lambda row: url_for("admin.tool_list"),
        lambda row: row.name,
    ),
    "invitation": _named(
        Invitation,
        lambda row: url_for("auth.team"),
        lambda row: _("Invitation of %(email)s", email=row.email),
    ),
}


def _from_details(event: AuditEvent) -> Subject | None:
    """A subject gone from the database, as the event's details describe it."""
    details = event.details or {}
    kind = KIND_LABELS.get(event.subject_type or "")
    if event.subject_type == "agency_connection" and details.get("platform"):
        return Subject(
            _("%(platform)s connection", platform=_platform_name(details["platform"])),
            url_for("admin.connections"),
        )
    if event.subject_type == "grant" and details.get("access_request_id"):
        name = details.get("asset_id") or ""
        return Subject(
            f"{_platform_name(details.get('platform'))} · {name}".strip(" ·"),
            url_for("admin.request_detail", request_id=details["access_request_id"]),
        )
    if event.subject_type == "agency":
        return Subject(str(KIND_LABELS["agency"]), url_for("admin.branding"))
    if kind is not None:
        return Subject(str(kind))
    return None


def describe(events: list[AuditEvent], agency_id: int) -> dict[int, Subject]:
    """Event id -> what it is about, for the events shown on one page."""
    wanted: dict[str, list[str]] = {}
    for event in events:
        if event.subject_type in FINDERS and event.subject_id:
            wanted.setdefault(event.subject_type, []).append(event.subject_id)
    found = {kind: FINDERS[kind](agency_id, _ids(ids)) for kind, ids in wanted.items() if _ids(ids)}
    subjects: dict[int, Subject] = {}
    for event in events:
        if not event.subject_type:
            continue
        subject = found.get(event.subject_type, {}).get(event.subject_id or "")
        subject = subject or _from_details(event)
        if subject is not None:
            subjects[event.id] = subject
    return subjects


__all__ = ["Subject", "describe"]
