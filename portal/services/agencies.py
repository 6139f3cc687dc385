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
    name: str, owner_email: str, password: str, owner_name: str = "", locale: str = "en"
) -> tuple[Agency, User]:
    """Create an agency and its owner in one transaction (committed)."""
    email = normalise_email(owner_email)
    if db.session.execute(select(User.id).where(User.email == email)).first():
        raise AgencyError("email", "An account with this e-mail already exists. Sign in instead.")
    agency = Agency(name=name.strip(), slug=unique_slug(name), default_locale=locale, identities={})
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
        details={"name": agency.name},
    )
    db.session.commit()
    return agency, user
