"""The audit chain's keys: HMAC-SHA256 under LATCHKEY_AUDIT_KEYS.

The first key signs new events, chain heads and checkpoints; every key in the
list verifies. Each signed row names its key by an id derived from the key
(never the key itself), so a key can be rotated: put the new one first and
keep the old ones, which the events they signed still need.
"""

from __future__ import annotations

import hashlib
import hmac

from flask import current_app


def key_id(key: str) -> str:
    """A short public name for a key (16 hex characters)."""
    return hashlib.sha256(b"latchkey-audit-key-id\x00" + key.encode()).hexdigest()[:16]


def _keys() -> list[str]:
    return list(current_app.config["LATCHKEY_AUDIT_KEYS"])


def signing_key() -> tuple[str, bytes]:
    """(key id, key) of the key that signs."""
    first = _keys()[0]
    return key_id(first), first.encode()


def key_by_id(kid: str | None) -> bytes | None:
    """The configured key with this id, or None."""
    if not kid:
        return None
    for key in _keys():
        if hmac.compare_digest(key_id(key), kid):
            return key.encode()
    return None


def mac(key: bytes, payload: bytes) -> str:
    return hmac.new(key, payload, hashlib.sha256).hexdigest()


def same(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and hmac.compare_digest(a, b)
