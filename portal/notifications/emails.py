"""Each e-mail Latchkey sends about requests and grants, built in its reader's language.

Every builder returns an EmailMessage (HTML + text) branded with the agency:
its name and colour in the layout, "<Agency> via Latchkey" as the sender,
replies to the agency's support address. Everything is rendered inside
`force_locale(recipient.locale)`, so subjects, dates and labels follow it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage

from flask import current_app
from flask_babel import force_locale, format_date, format_datetime
from flask_babel import gettext as _

from .. import mail, platforms
from ..labels import GRANT_STATUS_LABELS
from ..models import AccessRequest, Agency, Grant
from .recipients import Recipient, reply_to
from .removal import removal_steps


@dataclass(frozen=True)
class Line:
    """One asset or requested item, as a reader sees it."""

    platform: str
    what: str
    permissions: str
    status: str = ""
    error: str = ""
    fix: str = ""
    steps: tuple[str, ...] = ()


def app_url(endpoint: str, **values) -> str:
    """An absolute link into Latchkey, built from LATCHKEY_BASE_URL (no request needed)."""
    path = current_app.url_map.bind("localhost").build(endpoint, values)
    return current_app.config["LATCHKEY_BASE_URL"] + path


def _brand(agency: Agency) -> dict:
    return {
        "brand_name": agency.brand_name,
        "brand_color": agency.primary_color or "#4338ca",
        "agency_name": agency.brand_name,
    }


def _permission_labels(platform: str, asset_type: str, permission_ids: Sequence[str]) -> str:
    try:
        found = platforms.get(platform).asset_type(asset_type)
    except KeyError:
        found = None
    labels = []
    for permission_id in permission_ids:
        permission = found.permission(permission_id) if found else None
        labels.append(str(permission.label) if permission else permission_id)
    return ", ".join(labels)


def _platform_and_type(platform: str, asset_type: str) -> tuple[str, str]:
    try:
        connector = platforms.get(platform)
    except KeyError:
        return platform, asset_type
    found = connector.asset_type(asset_type)
    return connector.name, str(found.name) if found else asset_type


def item_lines(access_request: AccessRequest) -> list[Line]:
    lines = []
    for item in access_request.items:
        platform, type_name = _platform_and_type(item["platform"], item["asset_type"])
        lines.append(
            Line(
                platform,
                type_name,
                _permission_labels(item["platform"], item["asset_type"], item["permissions"]),
            )
        )
    return lines


def grant_line(grant: Grant, agency_name: str = "", with_steps: bool = False) -> Line:
    platform, type_name = _platform_and_type(grant.platform, grant.asset_type)
    what = f"{type_name}: {grant.asset_name or grant.asset_id}"
    if grant.asset_id and grant.asset_name and grant.asset_name != grant.asset_id:
        what += f" ({grant.asset_id})"
    return Line(
        platform,
        what,
        _permission_labels(grant.platform, grant.asset_type, grant.permissions or []),
        str(GRANT_STATUS_LABELS.get(grant.status, grant.status)),
        grant.error or "",
        grant.fix or "",
        tuple(removal_steps(grant, agency_name)) if with_steps else (),
    )


def _build(
    to: Recipient,
    agency: Agency,
    subject: str,
    template: str,
    access_request: AccessRequest | None = None,
    attachments: tuple[mail.Attachment, ...] = (),
    **context,
) -> EmailMessage:
    return mail.build(
        to.email,
        subject,
        template,
        locale=to.locale,
        reply_to=reply_to(agency, access_request),
        sender_name=agency.brand_name,
        attachments=attachments,
        recipient_name=to.name,
        **_brand(agency),
        **context,
    )


# ------------------------------------------------------------- to the client


def request_email(
    access_request: AccessRequest, to: Recipient, link: str, reminder_day: int | None = None
) -> EmailMessage:
    """The link to the client; with `reminder_day`, the reminder after N days."""
    agency = access_request.agency
    with force_locale(to.locale):
        if reminder_day:
            subject = _("Reminder: %(agency)s is waiting for your access", agency=agency.brand_name)
        else:
            subject = _("%(agency)s asks for access to your accounts", agency=agency.brand_name)
        return _build(
            to,
            agency,
            subject,
            "request_sent",
            access_request,
            link=link,
            reminder_day=reminder_day,
            client_name=access_request.client.name,
            message=access_request.message,
            lines=item_lines(access_request),
            expires=format_date(access_request.expires_at, "long"),
        )


# --------------------------------------------------- completion (both sides)


def completion_email(
    access_request: AccessRequest,
    to: Recipient,
    audience: str,
    attachment: mail.Attachment | None,
) -> EmailMessage:
    """The request is settled: what was given, with the PDF confirmation attached."""
    agency = access_request.agency
    complete = access_request.status == "completed"
    with force_locale(to.locale):
        if audience == "client":
            subject = (
                _("Your access for %(agency)s is confirmed", agency=agency.brand_name)
                if complete
                else _("Part of your access for %(agency)s is confirmed", agency=agency.brand_name)
            )
        else:
            subject = (
                _("%(client)s gave every access you asked for", client=access_request.client.name)
                if complete
                else _(
                    "%(client)s gave part of the access you asked for",
                    client=access_request.client.name,
                )
            )
        return _build(
            to,
            agency,
            subject,
            "completion",
            access_request,
            attachments=(attachment,) if attachment else (),
            audience=audience,
            complete=complete,
            client_name=access_request.client.name,
            lines=[grant_line(g) for g in access_request.grants],
            completed=format_datetime(access_request.completed_at, "medium")
            if access_request.completed_at
            else "",
            detail_url=app_url("admin.request_detail", request_id=access_request.id)
            if audience == "agency"
            else None,
            filename=attachment.filename if attachment else None,
        )


# ------------------------------------------------------------- to the agency


def grant_alert_email(
    access_request: AccessRequest, grants: Sequence[Grant], to: Recipient
) -> EmailMessage:
    """Grants that failed, manual steps waiting on the client, and guided steps
    the client finished that the agency must now confirm."""
    agency = access_request.agency
    failed = [g for g in grants if g.status == "failed"]
    pending = [g for g in grants if g.status == "needs_action"]
    # A guided step (no API) whose client sent back what was asked: the agency's turn.
    confirm = [g for g in pending if (g.external or {}).get("waiting_on") == "agency"]
    waiting = [g for g in pending if g not in confirm]
    with force_locale(to.locale):
        if failed:
            subject = _(
                "Access from %(client)s failed: action needed", client=access_request.client.name
            )
        elif confirm and not waiting:
            subject = _(
                "%(client)s did the steps: confirm the access", client=access_request.client.name
            )
        else:
            subject = _("%(client)s has a manual step to finish", client=access_request.client.name)
        return _build(
            to,
            agency,
            subject,
            "grant_alert",
            access_request,
            client_name=access_request.client.name,
            failed=[grant_line(g) for g in failed],
            waiting=[grant_line(g) for g in waiting],
            confirm=[grant_line(g) for g in confirm],
            detail_url=app_url("admin.request_detail", request_id=access_request.id),
        )


def expiry_warning_email(access_request: AccessRequest, to: Recipient) -> EmailMessage:
    agency = access_request.agency
    with force_locale(to.locale):
        return _build(
            to,
            agency,
            _("The link for %(client)s expires soon", client=access_request.client.name),
            "expiry_warning",
            access_request,
            client_name=access_request.client.name,
            client_email=access_request.client.email,
            expires=format_datetime(access_request.expires_at, "medium"),
            detail_url=app_url("admin.request_detail", request_id=access_request.id),
        )


def grant_removed_email(grant: Grant, to: Recipient) -> EmailMessage:
    access_request = grant.access_request
    agency = access_request.agency
    with force_locale(to.locale):
        line = grant_line(grant)
        return _build(
            to,
            agency,
            _(
                "Access lost: %(platform)s, %(client)s",
                platform=line.platform,
                client=access_request.client.name,
            ),
            "grant_removed",
            access_request,
            client_name=access_request.client.name,
            line=line,
            removed=format_datetime(grant.removed_at, "medium") if grant.removed_at else "",
            detail_url=app_url("admin.request_detail", request_id=access_request.id),
        )


# ------------------------------------------------- quarterly access review


def access_review_email(
    agency: Agency,
    grants: Sequence[Grant],
    to: Recipient,
    audience: str,
    quarter: str,
) -> EmailMessage:
    """Every active access, with how to remove each one."""
    with force_locale(to.locale):
        if audience == "client":
            subject = _(
                "Review the access %(agency)s has to your accounts", agency=agency.brand_name
            )
        else:
            subject = _(
                "Quarterly review: the access your clients gave %(agency)s",
                agency=agency.brand_name,
            )
        by_client: dict[tuple[str, int], list[Line]] = {}
        for grant in grants:
            client = grant.access_request.client
            by_client.setdefault((client.name or "", client.id), []).append(
                grant_line(grant, agency.brand_name, with_steps=True)
            )
        # (client name, its lines, where the agency removes that access in Latchkey)
        groups = [
            (name, lines, app_url("admin.client_detail", client_id=client_id))
            for (name, client_id), lines in sorted(by_client.items())
        ]
        return _build(
            to,
            agency,
            subject,
            "access_review",
            audience=audience,
            quarter=quarter,
            groups=groups,
            count=len(grants),
        )


__all__ = [
    "Line",
    "access_review_email",
    "app_url",
    "completion_email",
    "expiry_warning_email",
    "grant_alert_email",
    "grant_line",
    "grant_removed_email",
    "item_lines",
    "request_email",
]
