"""Every e-mail Latchkey sends to an agency's client goes through here.

These e-mails go out in the agency's name, carry the agency's own text, and
go to an address the agency typed: without limits, anyone who signs up could
use Latchkey to send branded mail to anyone. So before each one:

- the agency's e-mail address is confirmed (`Agency.email_verified_at`);
- one request's link is e-mailed at most CLIENT_EMAILS_PER_REQUEST times in
  24 hours (the first e-mail, "send again" and reminders together);
- one address gets at most CLIENT_EMAILS_PER_RECIPIENT client e-mails in 24
  hours, from all agencies together;
- one agency sends at most its daily allowance: CLIENT_EMAILS_NEW_AGENCY while
  it is new, CLIENT_EMAILS_AGENCY once its clients have completed
  CLIENT_EMAILS_TRUST_COMPLETED requests or it is CLIENT_EMAILS_TRUST_DAYS old.

Each limit is a setting (LATCHKEY_CLIENT_EMAILS_..., defaults in
portal.config.CLIENT_EMAIL_LIMITS). The counts come from the e-mail log
(NotificationLog rows marked to_client), so they hold across processes and
restarts. `refusal()` only asks (the agency area and the API ask first, to say
so at once); `send_to_client()` asks again and sends (every job that e-mails a
client), so nothing gets around it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage

from flask import current_app
from flask_babel import format_timedelta, ngettext
from flask_babel import gettext as _
from sqlalchemy import func, select

from .. import audit
from ..config import CLIENT_EMAIL_LIMITS
from ..extensions import db
from ..models import AccessRequest, Agency, NotificationLog
from ..models.base import utcnow
from .log import Key, masked, send_once, was_sent

log = logging.getLogger("latchkey.notifications")

WINDOW = timedelta(hours=24)
# The e-mails that carry a request's link: what the limit per request counts.
LINK_KINDS = ("request_sent", "reminder")
REFUSED_ACTION = "client_email.refused"


def setting(name: str) -> int:
    value = current_app.config.get(name)
    return CLIENT_EMAIL_LIMITS[name] if value is None else int(value)


@dataclass(frozen=True)
class Refusal:
    """Why an e-mail to a client may not go now, and what to do instead."""

    reason: str  # unverified, request, recipient or agency
    message: str
    retry_after: int | None = None  # seconds; None when waiting does not help

    @property
    def status(self) -> int:
        """The API's answer: 409 until the address is confirmed, 429 for a limit."""
        return 409 if self.reason == "unverified" else 429


def daily_allowance(agency: Agency) -> int:
    """Client e-mails the agency may send in 24 hours: low while it is new."""
    if agency.created_at <= utcnow() - timedelta(days=setting("CLIENT_EMAILS_TRUST_DAYS")):
        return setting("CLIENT_EMAILS_AGENCY")
    completed = db.session.scalar(
        select(func.count())
        .select_from(AccessRequest)
        .where(
            AccessRequest.agency_id == agency.id,
            AccessRequest.status.in_(("completed", "partially_completed")),
        )
    )
    if completed >= setting("CLIENT_EMAILS_TRUST_COMPLETED"):
        return setting("CLIENT_EMAILS_AGENCY")
    return setting("CLIENT_EMAILS_NEW_AGENCY")


def _recent(*where) -> tuple[int, datetime | None]:
    """How many logged e-mails match in the window, and when the oldest went."""
    count, oldest = db.session.execute(
        select(func.count(), func.min(NotificationLog.created_at)).where(
            *where, NotificationLog.created_at > utcnow() - WINDOW
        )
    ).one()
    return count, oldest


def _wait(oldest: datetime | None) -> int:
    if oldest is None:
        return int(WINDOW.total_seconds())
    return max(60, math.ceil((oldest + WINDOW - utcnow()).total_seconds()))


def _wait_text(seconds: int) -> str:
    return format_timedelta(timedelta(seconds=seconds), threshold=1.5)


def refusal(agency: Agency, email: str, access_request_id: int | None = None) -> Refusal | None:
    """Why an e-mail to `email`, a client of `agency`, may not go now; None when it may.

    With `access_request_id`, it is that request's link (counted per request too).
    """
    if agency.email_verified_at is None:
        return Refusal(
            "unverified",
            _(
                "Your agency's e-mail address is not confirmed yet, and Latchkey e-mails "
                "clients only for agencies whose address is confirmed. An owner or admin can "
                "confirm it with the link e-mailed at sign-up, or send a new link from the "
                "dashboard. Until then, copy the client's link and send it yourself."
            ),
        )
    if access_request_id is not None:
        limit = setting("CLIENT_EMAILS_PER_REQUEST")
        count, oldest = _recent(
            NotificationLog.kind.in_(LINK_KINDS),
            NotificationLog.subject == f"access_request:{access_request_id}",
        )
        if count >= limit:
            wait = _wait(oldest)
            return Refusal(
                "request",
                ngettext(
                    "This link was already e-mailed %(num)d time in the last 24 hours, the "
                    "most Latchkey sends for one request. Copy the link and send it yourself, "
                    "or try again in %(wait)s.",
                    "This link was already e-mailed %(num)d times in the last 24 hours, the "
                    "most Latchkey sends for one request. Copy the link and send it yourself, "
                    "or try again in %(wait)s.",
                    count,
                    wait=_wait_text(wait),
                ),
                wait,
            )
    limit = setting("CLIENT_EMAILS_PER_RECIPIENT")
    count, oldest = _recent(
        NotificationLog.to_client.is_(True),
        NotificationLog.recipient == email.strip().lower(),
    )
    if count >= limit:
        wait = _wait(oldest)
        return Refusal(
            "recipient",
            ngettext(
                "%(email)s already got %(num)d e-mail from Latchkey in the last 24 hours, "
                "the most we send to one address. Copy the link and send it yourself, or try "
                "again in %(wait)s.",
                "%(email)s already got %(num)d e-mails from Latchkey in the last 24 hours, "
                "the most we send to one address. Copy the link and send it yourself, or try "
                "again in %(wait)s.",
                count,
                email=email,
                wait=_wait_text(wait),
            ),
            wait,
        )
    limit = daily_allowance(agency)
    count, oldest = _recent(
        NotificationLog.to_client.is_(True), NotificationLog.agency_id == agency.id
    )
    if count >= limit:
        wait = _wait(oldest)
        return Refusal(
            "agency",
            ngettext(
                "Your agency has sent %(num)d e-mail to clients in the last 24 hours, its "
                "daily allowance. The allowance grows as your clients complete requests. Copy "
                "the link and send it yourself, or try again in %(wait)s.",
                "Your agency has sent %(num)d e-mails to clients in the last 24 hours, its "
                "daily allowance. The allowance grows as your clients complete requests. Copy "
                "the link and send it yourself, or try again in %(wait)s.",
                count,
                wait=_wait_text(wait),
            ),
            wait,
        )
    return None


def send_to_client(
    key: Key,
    build: Callable[[], EmailMessage],
    *,
    agency: Agency,
    link_of: int | None = None,
    locale: str | None = None,
    before_commit: Callable[[], None] | None = None,
) -> str:
    """Send one e-mail to a client of `agency` unless it was sent or may not go.

    `link_of`: the id of the request whose link the e-mail carries. Returns
    "sent", "already sent" or "refused"; a refusal is recorded in the audit
    trail (with its reason), so the agency sees why nothing went.
    """
    if was_sent(key):
        return "already sent"
    refused = refusal(agency, key.recipient, link_of)
    if refused is not None:
        subject_type, _sep, subject_id = key.subject.partition(":")
        audit.record(
            REFUSED_ACTION,
            agency_id=agency.id,
            actor=audit.SYSTEM,
            subject=(subject_type, subject_id),
            details={"to": key.recipient, "kind": key.kind, "reason": refused.reason},
        )
        db.session.commit()
        log.info("%s to %s not sent: %s", key.kind, masked(key.recipient), refused.reason)
        return "refused"
    sent = send_once(
        key,
        build,
        agency_id=agency.id,
        locale=locale,
        before_commit=before_commit,
        to_client=True,
    )
    return "sent" if sent else "already sent"


__all__ = [
    "LINK_KINDS",
    "REFUSED_ACTION",
    "Refusal",
    "daily_allowance",
    "refusal",
    "send_to_client",
]
