"""Secrets at rest and token helpers.

Encryption uses MultiFernet over LATCHKEY_ENCRYPTION_KEYS: the first key
encrypts, every key decrypts, so keys rotate by prepending a new one and
running `latchkey keys rotate`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app


def _fernet() -> MultiFernet:
    keys = current_app.config["LATCHKEY_ENCRYPTION_KEYS"]
    cache = current_app.extensions.setdefault("latchkey_fernet", {})
    cache_key = tuple(keys)
    if cache_key not in cache:
        cache.clear()
        cache[cache_key] = MultiFernet([Fernet(k) for k in keys])
    return cache[cache_key]


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    """Decrypt with any configured key; raises InvalidToken if none fits."""
    return _fernet().decrypt(ciphertext.encode()).decode()


def rotate(ciphertext: str) -> str:
    """Re-encrypt under the first (newest) key."""
    return _fernet().rotate(ciphertext.encode()).decode()


def new_token() -> str:
    """A 256-bit url-safe random token."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """SHA-256 hex digest: what is stored in place of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def tokens_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


__all__ = ["InvalidToken", "decrypt", "encrypt", "new_token", "rotate", "token_hash"]
