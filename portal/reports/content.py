"""What the confirmation report says, gathered from the database.

Everything here runs under `force_locale(<client's language>)`: lazy labels are
turned into text and dates are formatted for that locale, so the template only
lays the values out. Nothing an agency or client typed is trusted as markup:
the template autoescapes it (the logo and colour are checked in `branding`).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from babel import Locale
from babel import dates as babel_dates
from flask import current_app
from flask_babel import get_locale, get_timezone, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, or_, select

from .. import audit
from ..extensions import db
from ..labels import GRANT_STATUS_LABELS, REQUEST_STATUS_LABELS, audit_event_text
from ..models import AccessRequest, AuditEvent, Grant, User
from ..platforms import get as get_connector
from ..platforms.manual import guided_grant
from .branding import Branding, branding_for, qr_data_uri
from .verification import verification_code, verification_url

# The newest events of the request that fit in the report; older ones stay in
# the agency's audit log (the report says how many were left out).
MAX_AUDIT_EVENTS = 200
# Entries that only say a step began (its outcome is the next entry): left out
# of the report's list, counted in its note, and covered by the chain check.
ROUTINE_ACTIONS = ("grant.verifying",)

ACTION_LABELS = {
    "access_request.created": _l("Request created"),
    "access_request.sent": _l("Link sent to the client"),
    "access_request.opened": _l("Client opened the link"),
    "access_request.in_progress": _l("Client started granting access"),
    "access_request.completed": _l("Request completed"),
    "access_request.partially_completed": _l("Request partly completed"),
    "access_request.expired": _l("Link expired"),
    "access_request.revoked": _l("Link revoked by the agency"),
    "access_request.reminder_sent": _l("Reminder sent to the client"),
    "access_request.report_sent": _l("Confirmation sent"),
    "grant.needs_action": _l("Manual step waiting for the client"),
    "grant.granted": _l("Access granted on the platform"),
    "grant.verifying": _l("Verification started"),
    "grant.verified": _l("Access verified from the agency's side"),
    "grant.failed": _l("Grant failed"),
    "grant.declined": _l("Client declined this asset"),
    "grant.manual_done": _l("Client marked the manual step as done"),
    "grant.retried": _l("Verification retried"),
    "grant.removed": _l("Access no longer found"),
    "grant.revoked": _l("Access removed"),
}

# Grant statuses under which the agency holds, or is about to hold, the permission.
HELD_STATUSES = ("pending", "granted", "verifying", "verified", "needs_action")
TONES = {
    "verified": "ok",
    "failed": "bad",
    "declined": "muted",
    "removed": "bad",
    "needs_action": "warn",
}


class Moment:
    """A UTC datetime, formatted on first use for the report's locale."""

    def __init__(self, value: datetime, locale: Locale, tzinfo: tzinfo):
        self.value = value
        self._locale = locale
        self._tzinfo = tzinfo

    @functools.cached_property
    def date(self) -> str:
        return babel_dates.format_date(
            self.value.astimezone(self._tzinfo), "medium", locale=self._locale
        )

    @functools.cached_property
    def time(self) -> str:
        return babel_dates.format_time(
            self.value, "short", tzinfo=self._tzinfo, locale=self._locale
        )

    @functools.cached_property
    def short(self) -> str:
        """Date and time to the minute, joined the locale's way ("{1}, {0}" in English)."""
        pattern = str(self._locale.datetime_formats["medium"])
        return pattern.replace("{1}", self.date).replace("{0}", self.time)

    @functools.cached_property
    def full(self) -> str:
        """Date and time to the second (the audit trail, the request's dates)."""
        return babel_dates.format_datetime(
            self.value, "medium", tzinfo=self._tzinfo, locale=self._locale
        )


@dataclass
class PermissionView:
    id: str
    label: str
    explanation: str


@dataclass
class GrantView:
    id: int
    platform: str
    asset_type: str
    asset_name: str
    asset_id: str
    permissions: list[PermissionView]
    status: str
    status_label: str
    tone: str
    manual: bool
    granted_at: Moment | None
    verified_at: Moment | None
    error: str | None
    fix: str | None
    next_step: str | None = None
    # Guided manual steps: what the client sent back, as (label, value).
    sent_back: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class EventView:
    seq: int
    at: Moment
    actor: str
    action: str
    subject: str | None
    hash_prefix: str


@dataclass
class EventsOmitted:
    older: int  # beyond MAX_AUDIT_EVENTS
    routine: int  # ROUTINE_ACTIONS


@dataclass
class Anchor:
    seq: int | None  # the last entry checked: the anchor printed
    hash: str | None
    ok: bool
    count: int
    reason: str | None
    first: int | None = None  # the first entry checked
    # The whole chain when issued, as LENGTH:HEAD: `latchkey audit verify
    # --anchor` checks later that no entry was changed or removed since.
    head: str | None = None


@dataclass
class ReportContent:
    locale: str
    access_request: AccessRequest
    branding: Branding
    agency_name: str
    support_email: str | None
    client_name: str
    client_email: str
    client_reference: str | None
    created_by: str | None
    status: str
    status_label: str
    dates: list[tuple[str, Moment | None]]
    grants: list[GrantView]
    legend: list[PermissionView]
    manual: list[GrantView]
    counts: dict[str, int]
    summary: str
    billing: list[str]
    events: list[EventView]
    events_omitted: EventsOmitted
    anchor: Anchor
    code: str
    verify_url: str
    qr_uri: str
    issued_at: Moment
    page_label: list[tuple[str, str]] = field(default_factory=list)


# ----------------------------------------------------------------- helpers


class Clock:
    """Makes Moments in the current locale and timezone, one per distinct value
    (audit events share timestamps)."""

    def __init__(self):
        self._locale = get_locale() or Locale.parse("en")
        self._tzinfo = get_timezone()
        self._seen: dict[datetime, Moment] = {}

    def __call__(self, value: datetime | None) -> Moment | None:
        if value is None:
            return None
        found = self._seen.get(value)
        if found is None:
            found = self._seen[value] = Moment(value, self._locale, self._tzinfo)
        return found


def report_locale(access_request: AccessRequest) -> str:
    """The client's language: the request's, else the client's, else the agency's."""
    languages = current_app.config.get("LANGUAGES", {"en": "English"})
    for candidate in (
        access_request.locale,
        access_request.client.locale if access_request.client else None,
        access_request.agency.default_locale,
    ):
        if candidate in languages:
            return candidate
    return current_app.config.get("BABEL_DEFAULT_LOCALE", "en")


def _permission_views(grant: Grant) -> tuple[str, str, list[PermissionView]]:
    try:
        connector = get_connector(grant.platform)
    except KeyError:
        connector = None
    asset_type = connector.asset_type(grant.asset_type) if connector else None
    views = []
    for permission_id in grant.permissions or []:
        permission = asset_type.permission(permission_id) if asset_type else None
        views.append(
            PermissionView(
                id=str(permission_id),
                label=str(permission.label) if permission else str(permission_id),
                explanation=str(permission.explanation) if permission else "",
            )
        )
    platform_name = connector.name if connector else grant.platform
    type_name = str(asset_type.name) if asset_type else grant.asset_type
    return platform_name, type_name, views


def _grant_view(grant: Grant, client_name: str, agency_name: str, moment: Clock) -> GrantView:
    platform_name, type_name, permissions = _permission_views(grant)
    view = GrantView(
        id=grant.id,
        platform=platform_name,
        asset_type=type_name,
        asset_name=grant.asset_name or grant.asset_id or "",
        asset_id=grant.asset_id or "",
        permissions=permissions,
        status=grant.status,
        status_label=str(GRANT_STATUS_LABELS.get(grant.status, grant.status)),
        tone=TONES.get(grant.status, "info"),
        manual=bool(grant.manual),
        granted_at=moment(grant.granted_at),
        verified_at=moment(grant.verified_at),
        error=grant.error,
        fix=grant.fix,
    )
    if grant.manual:
        view.next_step = _manual_next_step(grant, client_name, agency_name)
        guided = guided_grant(grant)
        if guided is not None:
            view.sent_back = guided.sent_back
            if guided.waiting_on == "agency":
                view.next_step = _(
                    "%(client)s did the steps and sent what was asked; %(agency)s is "
                    "confirming the access on the platform.",
                    client=client_name,
                    agency=agency_name,
                )
    return view


def _manual_next_step(grant: Grant, client_name: str, agency_name: str) -> str:
    if grant.status == "verified":
        return _(
            "Done by %(client)s and verified by %(agency)s.", client=client_name, agency=agency_name
        )
    if grant.status in ("granted", "verifying", "pending"):
        return _(
            "%(client)s reported the step as done; %(agency)s is checking it.",
            client=client_name,
            agency=agency_name,
        )
    if grant.status == "failed":
        return grant.fix or _(
            "%(agency)s could not confirm this step. %(client)s should follow the steps "
            "again, or contact %(agency)s.",
            client=client_name,
            agency=agency_name,
        )
    if grant.status in ("declined", "removed"):
        return _(
            "Not in place. Nothing further is expected unless %(agency)s asks again.",
            agency=agency_name,
        )
    return grant.fix or _(
        "Waiting for %(client)s to follow the steps on the platform; %(agency)s "
        "then verifies the access from its side.",
        client=client_name,
        agency=agency_name,
    )


def summary_line(counts: dict[str, int]) -> str:
    """ "3 of 4 assets verified · 1 manual step waiting", leaving out zeros."""
    parts = [
        ngettext(
            "%(verified)d of %(num)d asset verified",
            "%(verified)d of %(num)d assets verified",
            counts["total"],
            verified=counts["verified"],
        )
    ]
    if counts["waiting"]:
        parts.append(
            ngettext("%(num)d being verified", "%(num)d being verified", counts["waiting"])
        )
    if counts["needs_action"]:
        parts.append(
            ngettext(
                "%(num)d manual step waiting",
                "%(num)d manual steps waiting",
                counts["needs_action"],
            )
        )
    if counts["failed"]:
        parts.append(
            ngettext(
                "%(num)d failed, declined or removed",
                "%(num)d failed, declined or removed",
                counts["failed"],
            )
        )
    return " · ".join(parts)


def permission_legend(grants: list[GrantView]) -> list[PermissionView]:
    """Each permission used in the report once, in order of first appearance,
    so the plain-language explanation is not repeated on every row."""
    seen: dict[tuple[str, str], PermissionView] = {}
    for grant in grants:
        for permission in grant.permissions:
            seen.setdefault((permission.id, permission.label), permission)
    return list(seen.values())


def _billing_level(permission_id: str) -> str | None:
    """'manage' or 'view' for a billing permission, None for any other."""
    upper = permission_id.upper()
    if not ("FINANCE" in upper or "BILLING" in upper or "PAYMENT" in upper):
        return None
    if any(word in upper for word in ("VIEW", "READ", "ANALYST")):
        return "view"
    return "manage"


def billing_statement(grants: list[GrantView], raw: list[Grant], client: str, agency: str):
    """Who controls billing, in plain words, from what was actually granted."""
    manage: list[str] = []
    view: list[str] = []
    for grant_view, grant in zip(grants, raw, strict=True):
        if grant.status not in HELD_STATUSES:
            continue
        levels = {_billing_level(p.id) for p in grant_view.permissions}
        label = f"{grant_view.asset_name} ({grant_view.platform})"
        if "manage" in levels:
            manage.append(label)
        elif "view" in levels:
            view.append(label)
    lines = []
    if not manage:
        lines.append(
            _(
                "Billing stays with %(client)s. %(agency)s cannot change payment methods or "
                "billing settings.",
                client=client,
                agency=agency,
            )
        )
    else:
        lines.append(
            _(
                "%(client)s remains the owner of billing, but gave %(agency)s permission to "
                "manage billing and payment methods on: %(assets)s.",
                client=client,
                agency=agency,
                assets=", ".join(manage),
            )
        )
        lines.append(
            _(
                "%(client)s can take this permission back at any time in the platform's "
                "settings, or ask %(agency)s to remove it.",
                client=client,
                agency=agency,
            )
        )
    if view:
        lines.append(
            _(
                "%(agency)s can see invoices and spend, without changing anything, on: %(assets)s.",
                agency=agency,
                assets=", ".join(view),
            )
        )
    return lines


def _actor(event: AuditEvent) -> str:
    who = event.actor_label or event.actor_id or ""
    if event.actor_type == "system":
        return _("Latchkey (automatic)")
    if event.actor_type == "client":
        return _("Client: %(who)s", who=who)
    if event.actor_type == "user":
        return _("Agency: %(who)s", who=who)
    if event.actor_type == "api_key":
        return _("API key: %(who)s", who=who)
    return who or event.actor_type


def _event_text(event: AuditEvent) -> str:
    """The entry in people's words: the report's own wording for the request's
    steps, else the audit log's (without e-mail addresses: the PDF leaves the
    agency)."""
    label = ACTION_LABELS.get(event.action)
    if label is not None:
        return str(label)
    return audit_event_text(event.action, event.details, addresses=False)


def audit_events(
    access_request: AccessRequest, grants_by_id: dict[str, GrantView], moment: Clock
) -> tuple[list[EventView], EventsOmitted, tuple[int | None, int | None]]:
    """This request's events (the request and its grants) but routine ones,
    oldest first; how many were left out; the chain positions of its first
    and last."""
    subjects = [
        and_(
            AuditEvent.subject_type == "access_request",
            AuditEvent.subject_id == str(access_request.id),
        )
    ]
    if grants_by_id:
        subjects.append(
            and_(AuditEvent.subject_type == "grant", AuditEvent.subject_id.in_(list(grants_by_id)))
        )
    condition = and_(AuditEvent.agency_id == access_request.agency_id, or_(*subjects))
    routine = AuditEvent.action.in_(ROUTINE_ACTIONS)
    total, routine_total, first_seq, last_seq = db.session.execute(
        select(
            db.func.count(),
            db.func.count().filter(routine),
            db.func.min(AuditEvent.seq),
            db.func.max(AuditEvent.seq),
        ).where(condition)
    ).one()
    rows = (
        db.session.execute(
            select(AuditEvent)
            .where(condition, ~routine)
            .order_by(AuditEvent.seq.desc())
            .limit(MAX_AUDIT_EVENTS)
        )
        .scalars()
        .all()
    )
    views = []
    for event in reversed(rows):
        subject = None
        if event.subject_type == "grant" and event.subject_id in grants_by_id:
            grant = grants_by_id[event.subject_id]
            subject = grant.asset_name
        views.append(
            EventView(
                seq=event.seq,
                at=moment(event.created_at),
                actor=_actor(event),
                action=_event_text(event),
                subject=subject,
                hash_prefix=event.hash[:12],
            )
        )
    omitted = EventsOmitted(older=max(total - routine_total - len(rows), 0), routine=routine_total)
    return views, omitted, (first_seq, last_seq)


def chain_anchor(agency_id: int, span: tuple[int | None, int | None]) -> Anchor:
    """The stretch of the agency's chain that holds this request's events, checked.

    From the request's first event to its last, each event must match its
    content and follow the hash of the one before (the first one, the hash of
    the event before the stretch): the request's entries, and everything
    recorded between them, are as written. The whole chain is checked by
    `latchkey audit verify`; reading it all for every report would make a
    large agency's reports slower with each event.
    """
    first, last = span
    current = audit.current_anchor(agency_id)
    head = str(current) if current else None
    if first is None or last is None:
        return Anchor(seq=None, hash=None, ok=True, count=0, reason=None, first=None, head=head)
    result = audit.verify_chain(agency_id, first_seq=first, last_seq=last)
    row = db.session.execute(
        select(AuditEvent.seq, AuditEvent.hash).where(
            AuditEvent.agency_id == agency_id, AuditEvent.seq == last
        )
    ).first()
    return Anchor(
        seq=row.seq if row else None,
        hash=row.hash if row else None,
        ok=result.ok,
        count=result.count,
        reason=result.reason,
        first=first,
        head=head,
    )


def page_label_parts() -> list[tuple[str, str]]:
    """ "Page 2 of 3" in the current language, as (kind, text) parts for CSS
    `content`: kind is "text", "page" or "pages"."""
    marker_page, marker_pages = "\x00PAGE\x00", "\x00PAGES\x00"
    text = _("Page %(page)s of %(pages)s", page=marker_page, pages=marker_pages)
    parts: list[tuple[str, str]] = []
    for chunk in re.split("(\x00PAGES?\x00)", text):
        if chunk == marker_page:
            parts.append(("page", ""))
        elif chunk == marker_pages:
            parts.append(("pages", ""))
        elif chunk:
            parts.append(("text", chunk))
    return parts


def _user_label(user_id: int | None) -> str | None:
    if user_id is None:
        return None
    user = db.session.get(User, user_id)
    if user is None:
        return None
    return f"{user.name} ({user.email})" if user.name else user.email


def _request_dates(access_request: AccessRequest, moment: Clock) -> list[tuple[str, Moment | None]]:
    """The request's milestones; those that may not happen are left out when unset."""
    dates: list[tuple[str, Moment | None]] = [(_("Created"), moment(access_request.created_at))]
    if access_request.sent_at:
        dates.append((_("Sent"), moment(access_request.sent_at)))
    dates.append((_("Opened"), moment(access_request.opened_at)))
    dates.append((_("Completed"), moment(access_request.completed_at)))
    if access_request.revoked_at:
        dates.append((_("Revoked"), moment(access_request.revoked_at)))
    dates.append((_("Link expiry"), moment(access_request.expires_at)))
    return dates


# ------------------------------------------------------------------- build


def build(access_request: AccessRequest, locale: str, now: datetime) -> ReportContent:
    """Everything the template shows; call under force_locale(locale)."""
    agency = access_request.agency
    client = access_request.client
    branding = branding_for(agency)
    agency_name = branding.name
    client_name = client.name

    raw_grants = sorted(
        access_request.grants, key=lambda g: (g.platform, g.item_index, g.asset_name or "", g.id)
    )
    moment = Clock()
    grants = [_grant_view(g, client_name, agency_name, moment) for g in raw_grants]
    counts = {
        "total": len(grants),
        "verified": sum(1 for g in grants if g.status == "verified"),
        "waiting": sum(1 for g in grants if g.status in ("pending", "granted", "verifying")),
        "needs_action": sum(1 for g in grants if g.status == "needs_action"),
        "failed": sum(1 for g in grants if g.status in ("failed", "declined", "removed")),
    }
    events, omitted, span = audit_events(access_request, {str(g.id): g for g in grants}, moment)
    code = verification_code(access_request)
    url = verification_url(code)
    return ReportContent(
        locale=locale,
        access_request=access_request,
        branding=branding,
        agency_name=agency_name,
        support_email=agency.support_email,
        client_name=client_name,
        client_email=client.email,
        client_reference=client.external_id or access_request.external_id,
        created_by=_user_label(access_request.created_by_id),
        status=access_request.status,
        status_label=str(REQUEST_STATUS_LABELS.get(access_request.status, access_request.status)),
        dates=_request_dates(access_request, moment),
        grants=grants,
        legend=permission_legend(grants),
        manual=[g for g in grants if g.manual],
        counts=counts,
        summary=summary_line(counts),
        billing=billing_statement(grants, raw_grants, client_name, agency_name),
        events=events,
        events_omitted=omitted,
        anchor=chain_anchor(access_request.agency_id, span),
        code=code,
        verify_url=url,
        qr_uri=qr_data_uri(url),
        issued_at=moment(now),
        page_label=page_label_parts(),
    )
