"""What the agency does to a request after sending it: extend, new link."""

from __future__ import annotations

from datetime import timedelta

from flask_babel import gettext as _

from .. import audit, crypto
from ..extensions import db
from ..models import AccessRequest
from ..models.base import utcnow
from .requests import MAX_EXPIRY_DAYS, MIN_EXPIRY_DAYS, RequestError

CLOSED = ("revoked", "completed")


def extend_expiry(access_request: AccessRequest, days: object, actor: audit.Actor | None) -> None:
    """The link now works until `days` days from now; an expired link opens again."""
    try:
        days = int(days)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        days = 0
    if not MIN_EXPIRY_DAYS <= days <= MAX_EXPIRY_DAYS:
        raise RequestError(
            [
                (
                    "days",
                    _(
                        "Choose between %(min)d and %(max)d days.",
                        min=MIN_EXPIRY_DAYS,
                        max=MAX_EXPIRY_DAYS,
                    ),
                )
            ]
        )
    if access_request.status in CLOSED or access_request.erased_at is not None:
        raise RequestError([("days", _("This request is closed: create a new one instead."))])
    previous = access_request.expires_at
    access_request.expires_at = utcnow() + timedelta(days=days)
    reopened = access_request.status == "expired"
    if reopened:
        if access_request.grants:
            access_request.status = "in_progress"
        else:
            access_request.status = "opened" if access_request.opened_at else "sent"
    audit.record(
        "access_request.extended",
        agency_id=access_request.agency_id,
        actor=actor,
        subject=("access_request", access_request.id),
        details={
            "previous": previous.isoformat() if previous else None,
            "expires_at": access_request.expires_at.isoformat(),
            "reopened": reopened,
        },
    )
    db.session.commit()


def regenerate_link(access_request: AccessRequest, actor: audit.Actor | None) -> str:
    """Give the request a new link; the old one answers 404 from now on."""
    if access_request.status in ("revoked", "expired", "completed") or access_request.erased_at:
        raise RequestError([("link", _("This request is closed: its link cannot be renewed."))])
    token = crypto.new_token()
    access_request.token_hash = crypto.token_hash(token)
    access_request.token_encrypted = crypto.encrypt(token)
    audit.record(
        "access_request.link_regenerated",
        agency_id=access_request.agency_id,
        actor=actor,
        subject=("access_request", access_request.id),
    )
    db.session.commit()
    return token
