"""Domain events: what happened to a request or a grant, delivered after commit.

Services call `emit()` inside their transaction; subscribers (webhooks,
e-mails) are called only once that transaction commits, so a job they enqueue
always sees the committed state, and nothing is sent for a rolled-back change.
Subscribers must be quick (enqueue a job, nothing more).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

log = logging.getLogger("latchkey.events")

# The events of the public contract (webhooks) and the internal ones.
PUBLIC_EVENTS = (
    "access_request.opened",
    "grant.granted",
    "grant.verified",
    "grant.failed",
    "access_request.completed",
    "access_request.expired",
    "access_request.revoked",
)
INTERNAL_EVENTS = (
    "access_request.created",
    "access_request.partially_completed",
    "grant.needs_action",
    "grant.removed",
)


@dataclass(frozen=True)
class DomainEvent:
    name: str
    agency_id: int
    access_request_id: int
    grant_id: int | None = None
    data: dict = field(default_factory=dict)


Subscriber = Callable[[DomainEvent], None]
_subscribers: list[Subscriber] = []
_PENDING = "latchkey_pending_events"


def subscribe(subscriber: Subscriber) -> Subscriber:
    """Register `subscriber` (idempotent); usable as a decorator."""
    if subscriber not in _subscribers:
        _subscribers.append(subscriber)
    return subscriber


def emit(session: Session, event: DomainEvent) -> None:
    """Queue `event` to be delivered when `session` commits."""
    if event.name not in PUBLIC_EVENTS + INTERNAL_EVENTS:
        raise ValueError(f"unknown event {event.name!r}")
    session.info.setdefault(_PENDING, []).append(event)


@sa_event.listens_for(Session, "after_commit")
def _deliver(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    for domain_event in pending:
        for subscriber in list(_subscribers):
            try:
                subscriber(domain_event)
            except Exception:
                # The change is committed; a failing subscriber must not undo
                # it or hide the others. Periodic sweeps catch what is missed.
                log.exception("subscriber %r failed for %s", subscriber, domain_event.name)


@sa_event.listens_for(Session, "after_rollback")
def _discard(session: Session) -> None:
    session.info.pop(_PENDING, None)
