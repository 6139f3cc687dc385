"""Creating agencies and their owners."""

from __future__ import annotations

import re
import secrets
import unicodedata

from sqlalchemy import select

from .. import audit
from ..auth.passwords import hash_password
from ..extensions import db
from ..models import Agency, Membership, User
from ..models.base import utcnow


class AgencyError(ValueError):
    """Input that cannot make an agency; the message says what to change."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


def slugify(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    return slug[:60] or "agency"


def unique_slug(name: str) -> str:
    base = slugify(name)
    slug = base
    while db.session.execute(select(Agency.id).where(Agency.slug == slug)).first():
        slug = f"{base}-{secrets.token_hex(2)}"
    return slug


def normalise_email(email: str) -> str:
    return email.strip().lower()


def create_agency(
    name: str,
    owner_email: str,
    password: str,
    owner_name: str = "",
    locale: str = "en",
    email_verified: bool = False,
) -> tuple[Agency, User]:
    """Create an agency and its owner in one transaction (committed).

    `email_verified`: the owner's address is known to be theirs (the command
    line, the demo). Otherwise it is confirmed by a link e-mailed at sign-up,
    and Latchkey e-mails no client of the agency until then.
    """
    email = normalise_email(owner_email)
    if db.session.execute(select(User.id).where(User.email == email)).first():
        raise AgencyError("email", "An account with this e-mail already exists. Sign in instead.")
    agency = Agency(
        name=name.strip(),
        slug=unique_slug(name),
        default_locale=locale,
        identities={},
        email_verified_at=utcnow() if email_verified else None,
    )
    user = User(
        email=email, name=owner_name.strip(), password_hash=hash_password(password), locale=locale
    )
    db.session.add_all([agency, user])
    db.session.flush()
    db.session.add(Membership(agency_id=agency.id, user_id=user.id, role="owner"))
    audit.record(
        "agency.created",
        agency_id=agency.id,
        actor=audit.Actor("user", str(user.id), user.email),
        subject=("agency", agency.id),
        details={"name": agency.name, "email_verified": email_verified},
    )
    db.session.commit()
    return agency, user


def delete_agency(agency: Agency, by: User) -> int:
    """Delete the agency and everything it owns; returns the number of rows removed.

    Rows are deleted table by table (children first) rather than relying on
    ON DELETE CASCADE, which SQLite does not enforce by default. People whose
    only agency this was lose their account too. Access already granted on the
    platforms is not touched: that is removed on the platforms themselves.
    The deletion is recorded in the audit chain that belongs to no agency.
    """
    agency_id, slug, name = agency.id, agency.slug, agency.name
    actor = audit.Actor("user", str(by.id), by.email)
    member_ids = [m.user_id for m in agency.memberships]
    removed = 0
    for table in reversed(db.metadata.sorted_tables):
        if "agency_id" in table.c:
            removed += db.session.execute(
                table.delete().where(table.c.agency_id == agency_id)
            ).rowcount
    db.session.execute(Agency.__table__.delete().where(Agency.__table__.c.id == agency_id))
    orphans = [
        user_id
        for user_id in member_ids
        if not db.session.execute(
            select(Membership.id).where(Membership.user_id == user_id)
        ).first()
    ]
    if orphans:
        from ..models import PasswordReset, UserSession

        for model in (PasswordReset, UserSession):
            db.session.execute(
                model.__table__.delete().where(model.__table__.c.user_id.in_(orphans))
            )
        db.session.execute(User.__table__.delete().where(User.__table__.c.id.in_(orphans)))
    db.session.expunge_all()
    audit.record(
        "agency.deleted",
        agency_id=None,
        actor=actor,
        subject=("agency", agency_id),
        details={"slug": slug, "name": name, "rows": removed, "accounts_removed": len(orphans)},
    )
    db.session.commit()
    return removed
