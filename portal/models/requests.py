"""What agencies ask for (templates), of whom (clients), and what came of it."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import JSON, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import UTCDateTime, utcnow

if TYPE_CHECKING:
    from .accounts import Agency

REQUEST_STATUSES = (
    "draft",
    "sent",
    "opened",
    "in_progress",
    "completed",
    "partially_completed",
    "expired",
    "revoked",
)
OPEN_REQUEST_STATUSES = ("sent", "opened", "in_progress")
GRANT_STATUSES = (
    "pending",
    "granted",
    "verifying",
    "verified",
    "failed",
    "declined",
    "needs_action",
    "removed",
)
SETTLED_GRANT_STATUSES = ("verified", "failed", "declined", "removed")


class Client(db.Model):
    __table_args__ = (
        Index("ix_client_agency_email", "agency_id", "email"),
        Index("ix_client_agency_external", "agency_id", "external_id"),
        # Search as you type (prefix of name or e-mail, any case) in the agency area.
        Index(
            "ix_client_agency_name_prefix", "agency_id", text("lower(name) text_pattern_ops")
        ).ddl_if(dialect="postgresql"),
        Index(
            "ix_client_agency_email_prefix", "agency_id", text("lower(email) text_pattern_ops")
        ).ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))
    locale: Mapped[str] = mapped_column(String(8), default="en")
    external_id: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Deleted by the agency (or by its retention rule): the name, e-mail and
    # external id are erased; the row stays so its anonymous requests still count.
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Template(db.Model):
    """A permission profile: a reusable list of (platform, asset type, permissions)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    message: Mapped[str | None] = mapped_column(Text)
    # [{"platform": "pinterest", "asset_type": "AD_ACCOUNT", "permissions": ["ANALYST"]}]
    items: Mapped[list] = mapped_column(JSON, default=list)
    questions: Mapped[list] = mapped_column(JSON, default=list)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class AccessRequest(db.Model):
    """One link sent to one client. Items are a snapshot taken at creation."""

    __table_args__ = (
        Index("ix_access_request_agency_status", "agency_id", "status", "created_at"),
        # Covering on PostgreSQL: the dashboard's windowed funnel and median
        # are answered from the index alone (no heap reads).
        Index(
            "ix_access_request_agency_created",
            "agency_id",
            "created_at",
            postgresql_include=["status", "opened_at", "completed_at"],
        ),
        Index("ix_access_request_agency_external", "agency_id", "external_id"),
        # The list sorted by expiry, and the dashboard's "expiring soon".
        Index("ix_access_request_agency_expires", "agency_id", "expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id", ondelete="CASCADE"))
    client_id: Mapped[int] = mapped_column(ForeignKey("client.id", ondelete="CASCADE"), index=True)
    template_id: Mapped[int | None] = mapped_column(ForeignKey("template.id", ondelete="SET NULL"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    items: Mapped[list] = mapped_column(JSON, default=list)
    message: Mapped[str | None] = mapped_column(Text)
    questions: Mapped[list] = mapped_column(JSON, default=list)
    answers: Mapped[dict] = mapped_column(JSON, default=dict)
    locale: Mapped[str] = mapped_column(String(8), default="en")
    # The link token: SHA-256 for lookup, and the token itself encrypted at rest
    # with the rotatable keys so the agency can copy the link again.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_encrypted: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(24), default="sent")
    external_id: Mapped[str | None] = mapped_column(String(200))
    redirect_url: Mapped[str | None] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Personal data erased (client deleted, or the agency's retention rule):
    # the link no longer exists; status, dates, items and grants remain.
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    agency: Mapped[Agency] = relationship()
    client: Mapped[Client] = relationship()
    grants: Mapped[list[Grant]] = relationship(
        back_populates="access_request", order_by="Grant.id", cascade="all, delete-orphan"
    )

    @property
    def platforms(self) -> list[str]:
        seen: list[str] = []
        for item in self.items:
            if item["platform"] not in seen:
                seen.append(item["platform"])
        return seen


class Grant(db.Model):
    """One requested item x one asset the client chose."""

    __table_args__ = (
        Index("ix_grant_request", "access_request_id"),
        # One grant per requested item and asset, on every engine: two grant
        # submissions at once cannot both add it (SQLite ignores FOR UPDATE).
        Index("uq_grant_item_asset", "access_request_id", "item_index", "asset_id", unique=True),
        # With id: the dashboard's latest failed grants are a short backward scan.
        Index("ix_grant_agency_status", "agency_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id", ondelete="CASCADE"))
    access_request_id: Mapped[int] = mapped_column(
        ForeignKey("access_request.id", ondelete="CASCADE")
    )
    item_index: Mapped[int] = mapped_column()
    platform: Mapped[str] = mapped_column(String(32))
    asset_type: Mapped[str] = mapped_column(String(48))
    permissions: Mapped[list] = mapped_column(JSON, default=list)
    asset_id: Mapped[str | None] = mapped_column(String(200))
    asset_name: Mapped[str | None] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    manual: Mapped[bool] = mapped_column(default=False)
    error: Mapped[str | None] = mapped_column(Text)
    fix: Mapped[str | None] = mapped_column(Text)
    # Platform-side references (invite id, partner id, client business id, ...).
    external: Mapped[dict] = mapped_column(JSON, default=dict)
    verify_attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    granted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    verifying_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    access_request: Mapped[AccessRequest] = relationship(back_populates="grants")
