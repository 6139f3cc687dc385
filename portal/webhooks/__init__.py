"""Signed webhooks (Standard Webhooks) for the public events.

    init_app(app)   subscribe to the domain events

Each public event (see `portal.events.PUBLIC_EVENTS`) becomes one delivery per
subscribed endpoint, all with the same `webhook-id`, sent by RQ on the
"webhooks" queue and retried on a jittered schedule (about 5 s, 5 min, 30 min,
2 h, 5 h, 10 h, 10 h), honouring Retry-After. A 410 disables the endpoint, and
so do 5 days of failures (the agency's owners and admins are e-mailed).
"""

from __future__ import annotations

import logging

from flask import Flask, current_app

from .. import events
from ..models.base import utcnow

log = logging.getLogger("latchkey.webhooks")


def on_event(event: events.DomainEvent) -> None:
    """Queue the fan-out of a public event (after commit; only agencies with endpoints)."""
    if event.name not in events.PUBLIC_EVENTS:
        return
    from worker import enqueue

    from ..extensions import db
    from . import jobs, service

    occurred_at = utcnow().isoformat().replace("+00:00", "Z")
    app = current_app._get_current_object()
    # A context of our own: the committing session cannot run SQL in after_commit.
    with app.app_context():
        try:
            if not service.has_endpoints(event.agency_id):
                return
            enqueue(
                jobs.fan_out_event,
                service.new_event_id(),
                event.name,
                event.agency_id,
                event.access_request_id,
                occurred_at,
                queue="webhooks",
                timeout=30,
                retry=(5, 60, 300),
                title=f"Webhooks for {event.name} of request {event.access_request_id}",
            )
        finally:
            db.session.remove()


def init_app(app: Flask) -> None:
    events.subscribe(on_event)
