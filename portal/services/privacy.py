"""Data protection: export a client's data, erase it, and erase finished requests
once the agency's retention period has passed.

Erasing keeps what the agency needs to count and to account for access it
still holds (request status and dates, items, grants with platform, asset id
and permissions) and removes who the client is and what they typed: the
client's name, e-mail and external id, answers, messages, the IPs and browsers
of their visits, and every copy of those in audit details, e-mail logs, webhook
bodies and stored API answers. Audit events keep a salted digest of each erased
value, so the hash chain still verifies (see `portal.audit`).

Platform access is not touched: a grant made on Pinterest stays there until
the agency or the client removes it.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import Text, and_, cast, exists, func, or_, select

from .. import audit, crypto, events
from ..extensions import db
from ..models import (
    OPEN_REQUEST_STATUSES,
    AccessRequest,
    Agency,
    AuditEvent,
    Client,
    Grant,
    IdempotencyKey,
    NotificationLog,
    WebhookDelivery,
)
from ..models.base import utcnow

log = logging.getLogger("latchkey.privacy")

RETENTION_MIN_DAYS = 30
RETENTION_MAX_DAYS = 3650
RETENTION_CHOICES = (30, 90, 180, 365, 730, 1095, 1825, 3650)
FINISHED_STATUSES = ("completed", "partially_completed", "expired", "revoked")
ERASURE_ACTIONS = frozenset({"access_request.erased", "client.erased"})
# Keys of audit details that say what happened, not who: kept when the events
# of an erased request are erased (unless a value names the client).
KEPT_DETAILS = frozenset(
    {
        "access_request_id",
        "asset_id",
        "asset_type",
        "audience",
        "confirmed_by_agency",
        "error",
        "expires_at",
        "failed",
        "items",
        "pending",
        "permissions",
        "platform",
        "previous",
        "questions",
        "reason",
        "reopened",
        "resend",
        "seen",
        "stage",
        "status",
        "template_id",
        "verification_code",
        "verified",
    }
)
# What a guided manual step stores of the client's reply.
PERSONAL_GRANT_EXTERNAL = frozenset({"sent_back", "confirmed_by"})
SCAN_CHUNK = 500
# Deliveries or stored API answers written while an erasure ran are scrubbed
# again by a job this many seconds later.
LATE_SWEEP_DELAY = 120


class PrivacyError(ValueError):
    def __init__(self, field_name: str, message: str):
        self.field = field_name
        self.message = message
        super().__init__(message)


@dataclass
class ErasureReport:
    requests: int = 0
    revoked: int = 0
    events: int = 0
    fields: int = 0
    emails: int = 0
    webhook_deliveries: int = 0
    api_answers: int = 0
    clients: int = 0
    # Erased in the same transaction: what the late sweep looks at again.
    request_ids: list[int] = field(default_factory=list)

    def add(self, other: ErasureReport) -> None:
        for name in (
            "requests",
            "revoked",
            "events",
            "fields",
            "emails",
            "webhook_deliveries",
            "api_answers",
            "clients",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.request_ids.extend(other.request_ids)


# ---------------------------------------------------------------- matching


def _text_in(value) -> bool:
    """Does the value hold any text (a string, or strings inside a list/object)?"""
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, dict):
        return any(_text_in(v) for v in value.values())
    if isinstance(value, list):
        return any(_text_in(v) for v in value)
    return False


def _as_text(value) -> str:
    if isinstance(value, str):
        return value.casefold()
    return json.dumps(value, ensure_ascii=False, default=str).casefold()


def _strings(value) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for inner in value.values():
            yield from _strings(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _strings(inner)


@dataclass(frozen=True)
class Identity:
    """What identifies one client, to find it wherever it was copied.

    `tokens` are matched inside any value of an event about the client's own
    requests; elsewhere only the e-mail (inside a value) and the name or
    external id (as a whole value) count, so a short name cannot erase
    unrelated text.
    """

    email: str
    name: str
    external_ids: tuple[str, ...] = ()
    tokens: tuple[str, ...] = ()

    def mentioned_in(self, value) -> bool:
        text = _as_text(value)
        return any(token in text for token in self.tokens)

    def named_by(self, value) -> bool:
        """Elsewhere in the agency's trail: the e-mail, or the name or an id as a value."""
        if self.email and self.email in _as_text(value):
            return True
        whole = {s.strip().casefold() for s in _strings(value)}
        return bool(whole & ({self.name} | set(self.external_ids)) - {""})


def identity_of(client: Client, requests: Sequence[AccessRequest]) -> Identity:
    email = (client.email or "").strip().casefold()
    name = (client.name or "").strip().casefold()
    external = {(client.external_id or "").strip().casefold()}
    external.update((r.external_id or "").strip().casefold() for r in requests)
    external.discard("")
    tokens = {email, name, *external}
    for access_request in requests:
        tokens.update(s.strip().casefold() for s in _strings(access_request.answers or {}))
        for grant in access_request.grants:
            tokens.update(
                s.strip().casefold() for s in _strings((grant.external or {}).get("sent_back"))
            )
    # Very short values ("no", "1") would match everything.
    tokens = {t for t in tokens if len(t) >= 3}
    return Identity(email, name, tuple(sorted(external)), tuple(sorted(tokens)))


def _pointers_about_client(event: AuditEvent, who: Identity) -> list[str]:
    """In an event about the client's request: everything that is not plainly
    a fact of the request (status, platform, dates...), and anything naming them."""
    if event.action in ERASURE_ACTIONS:
        return []
    pointers = []
    for pointer, value in audit.fields_of(event).items():
        if pointer.startswith("/details/"):
            top = pointer.split("/")[2].replace("~1", "/").replace("~0", "~")
            if (top not in KEPT_DETAILS and _text_in(value)) or who.mentioned_in(value):
                pointers.append(pointer)
        elif event.actor_type == "client" or who.mentioned_in(value):
            pointers.append(pointer)
    return pointers


def _pointers_naming_client(event: AuditEvent, who: Identity) -> list[str]:
    """In any other event of the agency: only the values that name the client."""
    if event.action in ERASURE_ACTIONS:
        return []
    return [p for p, value in audit.fields_of(event).items() if who.named_by(value)]


def _json_forms(value: str) -> set[str]:
    """How a string may read inside stored JSON text (escaped or not), lower-cased."""
    value = value.casefold()
    return {value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]}


def _chunks(values: Sequence, size: int = SCAN_CHUNK) -> Iterable[Sequence]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


# ------------------------------------------------------------ erasing parts


def _erase_subject_events(
    agency_id: int, request_ids: Sequence[int], grant_ids: Sequence[int], who: Identity
) -> audit.Eraser:
    eraser = audit.Eraser()
    subjects = [
        ("access_request", [str(i) for i in request_ids]),
        ("grant", [str(i) for i in grant_ids]),
    ]
    for subject_type, ids in subjects:
        for chunk in _chunks(ids):
            rows = db.session.execute(
                select(AuditEvent)
                .where(
                    AuditEvent.agency_id == agency_id,
                    AuditEvent.subject_type == subject_type,
                    AuditEvent.subject_id.in_(chunk),
                )
                .order_by(AuditEvent.seq)
            ).scalars()
            for event in rows:
                eraser.erase(event, _pointers_about_client(event, who))
    return eraser


def _erase_email_log(agency_id: int, email: str, subjects: Sequence[str] | None = None) -> int:
    """E-mails sent to the client: the row stays (so nothing is sent twice), the address goes."""
    if not email:
        return 0
    conditions = [
        NotificationLog.agency_id == agency_id,
        func.lower(NotificationLog.recipient) == email,
    ]
    rows = []
    if subjects is None:
        rows = db.session.execute(select(NotificationLog).where(*conditions)).scalars().all()
    else:
        for chunk in _chunks(list(subjects)):
            rows.extend(
                db.session.execute(
                    select(NotificationLog).where(*conditions, NotificationLog.subject.in_(chunk))
                ).scalars()
            )
    for row in rows:
        row.recipient = f"erased:{row.id}"
    return len(rows)


def _request_id_of(body: str | None, key: str) -> int | None:
    try:
        data = json.loads(body or "")
    except ValueError:
        return None
    if key:
        data = data.get(key) if isinstance(data, dict) else None
    value = data.get("id") if isinstance(data, dict) else None
    return value if isinstance(value, int) else None


def _scrub_delivery(row: WebhookDelivery, request_id: int) -> None:
    try:
        timestamp = json.loads(row.payload).get("timestamp")
    except (ValueError, AttributeError):
        timestamp = None
    row.payload = json.dumps(
        {
            "type": row.event_type,
            "timestamp": timestamp,
            "data": {"id": request_id, "erased": True},
        },
        separators=(",", ":"),
    )
    row.response_excerpt = None
    if row.status in ("pending", "retrying"):
        row.status = "cancelled"
        row.next_attempt_at = None


def _erase_api_copies(
    agency_id: int,
    request_ids: Iterable[int],
    since: datetime | None = None,
) -> tuple[int, int]:
    """Webhook bodies and stored API answers that carry the erased requests.

    Their bodies are encrypted, so each copy is found by the request id it
    records (for a late sweep, among those written `since`). Copies written
    before that id was recorded are read one by one.
    """
    wanted = sorted(set(request_ids))
    if not wanted:
        return 0, 0
    deliveries = answers = 0
    for chunk in _chunks(wanted):
        where = [WebhookDelivery.agency_id == agency_id]
        if since is not None:
            where.append(WebhookDelivery.created_at >= since)
        for row in db.session.execute(
            select(WebhookDelivery).where(*where, WebhookDelivery.access_request_id.in_(chunk))
        ).scalars():
            _scrub_delivery(row, row.access_request_id)
            deliveries += 1
        where = [IdempotencyKey.agency_id == agency_id]
        if since is not None:
            where.append(IdempotencyKey.created_at >= since)
        for row in db.session.execute(
            select(IdempotencyKey).where(*where, IdempotencyKey.access_request_id.in_(chunk))
        ).scalars():
            # A replay of that call now finds nothing stored and runs again.
            db.session.delete(row)
            answers += 1
    older_deliveries, older_answers = _erase_unmarked_copies(agency_id, set(wanted), since)
    return deliveries + older_deliveries, answers + older_answers


def _erase_unmarked_copies(
    agency_id: int, wanted: set[int], since: datetime | None
) -> tuple[int, int]:
    """Copies that do not record their request id: found by reading each body."""
    delivery_where = [
        WebhookDelivery.agency_id == agency_id,
        WebhookDelivery.access_request_id.is_(None),
        WebhookDelivery.event_type != "webhook.test",
    ]
    answer_where = [
        IdempotencyKey.agency_id == agency_id,
        IdempotencyKey.access_request_id.is_(None),
        IdempotencyKey.response_body.is_not(None),
    ]
    if since is not None:
        delivery_where.append(WebhookDelivery.created_at >= since)
        answer_where.append(IdempotencyKey.created_at >= since)
    deliveries = 0
    for row in db.session.execute(select(WebhookDelivery).where(*delivery_where)).scalars():
        request_id = _request_id_of(row.payload, "data")
        if request_id in wanted:
            _scrub_delivery(row, request_id)
            deliveries += 1
    answers = 0
    for row in db.session.execute(select(IdempotencyKey).where(*answer_where)).scalars():
        body = row.response_body or ""
        if '"client"' in body and _request_id_of(body, "") in wanted:
            db.session.delete(row)
            answers += 1
    return deliveries, answers


def _revoke_in_place(access_request: AccessRequest, actor: audit.Actor, now: datetime) -> None:
    """Close an open request in the caller's transaction (as `revoke_request` does)."""
    previous = access_request.status
    access_request.status = "revoked"
    access_request.revoked_at = now
    events.emit(
        db.session(),
        events.DomainEvent("access_request.revoked", access_request.agency_id, access_request.id),
    )
    audit.record(
        "access_request.revoked",
        agency_id=access_request.agency_id,
        actor=actor,
        subject=("access_request", access_request.id),
        details={"status": "revoked", "previous": previous, "reason": "client_erased"},
    )


def _erase_request(
    access_request: AccessRequest,
    who: Identity,
    actor: audit.Actor,
    reason: str,
    now: datetime,
) -> ErasureReport:
    """Erase one request's personal data in the caller's transaction."""
    report = ErasureReport(requests=1, request_ids=[access_request.id])
    access_request.answers = {}
    access_request.message = None
    access_request.redirect_url = None
    access_request.external_id = None
    # The link dies: no token matches the stored hash any more, and none is kept.
    access_request.token_hash = crypto.token_hash(crypto.new_token())
    access_request.token_encrypted = crypto.encrypt("")
    access_request.erased_at = now
    for grant in access_request.grants:
        _erase_grant(grant, who)
    grant_ids = [g.id for g in access_request.grants]
    eraser = _erase_subject_events(access_request.agency_id, [access_request.id], grant_ids, who)
    subjects = [f"access_request:{access_request.id}", *(f"grant:{i}" for i in grant_ids)]
    report.emails = _erase_email_log(access_request.agency_id, who.email, subjects)
    report.events, report.fields = eraser.events, eraser.erased_fields
    if eraser.unverifiable:
        log.warning(
            "request %s: %d audit events were already altered; erased without a digest",
            access_request.id,
            eraser.unverifiable,
        )
    eraser.record(
        "access_request.erased",
        agency_id=access_request.agency_id,
        actor=actor,
        subject=("access_request", access_request.id),
        details={"reason": reason, "events": eraser.events, "fields": eraser.erased_fields},
    )
    return report


def _erase_grant(grant: Grant, who: Identity) -> None:
    # The asset id stays (the access may still exist and be removed later); its
    # display name may be the client's own (a personal profile).
    if grant.asset_name and (
        grant.asset_name != grant.asset_id or who.mentioned_in(grant.asset_name)
    ):
        grant.asset_name = grant.asset_id
    external = {
        key: value
        for key, value in (grant.external or {}).items()
        if key not in PERSONAL_GRANT_EXTERNAL and not who.mentioned_in(value)
    }
    if external != (grant.external or {}):
        grant.external = external
    if grant.error and who.mentioned_in(grant.error):
        grant.error = None
    if grant.fix and who.mentioned_in(grant.fix):
        grant.fix = None


def _erase_client_row(
    client: Client, who: Identity, actor: audit.Actor, reason: str, now: datetime
) -> ErasureReport:
    """The client itself: its row, and every trace of it in the agency's trail."""
    report = ErasureReport(clients=1)
    agency = db.session.get(Agency, client.agency_id)
    with force_locale(agency.default_locale or "en"):
        client.name = _("Erased client")
    client.email = ""
    client.external_id = None
    client.erased_at = now

    eraser = audit.Eraser()
    found = [
        and_(AuditEvent.actor_type == "client", AuditEvent.actor_id == str(client.id)),
        func.lower(AuditEvent.actor_label) == who.email,
    ]
    details_text = func.lower(cast(AuditEvent.details, Text))
    needles = set()
    if who.email:
        needles |= _json_forms(who.email)
    for whole in (who.name, *who.external_ids):
        if whole:
            needles |= {f'"{form}"' for form in _json_forms(whole)}
    found.extend(details_text.contains(n, autoescape=True) for n in needles)
    rows = db.session.execute(
        select(AuditEvent)
        .where(AuditEvent.agency_id == client.agency_id, or_(*found))
        .order_by(AuditEvent.seq)
    ).scalars()
    for event in rows:
        if event.actor_type == "client" and event.actor_id == str(client.id):
            eraser.erase(event, _pointers_about_client(event, who))
        else:
            eraser.erase(event, _pointers_naming_client(event, who))
    report.events, report.fields = eraser.events, eraser.erased_fields
    report.emails = _erase_email_log(client.agency_id, who.email)
    eraser.record(
        "client.erased",
        agency_id=client.agency_id,
        actor=actor,
        subject=("client", client.id),
        details={"reason": reason, "events": eraser.events, "fields": eraser.erased_fields},
    )
    return report


def _requests_of(client: Client, lock: bool = False) -> list[AccessRequest]:
    stmt = (
        select(AccessRequest)
        .where(AccessRequest.client_id == client.id, AccessRequest.agency_id == client.agency_id)
        .order_by(AccessRequest.id)
    )
    if lock:
        stmt = stmt.with_for_update()
    return list(db.session.execute(stmt).scalars())


def _after_commit(agency_id: int, report: ErasureReport, started: datetime) -> None:
    """Drop the client's platform tokens still cached, and sweep late copies."""
    from ..oauth import discard_client_token

    for access_request_id in report.request_ids:
        access_request = db.session.get(AccessRequest, access_request_id)
        for platform_id in access_request.platforms if access_request else ():
            try:
                discard_client_token(access_request_id, platform_id)
            except Exception:  # Redis down: the token expires on its own within the hour
                log.warning("could not discard a client token of request %s", access_request_id)
    if not report.request_ids:
        return
    from worker import enqueue
    from worker.jobs import sweep_erased_copies

    try:
        enqueue(
            sweep_erased_copies,
            agency_id,
            list(report.request_ids),
            started.isoformat(),
            timeout=120,
            delay=LATE_SWEEP_DELAY,
            title=f"Sweep copies of {len(report.request_ids)} erased requests",
        )
    except Exception:
        log.warning("could not queue the sweep after an erasure", exc_info=True)


# ------------------------------------------------------------------- verbs


def erase_client(client: Client, actor: audit.Actor, reason: str = "deleted") -> ErasureReport:
    """Delete a client: revoke its open requests, erase every request's personal
    data and then the client's own, in one transaction; commit."""
    started = utcnow()
    db.session.execute(select(Client.id).where(Client.id == client.id).with_for_update())
    db.session.refresh(client)
    if client.erased_at is not None:
        db.session.commit()
        return ErasureReport()
    requests = _requests_of(client, lock=True)
    who = identity_of(client, requests)
    report = ErasureReport()
    for access_request in requests:
        if access_request.erased_at is not None:
            continue
        if access_request.status in OPEN_REQUEST_STATUSES:
            _revoke_in_place(access_request, actor, started)
            report.revoked += 1
        report.add(_erase_request(access_request, who, actor, reason, started))
    report.add(_erase_client_row(client, who, actor, reason, started))
    every_request = [r.id for r in requests]
    deliveries, answers = _erase_api_copies(client.agency_id, every_request)
    report.webhook_deliveries, report.api_answers = deliveries, answers
    db.session.commit()
    _after_commit(client.agency_id, report, started)
    return report


def erase_request(
    access_request: AccessRequest, actor: audit.Actor = audit.SYSTEM, reason: str = "retention"
) -> ErasureReport:
    """Erase one finished request's personal data (the client stays); commit.

    Idempotent: a request already erased, or not finished, is left alone.
    """
    started = utcnow()
    db.session.execute(
        select(AccessRequest.id).where(AccessRequest.id == access_request.id).with_for_update()
    )
    db.session.refresh(access_request)
    end = finished_at(access_request)
    if access_request.erased_at is not None or end is None or end > started:
        db.session.commit()
        return ErasureReport()
    client = access_request.client
    who = identity_of(client, [access_request])
    report = _erase_request(access_request, who, actor, reason, started)
    deliveries, answers = _erase_api_copies(access_request.agency_id, [access_request.id])
    report.webhook_deliveries, report.api_answers = deliveries, answers
    db.session.commit()
    _after_commit(access_request.agency_id, report, started)
    return report


def sweep_copies(agency_id: int, request_ids: Sequence[int], since: datetime) -> tuple[int, int]:
    """Scrub webhook bodies and API answers about erased requests written `since`."""
    erased = set(
        db.session.execute(
            select(AccessRequest.id).where(
                AccessRequest.agency_id == agency_id,
                AccessRequest.id.in_(list(request_ids)),
                AccessRequest.erased_at.is_not(None),
            )
        ).scalars()
    )
    found = _erase_api_copies(agency_id, erased, since=since)
    db.session.commit()
    return found


# ----------------------------------------------------------------- export


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def _event_json(event: AuditEvent) -> dict:
    return {
        "seq": event.seq,
        "at": _iso(event.created_at),
        "action": event.action,
        "actor": {"type": event.actor_type, "id": event.actor_id, "label": event.actor_label},
        "subject": {"type": event.subject_type, "id": event.subject_id},
        "ip": event.ip,
        "user_agent": event.user_agent,
        "details": event.details or {},
        "erased_fields": sorted(event.erased or {}),
        "hash": event.hash,
    }


def _grant_json(grant: Grant) -> dict:
    return {
        "id": grant.id,
        "platform": grant.platform,
        "asset_type": grant.asset_type,
        "asset_id": grant.asset_id,
        "asset_name": grant.asset_name,
        "permissions": list(grant.permissions or []),
        "status": grant.status,
        "manual": grant.manual,
        "what_the_client_sent": (grant.external or {}).get("sent_back"),
        "error": grant.error,
        "fix": grant.fix,
        "created_at": _iso(grant.created_at),
        "granted_at": _iso(grant.granted_at),
        "verified_at": _iso(grant.verified_at),
        "removed_at": _iso(grant.removed_at),
    }


def _answers_json(access_request: AccessRequest) -> list[dict]:
    answers = access_request.answers or {}
    out = []
    for question in access_request.questions or []:
        if question.get("id") in answers:
            out.append(
                {
                    "question": question.get("label") or question["id"],
                    "answer": answers[question["id"]],
                }
            )
    known = {q.get("id") for q in access_request.questions or []}
    out.extend({"question": qid, "answer": v} for qid, v in answers.items() if qid not in known)
    return out


def export_client(client: Client, actor: audit.Actor) -> dict:
    """Everything Latchkey holds about one client, as JSON-ready data; audited, committed."""
    requests = _requests_of(client)
    request_ids = [str(r.id) for r in requests]
    grant_ids = [str(g.id) for r in requests for g in r.grants]
    by_seq: dict[int, AuditEvent] = {}
    subjects = [("access_request", request_ids), ("grant", grant_ids), ("client", [str(client.id)])]
    for subject_type, ids in subjects:
        for chunk in _chunks(ids):
            for event in db.session.execute(
                select(AuditEvent).where(
                    AuditEvent.agency_id == client.agency_id,
                    AuditEvent.subject_type == subject_type,
                    AuditEvent.subject_id.in_(chunk),
                )
            ).scalars():
                by_seq[event.seq] = event
    for event in db.session.execute(
        select(AuditEvent).where(
            AuditEvent.agency_id == client.agency_id,
            AuditEvent.actor_type == "client",
            AuditEvent.actor_id == str(client.id),
        )
    ).scalars():
        by_seq[event.seq] = event
    email = (client.email or "").strip().lower()
    mail_subjects = {f"client:{client.id}"} | {f"access_request:{i}" for i in request_ids}
    mail_subjects |= {f"grant:{i}" for i in grant_ids}
    emails = []
    for row in db.session.execute(
        select(NotificationLog)
        .where(
            NotificationLog.agency_id == client.agency_id,
            or_(
                NotificationLog.recipient == email,
                NotificationLog.subject.in_(sorted(mail_subjects)),
            ),
        )
        .order_by(NotificationLog.created_at, NotificationLog.id)
    ).scalars():
        if row.recipient != email and not row.subject.startswith(("access_request:", "grant:")):
            continue
        emails.append(
            {
                "kind": row.kind,
                "about": row.subject,
                "to": row.recipient,
                "to_the_client": row.recipient == email,
                "occurrence": row.period or None,
                "language": row.locale,
                "sent_at": _iso(row.created_at),
            }
        )
    agency = db.session.get(Agency, client.agency_id)
    data = {
        "format": "latchkey.client-export",
        "version": 1,
        "exported_at": _iso(utcnow()),
        "agency": {"name": agency.name, "display_name": agency.display_name},
        "client": {
            "id": client.id,
            "name": client.name,
            "email": client.email,
            "language": client.locale,
            "external_id": client.external_id,
            "created_at": _iso(client.created_at),
            "erased_at": _iso(client.erased_at),
        },
        "access_requests": [
            {
                "id": r.id,
                "status": r.status,
                "language": r.locale,
                "message": r.message,
                "external_id": r.external_id,
                "redirect_url": r.redirect_url,
                "items": r.items or [],
                "answers": _answers_json(r),
                "created_at": _iso(r.created_at),
                "sent_at": _iso(r.sent_at),
                "opened_at": _iso(r.opened_at),
                "completed_at": _iso(r.completed_at),
                "revoked_at": _iso(r.revoked_at),
                "expires_at": _iso(r.expires_at),
                "erased_at": _iso(r.erased_at),
                "grants": [_grant_json(g) for g in r.grants],
            }
            for r in requests
        ],
        "emails": emails,
        "audit_events": [_event_json(by_seq[seq]) for seq in sorted(by_seq)],
    }
    audit.record(
        "client.exported",
        agency_id=client.agency_id,
        actor=actor,
        subject=("client", client.id),
        details={
            "requests": len(requests),
            "events": len(by_seq),
            "emails": len(emails),
        },
    )
    db.session.commit()
    return data


# -------------------------------------------------------------- retention


def parse_retention(value: object) -> int | None:
    """Off (None, "", "off" or "0") is None; else whole days within the limits."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "off", "0")):
        return None
    try:
        days = int(str(value).strip())
    except ValueError:
        days = 0
    if not RETENTION_MIN_DAYS <= days <= RETENTION_MAX_DAYS:
        raise PrivacyError(
            "days",
            _(
                "Enter a number of days between %(min)d and %(max)d, or choose Off.",
                min=RETENTION_MIN_DAYS,
                max=RETENTION_MAX_DAYS,
            ),
        )
    return days


def set_retention(agency: Agency, value: object, actor: audit.Actor) -> bool:
    """Change the agency's retention period; audited; True if it changed. Commits."""
    days = parse_retention(value)
    previous = agency.erase_finished_after_days
    if days == previous:
        return False
    agency.erase_finished_after_days = days
    audit.record(
        "agency.retention_changed",
        agency_id=agency.id,
        actor=actor,
        subject=("agency", agency.id),
        details={"from": previous, "to": days},
    )
    db.session.commit()
    return True


def _finished_before(cutoff: datetime):
    """SQL: the request finished (and its link can no longer be used) before `cutoff`."""
    return or_(
        and_(AccessRequest.status == "completed", AccessRequest.completed_at < cutoff),
        and_(
            AccessRequest.status == "revoked",
            func.coalesce(AccessRequest.revoked_at, AccessRequest.updated_at) < cutoff,
        ),
        and_(AccessRequest.status == "expired", AccessRequest.expires_at < cutoff),
        # The client may still come back to a partially completed request until it expires.
        and_(
            AccessRequest.status == "partially_completed",
            AccessRequest.completed_at < cutoff,
            AccessRequest.expires_at < cutoff,
        ),
    )


def finished_at(access_request: AccessRequest) -> datetime | None:
    """When the request was over for good (None while the client may still act)."""
    status = access_request.status
    if status == "completed":
        return access_request.completed_at
    if status == "revoked":
        return access_request.revoked_at or access_request.updated_at
    if status == "expired":
        return access_request.expires_at
    if status == "partially_completed" and access_request.completed_at:
        return max(access_request.completed_at, access_request.expires_at)
    return None


def erasure_due_on(access_request: AccessRequest, agency: Agency) -> datetime | None:
    """When the retention rule erases this request (None: not planned)."""
    days = agency.erase_finished_after_days
    end = finished_at(access_request)
    if not days or end is None or access_request.erased_at is not None:
        return None
    return end + timedelta(days=days)


def due_request_ids(agency_id: int, cutoff: datetime, limit: int) -> list[int]:
    return list(
        db.session.execute(
            select(AccessRequest.id)
            .where(
                AccessRequest.agency_id == agency_id,
                AccessRequest.erased_at.is_(None),
                AccessRequest.status.in_(FINISHED_STATUSES),
                _finished_before(cutoff),
            )
            .order_by(AccessRequest.id)
            .limit(limit)
        ).scalars()
    )


def _clients_left_empty(agency_id: int, limit: int) -> list[int]:
    """Clients whose every request is erased: nothing needs their contact details."""
    unerased = exists().where(
        AccessRequest.client_id == Client.id, AccessRequest.erased_at.is_(None)
    )
    return list(
        db.session.execute(
            select(Client.id)
            .where(Client.agency_id == agency_id, Client.erased_at.is_(None), ~unerased)
            .order_by(Client.id)
            .limit(limit)
        ).scalars()
    )


def _erase_emptied_client(client_id: int, now: datetime) -> ErasureReport:
    client = db.session.execute(
        select(Client).where(Client.id == client_id).with_for_update()
    ).scalar_one_or_none()
    requests = _requests_of(client, lock=True) if client is not None else []
    if client is None or client.erased_at is not None or any(r.erased_at is None for r in requests):
        db.session.commit()
        return ErasureReport()
    who = identity_of(client, requests)
    report = _erase_client_row(client, who, audit.SYSTEM, "retention", now)
    db.session.commit()
    return report


@dataclass
class RetentionRun:
    requests: int = 0
    clients: int = 0
    finished: bool = True  # False when the time budget ran out first


def apply_retention(
    now: datetime | None = None, batch_size: int = 100, budget_seconds: float = 1500
) -> RetentionRun:
    """Erase what each agency's retention rule makes due, batch by batch.

    Each request (and each client left with only erased requests) is erased
    and committed on its own, so a run stopped halfway loses nothing and the
    next run carries on. Running it again finds nothing more to do.
    """
    now = now or utcnow()
    deadline = time.monotonic() + budget_seconds
    run = RetentionRun()
    agencies = db.session.execute(
        select(Agency.id, Agency.erase_finished_after_days)
        .where(Agency.erase_finished_after_days.is_not(None))
        .order_by(Agency.id)
    ).all()
    db.session.commit()
    for agency_id, days in agencies:
        cutoff = now - timedelta(days=days)
        skipped: set[int] = set()
        while True:
            # Skipped ids (changed meanwhile, no longer due) are fetched past, not retried.
            ids = due_request_ids(agency_id, cutoff, batch_size + len(skipped))
            batch = [i for i in ids if i not in skipped][:batch_size]
            if not batch:
                break
            for request_id in batch:
                if time.monotonic() > deadline:
                    run.finished = False
                    return run
                access_request = db.session.get(AccessRequest, request_id)
                done = erase_request(access_request, audit.SYSTEM, "retention")
                if done.requests:
                    run.requests += 1
                else:
                    skipped.add(request_id)
        while True:
            client_ids = _clients_left_empty(agency_id, batch_size)
            db.session.commit()
            progress = 0
            for client_id in client_ids:
                if time.monotonic() > deadline:
                    run.finished = False
                    return run
                erased = _erase_emptied_client(client_id, now).clients
                run.clients += erased
                progress += erased
            if not progress:
                break
    return run


def retention_summary(agency: Agency, now: datetime | None = None) -> dict:
    """What the rule does for this agency now: how many requests wait to be erased,
    how many were erased, and when the job last ran."""
    now = now or utcnow()
    days = agency.erase_finished_after_days
    finished = func.count().filter(AccessRequest.status.in_(FINISHED_STATUSES))
    erased = func.count().filter(AccessRequest.erased_at.is_not(None))
    row = db.session.execute(
        select(finished, erased).where(AccessRequest.agency_id == agency.id)
    ).one()
    due = 0
    if days:
        due = db.session.scalar(
            select(func.count())
            .select_from(AccessRequest)
            .where(
                AccessRequest.agency_id == agency.id,
                AccessRequest.erased_at.is_(None),
                AccessRequest.status.in_(FINISHED_STATUSES),
                _finished_before(now - timedelta(days=days)),
            )
        )
    try:
        from worker.jobs import last_run

        last = last_run("apply_retention")
    except Exception:  # Redis unreachable: the page still shows the rest
        last = None
    return {
        "days": days,
        "finished": row[0] or 0,
        "erased": row[1] or 0,
        "due": due or 0,
        "last_run": last,
    }


__all__ = [
    "FINISHED_STATUSES",
    "RETENTION_CHOICES",
    "RETENTION_MAX_DAYS",
    "RETENTION_MIN_DAYS",
    "ErasureReport",
    "PrivacyError",
    "RetentionRun",
    "apply_retention",
    "due_request_ids",
    "erase_client",
    "erase_request",
    "erasure_due_on",
    "export_client",
    "finished_at",
    "parse_retention",
    "retention_summary",
    "set_retention",
    "sweep_copies",
]
