"""Short-lived server-side values (OAuth state, a client's platform token
between consent and grant): Redis when configured, the database otherwise.

`pop` is atomic, so a value (an OAuth state) can be used once only.
"""

from __future__ import annotations

from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, select

from .extensions import db
from .models import EphemeralValue
from .models.base import utcnow

PREFIX = "latchkey:kv:"


def redis_connection():
    """The app's Redis connection, or None when REDIS_URL is unset."""
    url = current_app.config.get("REDIS_URL")
    if not url:
        return None
    conn = current_app.extensions.get("latchkey_redis")
    if conn is None:
        from redis import Redis

        conn = Redis.from_url(url)
        current_app.extensions["latchkey_redis"] = conn
    return conn


def put(key: str, value: str, ttl_seconds: int) -> None:
    conn = redis_connection()
    if conn is not None:
        conn.set(PREFIX + key, value, ex=ttl_seconds)
        return
    now = utcnow()
    db.session.execute(delete(EphemeralValue).where(EphemeralValue.expires_at < now))
    db.session.merge(
        EphemeralValue(key=key, value=value, expires_at=now + timedelta(seconds=ttl_seconds))
    )
    db.session.commit()


def get(key: str) -> str | None:
    conn = redis_connection()
    if conn is not None:
        raw = conn.get(PREFIX + key)
        return raw.decode() if raw is not None else None
    row = db.session.get(EphemeralValue, key)
    if row is None or row.expires_at < utcnow():
        return None
    return row.value


def pop(key: str) -> str | None:
    """Return and delete the value in one step; None if absent or expired."""
    conn = redis_connection()
    if conn is not None:
        raw = conn.getdel(PREFIX + key)
        return raw.decode() if raw is not None else None
    row = db.session.execute(
        delete(EphemeralValue)
        .where(EphemeralValue.key == key)
        .returning(EphemeralValue.value, EphemeralValue.expires_at)
    ).first()
    db.session.commit()
    if row is None or row.expires_at < utcnow():
        return None
    return row.value


def delete_key(key: str) -> None:
    conn = redis_connection()
    if conn is not None:
        conn.delete(PREFIX + key)
        return
    db.session.execute(delete(EphemeralValue).where(EphemeralValue.key == key))
    db.session.commit()


__all__ = ["delete_key", "get", "pop", "put", "redis_connection", "select"]
