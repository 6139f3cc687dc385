"""Standard Webhooks signatures, made with the `standardwebhooks` library."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterable
from datetime import datetime

from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)


def new_secret() -> str:
    """A fresh endpoint secret: whsec_ + 32 random bytes, base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def signature_header(
    signing_secrets: Iterable[str], msg_id: str, timestamp: datetime, body: str
) -> str:
    """`v1,<sig>` for each secret, space-separated (two during a rotation overlap)."""
    return " ".join(Webhook(s).sign(msg_id, timestamp, body) for s in signing_secrets)


def headers(
    signing_secrets: Iterable[str], msg_id: str, timestamp: datetime, body: str
) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signature_header(signing_secrets, msg_id, timestamp, body),
    }
