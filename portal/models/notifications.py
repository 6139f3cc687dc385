"""What Latchkey has already told whom: one row per e-mail sent.

The unique key (kind, subject, recipient, period) makes every notification job
idempotent: a job that runs twice finds the row (or hits the constraint when
two run at once) and sends nothing the second time.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .base import UTCDateTime, utcnow


class NotificationLog(db.Model):
    __table_args__ = (
        UniqueConstraint("kind", "subject", "recipient", "period", name="uq_notification_log_key"),
        Index("ix_notification_log_agency_created", "agency_id", "created_at"),
        # How many e-mails one address got lately (the limit per recipient).
        Index("ix_notification_log_recipient_created", "recipient", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id", ondelete="CASCADE"))
    # e.g. "request_sent", "reminder", "completion", "access_review"
    kind: Mapped[str] = mapped_column(String(40))
    # What it is about: "access_request:12", "grant:7", "agency:3", "client:5"
    subject: Mapped[str] = mapped_column(String(80))
    # An e-mail address, lower-cased
    recipient: Mapped[str] = mapped_column(String(254))
    # Which occurrence: "day3", "2025-Q2", a timestamp; "" when there is only one
    period: Mapped[str] = mapped_column(String(64), default="")
    locale: Mapped[str | None] = mapped_column(String(8))
    # Sent to a client on the agency's behalf (counted by the client e-mail limits).
    to_client: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
