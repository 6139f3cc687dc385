"""Shared column types and helpers for the models."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime, Text, TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every database (SQLite drops tzinfo)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# What every Fernet token starts with (version byte 0x80, base64url).
FERNET_PREFIX = "gAAAAA"


class EncryptedText(TypeDecorator):
    """Text encrypted at rest with the rotatable keys (portal.crypto); read back as text.

    For copies that may carry a live secret, such as a client's link inside a
    stored webhook body or API answer: the database holds only ciphertext, the
    code reads and writes plain text. A value written before its column was
    encrypted (it does not look like a Fernet token) is read as it is. The
    column cannot be searched with SQL: keep what must be found in a column
    of its own.
    """

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        from ..crypto import encrypt

        return encrypt(value)

    def process_result_value(self, value, dialect):
        if value is None or not value.startswith(FERNET_PREFIX):
            return value
        from ..crypto import decrypt

        return decrypt(value)
