"""The public API's keys and idempotency records, and outgoing webhooks."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import EncryptedText, UTCDateTime, utcnow

API_SCOPES = ("read", "write")


class ApiKey(db.Model):
    """A key for /api/v1. Only its prefix (to find it) and SHA-256 hash are kept."""

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    prefix: Mapped[str] = mapped_column(String(24), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list] = mapped_column(JSON, default=lambda: list(API_SCOPES))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def allows(self, scope: str) -> bool:
        return scope in (self.scopes or ())


class IdempotencyKey(db.Model):
    """The answer given to a POST carrying an Idempotency-Key, replayed for 24 h."""

    __table_args__ = (
        UniqueConstraint("agency_id", "key"),
        Index("ix_idempotency_key_request", "agency_id", "access_request_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    # NULL while the first request with this key is still running.
    response_status: Mapped[int | None] = mapped_column()
    # Encrypted at rest: an access request's answer carries the client's link.
    response_body: Mapped[str | None] = mapped_column(EncryptedText)
    # The access request the answer is about, so erasure finds it without reading it.
    access_request_id: Mapped[int | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookEndpoint(db.Model):
    """Where an agency wants its events POSTed, signed per Standard Webhooks."""

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list] = mapped_column(JSON, default=lambda: ["*"])
    description: Mapped[str | None] = mapped_column(String(500))
    secret_encrypted: Mapped[str] = mapped_column(Text)
    # After a rotation the old secret also signs, until previous_secret_until.
    previous_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    previous_secret_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disabled_reason: Mapped[str | None] = mapped_column(String(300))
    # First failure since the last success; failing for 5 days disables it.
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def enabled(self) -> bool:
        return self.disabled_at is None

    def wants(self, event_type: str) -> bool:
        chosen = self.events or []
        return "*" in chosen or event_type in chosen


class WebhookDelivery(db.Model):
    """One event for one endpoint, and what came of each attempt to deliver it."""

    __table_args__ = (
        Index("ix_webhook_delivery_endpoint", "endpoint_id", "id"),
        Index("ix_webhook_delivery_request", "agency_id", "access_request_id"),
        UniqueConstraint("endpoint_id", "event_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id", ondelete="CASCADE"), index=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoint.id", ondelete="CASCADE"))
    # The webhook-id header: one per event, the same for every endpoint and retry.
    event_id: Mapped[str] = mapped_column(String(40), index=True)
    event_type: Mapped[str] = mapped_column(String(64))
    # The exact body sent (signatures cover these bytes, so they never change),
    # encrypted at rest: it carries the client's link.
    payload: Mapped[str] = mapped_column(EncryptedText)
    # The access request the event is about (None for a test event), so erasure
    # finds its copies without reading them.
    access_request_id: Mapped[int | None] = mapped_column()
    # pending, retrying, succeeded, failed (gave up), cancelled (endpoint disabled)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=8)
    last_status_code: Mapped[int | None] = mapped_column()
    last_latency_ms: Mapped[int | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(String(500))
    response_excerpt: Mapped[str | None] = mapped_column(Text)
    # [{"at", "status_code", "latency_ms", "error"}], the latest few attempts.
    attempt_log: Mapped[list] = mapped_column(JSON, default=list)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    endpoint: Mapped[WebhookEndpoint] = relationship()
