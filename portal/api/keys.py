"""API keys: created and revoked by admins (web or CLI), checked on every call.

A key reads `lk_<prefix>_<secret>`. Only the prefix (to find the row) and the
SHA-256 of the whole key are stored; the key itself is shown once.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import timedelta

from sqlalchemy import select, update

from .. import audit
from ..extensions import db
from ..models import API_SCOPES, ApiKey
from ..models.base import utcnow

KEY_PATTERN = re.compile(r"^lk_([A-Za-z0-9]{12})_([A-Za-z0-9_-]{20,100})$")
# last_used_at is written at most this often per key (no write on every call).
LAST_USED_PRECISION = timedelta(minutes=1)


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def prefix_of(key: str | None) -> str | None:
    """The lookup prefix of a well-formed key, else None (no database needed)."""
    if not key:
        return None
    match = KEY_PATTERN.match(key)
    return match.group(1) if match else None


def create_key(
    agency_id: int,
    name: str,
    scopes: list[str] | tuple[str, ...] = API_SCOPES,
    created_by_id: int | None = None,
    actor: audit.Actor | None = None,
) -> tuple[ApiKey, str]:
    """Create a key; return it with its plain value (shown to the person once)."""
    name = (name or "").strip()[:120] or "API key"
    scopes = [s for s in API_SCOPES if s in set(scopes)] or ["read"]
    prefix = "".join(
        secrets.choice("abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
        for _ in range(12)
    )
    plain = f"lk_{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey(
        agency_id=agency_id,
        name=name,
        prefix=prefix,
        key_hash=_hash(plain),
        scopes=scopes,
        created_by_id=created_by_id,
    )
    db.session.add(key)
    db.session.flush()
    audit.record(
        "api_key.created",
        agency_id=agency_id,
        actor=actor,
        subject=("api_key", key.id),
        details={"name": name, "scopes": scopes, "prefix": prefix},
    )
    db.session.commit()
    return key, plain


def revoke_key(key: ApiKey, actor: audit.Actor | None = None) -> bool:
    if key.revoked_at is not None:
        return False
    key.revoked_at = utcnow()
    audit.record(
        "api_key.revoked",
        agency_id=key.agency_id,
        actor=actor,
        subject=("api_key", key.id),
        details={"name": key.name, "prefix": key.prefix},
    )
    db.session.commit()
    return True


def authenticate(plain: str | None) -> ApiKey | None:
    """The active key matching `plain`, or None. Revoked keys stop at once."""
    prefix = prefix_of(plain)
    if prefix is None:
        return None
    key = db.session.execute(select(ApiKey).where(ApiKey.prefix == prefix)).scalar_one_or_none()
    if key is None or key.revoked_at is not None:
        return None
    if not hmac.compare_digest(key.key_hash, _hash(plain)):
        return None
    return key


def touch(key: ApiKey) -> None:
    """Record use, at most once a minute per key."""
    now = utcnow()
    if key.last_used_at is not None and now - key.last_used_at < LAST_USED_PRECISION:
        return
    db.session.execute(
        update(ApiKey)
        .where(ApiKey.id == key.id)
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    )
    key.last_used_at = now


def actor_for(key: ApiKey) -> audit.Actor:
    return audit.Actor("api_key", str(key.id), key.name)
