"""Agencies (tenants), their people and how people join them."""

from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import UTCDateTime, utcnow

ROLES = ("owner", "admin", "member", "viewer")
ROLE_RANK = {"viewer": 0, "member": 1, "admin": 2, "owner": 3}


class Agency(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(120))
    logo: Mapped[bytes | None] = mapped_column(db.LargeBinary)
    logo_mimetype: Mapped[str | None] = mapped_column(String(40))
    primary_color: Mapped[str] = mapped_column(String(7), default="#4338ca")
    support_email: Mapped[str | None] = mapped_column(String(254))
    custom_domain: Mapped[str | None] = mapped_column(String(253), unique=True)
    default_locale: Mapped[str] = mapped_column(String(8), default="en")
    require_2fa: Mapped[bool] = mapped_column(default=False)
    # When an owner confirmed the agency's e-mail address (a link e-mailed at
    # sign-up). Latchkey e-mails the agency's clients only once it is set.
    email_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Retention: personal data of requests finished this many days ago is
    # erased by a nightly job (None: kept until the agency deletes the client).
    erase_finished_after_days: Mapped[int | None] = mapped_column()
    # Receiving identities per platform, e.g. {"pinterest": {"business_id": "..."}}.
    identities: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="agency", cascade="all, delete-orphan"
    )

    @property
    def brand_name(self) -> str:
        return self.display_name or self.name


class User(UserMixin, db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    locale: Mapped[str | None] = mapped_column(String(8))
    # Bumped on password change / sign-out everywhere: older sessions stop working.
    session_version: Mapped[int] = mapped_column(default=1)
    totp_secret: Mapped[str | None] = mapped_column(Text)  # encrypted at rest
    totp_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    totp_last_step: Mapped[int | None] = mapped_column()  # refuses a replayed code
    recovery_codes: Mapped[list] = mapped_column(JSON, default=list)  # SHA-256 hashes
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )

    def get_id(self) -> str:
        # The session version is part of the id, so bumping it signs out old sessions.
        return f"{self.id}:{self.session_version}"

    @property
    def totp_enabled(self) -> bool:
        return self.totp_enabled_at is not None


class UserSession(db.Model):
    """One signed-in browser. Its cookie carries a random id, of which only the
    SHA-256 is kept here; every request needs a live row, so signing out (or
    out everywhere, or a new password) ends the session on the server too."""

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Membership(db.Model):
    __table_args__ = (UniqueConstraint("agency_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    agency: Mapped[Agency] = relationship(back_populates="memberships")
    user: Mapped[User] = relationship(back_populates="memberships")

    def can(self, role: str) -> bool:
        """True when this membership's role is at least `role`."""
        return ROLE_RANK[self.role] >= ROLE_RANK[role]


class Invitation(db.Model):
    __table_args__ = (Index("ix_invitation_agency_email", "agency_id", "email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(254))
    role: Mapped[str] = mapped_column(String(10))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    agency: Mapped[Agency] = relationship()
    invited_by: Mapped[User | None] = relationship()


class EmailVerification(db.Model):
    """A link that confirms the agency's e-mail address (single use, expiring)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(254))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    agency: Mapped[Agency] = relationship()
    user: Mapped[User] = relationship()


class PasswordReset(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()
