"""Secrets at rest: re-encrypting them under the newest key.

To rotate: prepend a new key to LATCHKEY_ENCRYPTION_KEYS (the old ones stay
so existing values still decrypt), run `latchkey keys rotate`, then remove the
old keys. Every encrypted column is listed here, in one place.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm.attributes import flag_modified

from .. import crypto
from ..extensions import db
from ..models import (
    AccessRequest,
    AgencyConnection,
    IdempotencyKey,
    User,
    WebhookDelivery,
    WebhookEndpoint,
)

BATCH = 500

# (model, encrypted columns) for every secret kept in the database.
ENCRYPTED_COLUMNS = (
    (AgencyConnection, ("access_token_encrypted", "refresh_token_encrypted")),
    (AccessRequest, ("token_encrypted",)),
    (User, ("totp_secret",)),
    (WebhookEndpoint, ("secret_encrypted", "previous_secret_encrypted")),
)
# Columns of type EncryptedText: the code sees plain text and the column type
# encrypts on write, so rewriting a value re-encrypts it under the first key
# (and encrypts a value written before the column was encrypted).
TRANSPARENT_COLUMNS = (
    (WebhookDelivery, ("payload",)),
    (IdempotencyKey, ("response_body",)),
)


def rotate_all() -> int:
    """Re-encrypt every stored secret under the first key; return how many."""
    count = 0
    for model, columns in (*ENCRYPTED_COLUMNS, *TRANSPARENT_COLUMNS):
        transparent = (model, columns) in TRANSPARENT_COLUMNS
        last_id = 0
        while True:
            rows = (
                db.session.execute(
                    select(model).where(model.id > last_id).order_by(model.id).limit(BATCH)
                )
                .scalars()
                .all()
            )
            if not rows:
                break
            for row in rows:
                for column in columns:
                    value = getattr(row, column)
                    if value and transparent:
                        flag_modified(row, column)
                        count += 1
                    elif value:
                        setattr(row, column, crypto.rotate(value))
                        count += 1
            last_id = rows[-1].id
            # One transaction per batch: a large table never holds one long lock.
            db.session.commit()
    return count


__all__ = ["ENCRYPTED_COLUMNS", "TRANSPARENT_COLUMNS", "rotate_all"]
