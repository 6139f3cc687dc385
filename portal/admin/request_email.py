"""E-mailing a request's link to the client from the agency area.

What may be sent is decided in one place, `notifications.client_mail`: this
view asks it first so the person sees at once why nothing can go (address not
confirmed, a daily limit reached), and the job asks again before sending.
"""

from __future__ import annotations

from flask import flash, g
from flask_babel import gettext as _
from sqlalchemy import func, select

from .. import audit
from ..auth.session import role_required
from ..extensions import db
from ..models import AccessRequest, AuditEvent
from ..notifications import client_mail
from ..services import requests as service
from ..web import get_for_agency
from . import bp
from .requests import _back, _checked_form, _user_actor


@bp.post("/requests/<int:request_id>/email")
@role_required("member")
def request_email(request_id: int):
    """E-mail the link to the client (again, when it was already sent)."""
    access_request = get_for_agency(AccessRequest, request_id)
    _checked_form()
    if not service.is_open(access_request) or access_request.status in (
        "completed",
        "partially_completed",
    ):
        flash(_("This request is closed: there is nothing to e-mail."), "warning")
        return _back(request_id)
    refused = client_mail.refusal(g.agency, access_request.client.email, access_request.id)
    if refused is not None:
        flash(refused.message, "error")
        return _back(request_id)
    already = db.session.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(
            AuditEvent.agency_id == g.agency_id,
            AuditEvent.subject_type == "access_request",
            AuditEvent.subject_id == str(request_id),
            AuditEvent.action == "access_request.email_sent",
        )
    )
    _send_request_email(request_id, resend=bool(already))
    audit.record(
        "access_request.email_requested",
        agency_id=g.agency_id,
        actor=_user_actor(),
        subject=("access_request", request_id),
        details={"to": access_request.client.email, "resend": bool(already)},
    )
    db.session.commit()
    flash(_("The link is on its way to %(email)s.", email=access_request.client.email), "success")
    return _back(request_id)


def _send_request_email(request_id: int, resend: bool) -> None:
    from ..notifications import send_request_email

    send_request_email(request_id, resend=resend)
