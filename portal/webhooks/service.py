"""Webhook endpoints and deliveries: one function per verb, shared by the
agency area, the API and the jobs."""

from __future__ import annotations

import json
import logging
import secrets
from datetime import timedelta

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from .. import audit, crypto
from ..events import PUBLIC_EVENTS
from ..extensions import db
from ..models import AccessRequest, Agency, WebhookDelivery, WebhookEndpoint
from ..models.base import utcnow
from . import delivery, signing
from .ssrf import UnsafeURL, check_url

log = logging.getLogger("latchkey.webhooks")

EVENT_CHOICES = ("*", *PUBLIC_EVENTS)
TEST_EVENT = "webhook.test"
FAILING_LIMIT = timedelta(days=5)
ROTATION_OVERLAPS = (0, 1, 24, 72)  # hours the old secret keeps signing
ATTEMPT_LOG_SIZE = 20


class EndpointError(ValueError):
    def __init__(self, errors: list[tuple[str, str]]):
        self.errors = [{"field": f, "message": m} for f, m in errors]
        super().__init__("; ".join(m for _f, m in errors))


def new_event_id() -> str:
    return "msg_" + secrets.token_hex(12)


# ------------------------------------------------------------ endpoints


def _clean(
    url: str, events: list[str], description: str | None
) -> tuple[str, list[str], str | None]:
    errors: list[tuple[str, str]] = []
    try:
        url = check_url(url)
    except UnsafeURL as exc:
        errors.append(("url", str(exc)))
    chosen = [e for e in dict.fromkeys(events or []) if e]
    unknown = [e for e in chosen if e not in EVENT_CHOICES]
    if unknown:
        errors.append(("events", _("Unknown event: %(names)s.", names=", ".join(unknown))))
    if not chosen:
        errors.append(("events", _("Choose at least one event, or all of them.")))
    if "*" in chosen:
        chosen = ["*"]
    description = (description or "").strip() or None
    if description and len(description) > 500:
        errors.append(("description", _("Use at most 500 characters.")))
    if errors:
        raise EndpointError(errors)
    return url, chosen, description


def create_endpoint(
    agency_id: int,
    url: str,
    events: list[str],
    description: str | None,
    actor: audit.Actor | None,
    created_by_id: int | None = None,
) -> tuple[WebhookEndpoint, str]:
    """Create an endpoint; return it with its secret (shown once)."""
    url, events, description = _clean(url, events, description)
    secret = signing.new_secret()
    endpoint = WebhookEndpoint(
        agency_id=agency_id,
        url=url,
        events=events,
        description=description,
        secret_encrypted=crypto.encrypt(secret),
        created_by_id=created_by_id,
    )
    db.session.add(endpoint)
    db.session.flush()
    audit.record(
        "webhook_endpoint.created",
        agency_id=agency_id,
        actor=actor,
        subject=("webhook_endpoint", endpoint.id),
        details={"url": url, "events": events},
    )
    db.session.commit()
    return endpoint, secret


def update_endpoint(
    endpoint: WebhookEndpoint,
    url: str,
    events: list[str],
    description: str | None,
    actor: audit.Actor | None,
) -> None:
    url, events, description = _clean(url, events, description)
    endpoint.url, endpoint.events, endpoint.description = url, events, description
    audit.record(
        "webhook_endpoint.updated",
        agency_id=endpoint.agency_id,
        actor=actor,
        subject=("webhook_endpoint", endpoint.id),
        details={"url": url, "events": events},
    )
    db.session.commit()


def delete_endpoint(endpoint: WebhookEndpoint, actor: audit.Actor | None) -> None:
    audit.record(
        "webhook_endpoint.deleted",
        agency_id=endpoint.agency_id,
        actor=actor,
        subject=("webhook_endpoint", endpoint.id),
        details={"url": endpoint.url},
    )
    db.session.delete(endpoint)
    db.session.commit()


def rotate_secret(endpoint: WebhookEndpoint, overlap_hours: int, actor: audit.Actor | None) -> str:
    """A new secret; the old one keeps signing for `overlap_hours` (both sent)."""
    new = signing.new_secret()
    if overlap_hours > 0:
        endpoint.previous_secret_encrypted = endpoint.secret_encrypted
        endpoint.previous_secret_until = utcnow() + timedelta(hours=overlap_hours)
    else:
        endpoint.previous_secret_encrypted = None
        endpoint.previous_secret_until = None
    endpoint.secret_encrypted = crypto.encrypt(new)
    audit.record(
        "webhook_endpoint.secret_rotated",
        agency_id=endpoint.agency_id,
        actor=actor,
        subject=("webhook_endpoint", endpoint.id),
        details={"overlap_hours": overlap_hours},
    )
    db.session.commit()
    return new


def signing_secrets(endpoint: WebhookEndpoint) -> list[str]:
    found = [crypto.decrypt(endpoint.secret_encrypted)]
    if (
        endpoint.previous_secret_encrypted
        and endpoint.previous_secret_until
        and endpoint.previous_secret_until > utcnow()
    ):
        found.append(crypto.decrypt(endpoint.previous_secret_encrypted))
    return found


def set_enabled(endpoint: WebhookEndpoint, enabled: bool, actor: audit.Actor | None) -> bool:
    if enabled == endpoint.enabled:
        return False
    if enabled:
        endpoint.disabled_at = None
        endpoint.disabled_reason = None
        endpoint.failing_since = None
    else:
        endpoint.disabled_at = utcnow()
        endpoint.disabled_reason = _("Disabled by a person in your agency.")
    audit.record(
        "webhook_endpoint.enabled" if enabled else "webhook_endpoint.disabled",
        agency_id=endpoint.agency_id,
        actor=actor,
        subject=("webhook_endpoint", endpoint.id),
    )
    db.session.commit()
    return True


def disable_for_failures(endpoint: WebhookEndpoint, reason: str) -> None:
    """Stop sending to an endpoint that is gone or failing; tell the agency."""
    if endpoint.disabled_at is not None:
        return
    endpoint.disabled_at = utcnow()
    endpoint.disabled_reason = reason[:300]
    audit.record(
        "webhook_endpoint.disabled",
        agency_id=endpoint.agency_id,
        actor=audit.SYSTEM,
        subject=("webhook_endpoint", endpoint.id),
        details={"reason": reason[:300], "url": endpoint.url},
    )
    db.session.commit()
    try:
        _email_disabled(endpoint, reason)
    except Exception:
        # The endpoint is disabled either way; the page shows why.
        log.exception("could not e-mail about disabled endpoint %s", endpoint.id)


def _email_disabled(endpoint: WebhookEndpoint, reason: str) -> None:
    from .. import mail
    from ..notifications.emails import app_url
    from ..notifications.recipients import agency_people

    agency = db.session.get(Agency, endpoint.agency_id)
    link = app_url("admin.webhook_detail", endpoint_id=endpoint.id)
    for person in agency_people(agency):
        with force_locale(person.locale):
            subject = _("A webhook endpoint was disabled")
            paragraphs = [
                _(
                    "Latchkey stopped sending events to %(url)s.",
                    url=endpoint.url,
                ),
                reason,
                _(
                    "Fix the receiver, then enable the endpoint again and redeliver the "
                    "events it missed from its delivery log."
                ),
            ]
            label = _("Open the endpoint")
        mail.send(
            person.email,
            subject,
            "notice",
            locale=person.locale,
            heading=subject,
            paragraphs=paragraphs,
            action_url=link,
            action_label=label,
            brand_name=agency.brand_name,
        )


# ------------------------------------------------------------ deliveries


def _body(event_type: str, occurred_at: str, data: dict) -> str:
    return json.dumps(
        {"type": event_type, "timestamp": occurred_at, "data": data},
        separators=(",", ":"),
        ensure_ascii=False,
    )


def endpoints_for(agency_id: int, event_type: str) -> list[WebhookEndpoint]:
    rows = db.session.execute(
        select(WebhookEndpoint).where(
            WebhookEndpoint.agency_id == agency_id, WebhookEndpoint.disabled_at.is_(None)
        )
    ).scalars()
    return [e for e in rows if e.wants(event_type)]


def has_endpoints(agency_id: int) -> bool:
    return (
        db.session.execute(
            select(WebhookEndpoint.id)
            .where(WebhookEndpoint.agency_id == agency_id, WebhookEndpoint.disabled_at.is_(None))
            .limit(1)
        ).first()
        is not None
    )


def fan_out(
    event_id: str, event_type: str, agency_id: int, access_request_id: int, occurred_at: str
) -> list[int]:
    """Record one delivery per subscribed endpoint and queue each; idempotent
    per event id (a retried fan-out never sends an event twice)."""
    endpoints = endpoints_for(agency_id, event_type)
    if not endpoints:
        return []
    access_request = db.session.execute(
        select(AccessRequest)
        .where(AccessRequest.id == access_request_id)
        .options(joinedload(AccessRequest.client), selectinload(AccessRequest.grants))
    ).scalar_one_or_none()
    if access_request is None:
        return []
    from ..api import serialize

    body = _body(event_type, occurred_at, serialize.access_request(access_request))
    done = set(
        db.session.execute(
            select(WebhookDelivery.endpoint_id).where(WebhookDelivery.event_id == event_id)
        ).scalars()
    )
    schedule = delivery.retry_schedule()
    created = []
    for endpoint in endpoints:
        if endpoint.id in done:
            continue
        row = WebhookDelivery(
            agency_id=agency_id,
            endpoint_id=endpoint.id,
            event_id=event_id,
            event_type=event_type,
            payload=body,
            access_request_id=access_request_id,
            max_attempts=1 + len(schedule),
        )
        db.session.add(row)
        created.append(row)
    db.session.commit()
    for row in created:
        queue_delivery(row.id, retries=True)
    return [row.id for row in created]


def queue_delivery(
    delivery_id: int, retries: bool, delay: int | None = None, schedule: list[int] | None = None
) -> None:
    from worker import enqueue

    from .jobs import deliver_webhook

    if schedule is None:
        schedule = delivery.jittered_schedule() if retries else []
    enqueue(
        deliver_webhook,
        delivery_id,
        queue="webhooks",
        timeout=delivery.JOB_TIMEOUT,
        retry=schedule,
        title=f"Deliver webhook {delivery_id}",
        delay=delay,
    )


def redeliver(row: WebhookDelivery, actor: audit.Actor | None) -> None:
    """Send a delivery once more, now, with its original webhook-id and body."""
    row.status = "pending"
    row.max_attempts = row.attempts + 1
    row.next_attempt_at = utcnow()
    audit.record(
        "webhook_delivery.redelivered",
        agency_id=row.agency_id,
        actor=actor,
        subject=("webhook_delivery", row.id),
        details={"event_id": row.event_id, "endpoint_id": row.endpoint_id},
    )
    db.session.commit()
    queue_delivery(row.id, retries=False)


def sample_request(agency: Agency) -> dict:
    now = utcnow()
    stamp = now.isoformat().replace("+00:00", "Z")
    return {
        "id": 0,
        "url": f"{current_app.config['LATCHKEY_BASE_URL']}/r/example",
        "status": "completed",
        "client": {"name": "Example Client", "email": "client@example.com", "locale": "en"},
        "external_id": "test",
        "created_at": stamp,
        "expires_at": (now + timedelta(days=14)).isoformat().replace("+00:00", "Z"),
        "completed_at": stamp,
        "items": [],
        "grants": [],
    }


def send_test(endpoint: WebhookEndpoint, actor: audit.Actor | None) -> WebhookDelivery:
    """Queue a `webhook.test` event with sample data, sent once."""
    agency = db.session.get(Agency, endpoint.agency_id)
    now = utcnow().isoformat().replace("+00:00", "Z")
    row = WebhookDelivery(
        agency_id=endpoint.agency_id,
        endpoint_id=endpoint.id,
        event_id=new_event_id(),
        event_type=TEST_EVENT,
        payload=_body(TEST_EVENT, now, sample_request(agency)),
        max_attempts=1,
    )
    db.session.add(row)
    db.session.flush()
    audit.record(
        "webhook_endpoint.tested",
        agency_id=endpoint.agency_id,
        actor=actor,
        subject=("webhook_endpoint", endpoint.id),
        details={"event_id": row.event_id},
    )
    db.session.commit()
    queue_delivery(row.id, retries=False)
    return row


class DeliveryFailed(RuntimeError):
    """An attempt failed; RQ retries the job on its schedule."""


def attempt(delivery_id: int) -> str:
    """Try to deliver once; record the attempt. Returns what happened:
    succeeded, retry (raise so RQ retries), rescheduled, failed, cancelled, gone."""
    row = db.session.get(WebhookDelivery, delivery_id)
    if row is None or row.status in ("succeeded", "cancelled"):
        return "skipped"
    endpoint = db.session.get(WebhookEndpoint, row.endpoint_id)
    if endpoint is None or endpoint.disabled_at is not None:
        row.status = "cancelled"
        row.next_attempt_at = None
        db.session.commit()
        return "cancelled"
    msg_secrets = signing_secrets(endpoint)
    url = endpoint.url
    # The agency's audit chain as it stands (its length and head hash): an
    # anchor the receiver can keep. Outside the signed body and Standard
    # Webhooks' own headers, so their contract is unchanged.
    anchor = audit.anchor_headers(endpoint.agency_id)
    body = row.payload
    # No transaction stays open during the call.
    db.session.commit()

    headers = signing.headers(msg_secrets, row.event_id, utcnow(), body)
    headers.update(anchor)
    outcome = delivery.post(url, body, headers)

    now = utcnow()
    row.attempts += 1
    row.last_status_code = outcome.status_code
    row.last_latency_ms = outcome.latency_ms
    row.response_excerpt = delivery.without_link(outcome.excerpt, body)
    row.last_error = outcome.error[:500] if outcome.error else None
    log_entry = {
        "at": now.isoformat(),
        "status_code": outcome.status_code,
        "latency_ms": outcome.latency_ms,
        "error": row.last_error,
    }
    row.attempt_log = [*(row.attempt_log or [])[-(ATTEMPT_LOG_SIZE - 1) :], log_entry]
    if outcome.ok:
        row.status = "succeeded"
        row.delivered_at = now
        row.next_attempt_at = None
        endpoint.failing_since = None
        db.session.commit()
        return "succeeded"

    if outcome.status_code == 410:
        row.status = "failed"
        row.next_attempt_at = None
        db.session.commit()
        disable_for_failures(
            endpoint,
            _("The receiver answered 410 Gone, which means it no longer wants these events."),
        )
        return "gone"
    if endpoint.failing_since is None:
        endpoint.failing_since = now
    elif now - endpoint.failing_since >= FAILING_LIMIT and row.event_type != TEST_EVENT:
        row.status = "failed"
        row.next_attempt_at = None
        db.session.commit()
        disable_for_failures(
            endpoint,
            _(
                "Every delivery has failed for 5 days (last: %(error)s).",
                error=row.last_error or "",
            ),
        )
        return "gone"
    if row.attempts >= row.max_attempts:
        row.status = "failed"
        row.next_attempt_at = None
        db.session.commit()
        return "failed"
    schedule = delivery.retry_schedule()
    wait = delivery.next_delay(row.attempts, schedule, None)
    row.status = "retrying"
    if outcome.retry_after and outcome.retry_after > wait:
        # The receiver asked for longer than the schedule: wait what it asks.
        row.next_attempt_at = now + timedelta(seconds=outcome.retry_after)
        db.session.commit()
        remaining = delivery.jittered_schedule(schedule[row.attempts :])
        queue_delivery(row.id, retries=True, delay=outcome.retry_after, schedule=remaining)
        return "rescheduled"
    row.next_attempt_at = now + timedelta(seconds=wait)
    db.session.commit()
    return "retry"
