"""The append-only audit trail."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, SmallInteger, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .base import UTCDateTime, utcnow


class AuditEvent(db.Model):
    """One thing that happened. Each row carries the hash of the one before it
    in the same agency's chain, so an edited or deleted row is detectable.

    Version 2 events hash a salted digest of each personal-capable field
    (actor label, ip, user agent, every value in details) instead of the value,
    so erasing a value (data protection) keeps its digest and the chain. See
    `portal.audit` for the format and for how version 1 events are erased.
    """

    __table_args__ = (
        Index("ix_audit_event_chain", "agency_id", "seq", unique=True),
        Index("ix_audit_event_subject", "agency_id", "subject_type", "subject_id"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(db.Integer, "sqlite"), primary_key=True
    )
    # NULL for events with no agency (e.g. a failed sign-in for an unknown e-mail).
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_type: Mapped[str] = mapped_column(String(12))  # user, client, api_key, system
    actor_id: Mapped[str | None] = mapped_column(String(64))
    actor_label: Mapped[str | None] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(64), index=True)
    subject_type: Mapped[str | None] = mapped_column(String(32))
    subject_id: Mapped[str | None] = mapped_column(String(64))
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(255))
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)
    # 1: the hash covers the raw values (events written before version 2).
    hash_version: Mapped[int] = mapped_column(SmallInteger, default=2, server_default=text("1"))
    # {"/ip": "<hex salt>", "/details/client": ...}: one random salt per field.
    salts: Mapped[dict | None] = mapped_column(JSON)
    # {"/details/client": "<digest>"}: fields whose value was erased; the salt goes too.
    erased: Mapped[dict | None] = mapped_column(JSON)
    # Version 1 events erased later: a commitment over their field digests, and
    # the seq of the later event that attests it (see portal.audit.Eraser).
    reseal_hash: Mapped[str | None] = mapped_column(String(64))
    reseal_anchor_seq: Mapped[int | None] = mapped_column()
    # Version 3: the hash is an HMAC under the audit key with this id
    # (LATCHKEY_AUDIT_KEYS; see portal.audit.keys). NULL for unkeyed versions.
    key_id: Mapped[str | None] = mapped_column(String(16))


class AuditChainHead(db.Model):
    """The newest event of one chain, signed: one row per agency (`chain` 0 for
    events of no agency).

    Appending locks this row (SELECT ... FOR UPDATE on PostgreSQL; on SQLite
    the upsert takes the database's write lock), so web processes and workers
    append one after the other without a gap or a duplicate seq. Its HMAC
    makes deleting the newest events detectable: the chain must end where
    its head says.
    """

    chain: Mapped[int] = mapped_column(
        BigInteger().with_variant(db.Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column()
    hash: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str | None] = mapped_column(String(16))
    mac: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuditCheckpoint(db.Model):
    """The chain's length and head hash at a moment, signed (a periodic job
    writes one when the chain has grown). `latchkey audit verify` checks the
    chain still holds the latest one: events deleted since are reported."""

    __table_args__ = (Index("ix_audit_checkpoint_agency", "agency_id", "id"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(db.Integer, "sqlite"), primary_key=True
    )
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column()
    hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    key_id: Mapped[str] = mapped_column(String(16))
    mac: Mapped[str] = mapped_column(String(64))
