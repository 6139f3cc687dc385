"""Tools an agency defines itself ("other tools"): access Latchkey has no connector for.

Each tool is asked for like a platform's asset type (platform "other", asset
type = the tool's key): the client reads the agency's own instructions, sends
back what the agency asks for, and the agency confirms the access.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .base import UTCDateTime, utcnow

# What the client sends back once the steps are done.
REPLY_KINDS = ("confirmation", "text", "code", "number", "email", "url")


class CustomTool(db.Model):
    __table_args__ = (Index("ix_custom_tool_agency", "agency_id", "archived_at", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id", ondelete="CASCADE"))
    # The asset type id in templates, requests and grants: fixed at creation and
    # unique across agencies, so a stored grant always finds its tool again.
    key: Mapped[str] = mapped_column(String(48), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(String(300))
    # The role the client gives, in the tool's own words (e.g. "Administrator").
    access_label: Mapped[str | None] = mapped_column(String(100))
    # One step per line.
    instructions: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(500))
    reply_kind: Mapped[str] = mapped_column(String(16), default="confirmation")
    reply_label: Mapped[str | None] = mapped_column(String(200))
    reply_hint: Mapped[str | None] = mapped_column(String(300))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def steps(self) -> list[str]:
        return [line.strip() for line in (self.instructions or "").splitlines() if line.strip()]
