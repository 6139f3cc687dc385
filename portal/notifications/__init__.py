"""E-mails about requests and grants: who is told what, and when.

Domain events (delivered after commit) queue the jobs that send them; the
jobs live in `worker.jobs` and are idempotent through `NotificationLog`.

    init_app(app)                          # subscribe to the domain events
    send_request_email(access_request_id)  # e-mail the link to the client now
    send_request_email(id, resend=True)    # and again, later, on request

A request announces `access_request.created`; it is e-mailed to the client
when the event carries `data={"send_email": True}` (the creator ticked "send
it by e-mail"), or when the caller asks with `send_request_email()`.
"""

from __future__ import annotations

import logging
import uuid

from flask import Flask

from .. import events
from ..models.base import utcnow

log = logging.getLogger("latchkey.notifications")

# Grant failures and manual steps are e-mailed after a short grace period:
# several failing at once make one e-mail, and a client who fixes the problem
# at once (while on the page) spares the agency an alert.
ALERT_DELAY_SECONDS = 300
EMAIL_RETRY = (10, 60, 300, 1800)
EXPIRY_MARGIN_SECONDS = 1


def send_request_email(access_request_id: int, *, resend: bool = False) -> None:
    """Queue the e-mail that gives the client its link.

    The first send happens once whatever the number of calls; `resend=True`
    (the agency pressed "Send again") sends one more each time it is asked.
    """
    from worker import enqueue
    from worker.jobs import send_request_email as job

    period = f"resend-{utcnow():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}" if resend else ""
    enqueue(
        job,
        access_request_id,
        period,
        queue="default",
        timeout=60,
        retry=EMAIL_RETRY,
        title=f"E-mail the link of request {access_request_id}",
    )


def on_event(event: events.DomainEvent) -> None:
    """Queue the work an event calls for (quick: enqueue only, no SQL)."""
    from worker import enqueue, jobs

    rid = event.access_request_id
    if event.name == "access_request.created":
        # Expire the link at its time: the job finds expires_at itself.
        enqueue(jobs.plan_expiry, rid, timeout=30, title=f"Plan the expiry of request {rid}")
        if event.data.get("send_email"):
            send_request_email(rid)
    elif event.name in ("access_request.completed", "access_request.partially_completed"):
        enqueue(
            jobs.send_completion_emails,
            rid,
            queue="reports",
            timeout=120,
            retry=EMAIL_RETRY,
            title=f"Send the confirmation of request {rid}",
        )
    elif event.name in ("grant.failed", "grant.needs_action"):
        enqueue(
            jobs.send_grant_alerts,
            rid,
            timeout=60,
            retry=EMAIL_RETRY,
            delay=ALERT_DELAY_SECONDS,
            title=f"Tell the agency about grants of request {rid}",
        )
    elif event.name == "grant.removed" and event.grant_id is not None:
        enqueue(
            jobs.send_grant_removed_email,
            event.grant_id,
            timeout=60,
            retry=EMAIL_RETRY,
            title=f"Tell the agency grant {event.grant_id} was removed",
        )


def init_app(app: Flask) -> None:
    events.subscribe(on_event)


__all__ = ["ALERT_DELAY_SECONDS", "init_app", "on_event", "send_request_email"]
