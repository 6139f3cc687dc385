"""The sandbox's one table: every emulated platform keeps its state here.

A record is one thing a platform would store, named by (platform, kind, key):
a world (`kind="world"`, the persona's user, business and assets), an index
entry (`business`, `asset`), an authorization code or token (keyed by its
SHA-256, never the secret itself), an invite, a partnership. `data` holds the
platform-shaped JSON. The database makes the state survive restarts and be
shared by every web process of the demo, like the real platform's would be.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..models.base import UTCDateTime, utcnow


class SandboxRecord(db.Model):
    __tablename__ = "sandbox_record"
    __table_args__ = (
        UniqueConstraint("platform", "kind", "key"),
        Index("ix_sandbox_record_expires_at", "expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(200))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Codes and tokens expire; worlds and their records do not.
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return f"<SandboxRecord {self.platform}/{self.kind}/{self.key[:12]}>"
