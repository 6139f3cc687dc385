"""Writing and checking the audit trail.

Each agency has its own hash chain: an event's hash covers its fields and the
previous event's hash. `verify_chain` recomputes it and names the first event
that does not match.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from flask import has_request_context, request
from flask_login import current_user
from sqlalchemy import select, text

from ..extensions import db
from ..models import AuditEvent
from ..models.base import utcnow

GENESIS = "0" * 64
# Keys that must never be written into an event, whatever a caller passes.
SECRET_KEYS = frozenset(
    {"password", "token", "secret", "code", "access_token", "refresh_token", "totp", "key"}
)


@dataclass(frozen=True)
class Actor:
    type: str  # user, client, api_key, system
    id: str | None = None
    label: str | None = None


SYSTEM = Actor("system", None, "Latchkey")


def _scrub(details: dict) -> dict:
    clean = {}
    for key, value in details.items():
        if key.lower() in SECRET_KEYS:
            continue
        clean[key] = _scrub(value) if isinstance(value, dict) else value
    return clean


def _digest(event: AuditEvent) -> str:
    payload = {
        "agency_id": event.agency_id,
        "seq": event.seq,
        "created_at": event.created_at.isoformat(),
        "actor": [event.actor_type, event.actor_id, event.actor_label],
        "action": event.action,
        "subject": [event.subject_type, event.subject_id],
        "ip": event.ip,
        "user_agent": event.user_agent,
        "details": event.details,
        "prev": event.prev_hash,
    }
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def current_actor() -> Actor:
    if has_request_context() and current_user and current_user.is_authenticated:
        return Actor("user", str(current_user.id), current_user.email)
    return SYSTEM


def record(
    action: str,
    *,
    agency_id: int | None,
    actor: Actor | None = None,
    subject: tuple[str, object] | None = None,
    details: dict | None = None,
) -> AuditEvent:
    """Append an event to the agency's chain, in the caller's transaction."""
    actor = actor or current_actor()
    if db.engine.dialect.name == "postgresql":
        # Serialise appends to one chain; released at commit.
        db.session.execute(
            text("SELECT pg_advisory_xact_lock(:k)"), {"k": 7_000_000 + (agency_id or 0)}
        )
    last = db.session.execute(
        select(AuditEvent.seq, AuditEvent.hash)
        .where(
            AuditEvent.agency_id.is_(agency_id)
            if agency_id is None
            else AuditEvent.agency_id == agency_id
        )
        .order_by(AuditEvent.seq.desc())
        .limit(1)
    ).first()
    ip = ua = None
    if has_request_context():
        ip = request.remote_addr
        ua = (request.user_agent.string or "")[:255] or None
    event = AuditEvent(
        agency_id=agency_id,
        seq=(last.seq + 1) if last else 1,
        created_at=utcnow().replace(microsecond=0),
        actor_type=actor.type,
        actor_id=actor.id,
        actor_label=actor.label,
        action=action,
        subject_type=subject[0] if subject else None,
        subject_id=str(subject[1]) if subject else None,
        ip=ip,
        user_agent=ua,
        details=_scrub(details or {}),
        prev_hash=last.hash if last else GENESIS,
    )
    event.hash = _digest(event)
    db.session.add(event)
    db.session.flush()
    return event


@dataclass
class ChainResult:
    ok: bool
    count: int
    broken_event_id: int | None = None
    reason: str | None = None


def verify_chain(agency_id: int | None) -> ChainResult:
    """Recompute the agency's chain; report the first event that breaks it."""
    condition = (
        AuditEvent.agency_id.is_(None) if agency_id is None else (AuditEvent.agency_id == agency_id)
    )
    prev = GENESIS
    expected_seq = 1
    count = 0
    for event in db.session.execute(
        select(AuditEvent)
        .where(condition)
        .order_by(AuditEvent.seq)
        .execution_options(yield_per=1000)
    ).scalars():
        if event.seq != expected_seq:
            return ChainResult(False, count, event.id, f"missing event before seq {event.seq}")
        if event.prev_hash != prev:
            return ChainResult(False, count, event.id, "previous hash does not match")
        if _digest(event) != event.hash:
            return ChainResult(False, count, event.id, "event content was changed")
        prev = event.hash
        expected_seq += 1
        count += 1
    return ChainResult(True, count)
