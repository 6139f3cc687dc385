"""Two-factor authentication: TOTP codes (RFC 6238) and single-use recovery codes.

The TOTP secret is encrypted at rest. A code is accepted for the current
30-second step or one step either side, and never twice: the step of the last
accepted code is kept and only later steps pass (an atomic update, so two
requests racing with the same code cannot both win). Recovery codes are
stored as SHA-256 hashes and removed when used.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

import pyotp
import segno
from sqlalchemy import or_, select, update
from sqlalchemy.orm.attributes import set_committed_value

from .. import crypto
from ..extensions import db
from ..models import User
from ..models.base import utcnow

ISSUER = "Latchkey"
VALID_WINDOW = 1
RECOVERY_CODE_COUNT = 10
# No 0/o, 1/l/i: codes are copied by hand.
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
_RECOVERY_LENGTH = 10


def new_secret() -> str:
    return pyotp.random_base32(length=32)


def secret_of(user: User) -> str | None:
    return crypto.decrypt(user.totp_secret) if user.totp_secret else None


def grouped(secret: str) -> str:
    """The secret in blocks of four, easier to type into an app."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def provisioning_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def qr_image(uri: str) -> dict:
    """An SVG QR code as a data: URI (allowed by the CSP's img-src, no script), and its size."""
    qr = segno.make(uri, error="m")
    width, _height = qr.symbol_size(scale=5, border=2)
    return {"src": qr.svg_data_uri(scale=5, border=2, dark="#1f2330"), "size": width}


def is_totp_code(code: str) -> bool:
    return len(code) == 6 and code.isdigit()


def matching_step(secret: str, code: str, at: float | None = None) -> int | None:
    """The time step whose code is `code`, within the allowed window, or None."""
    if not is_totp_code(code):
        return None
    totp = pyotp.TOTP(secret)
    current = int(at if at is not None else time.time()) // totp.interval
    for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def claim_step(user: User, step: int) -> bool:
    """Record `step` as used; False if it (or a later one) was used already."""
    result = db.session.execute(
        update(User)
        .where(
            User.id == user.id,
            or_(User.totp_last_step.is_(None), User.totp_last_step < step),
        )
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return False
    set_committed_value(user, "totp_last_step", step)
    return True


def check_totp(user: User, code: str) -> str:
    """'ok', 'replay' or 'wrong' for a TOTP code of an enrolled user."""
    secret = secret_of(user)
    if secret is None:
        return "wrong"
    step = matching_step(secret, code)
    if step is None:
        return "wrong"
    return "ok" if claim_step(user, step) else "replay"


# ------------------------------------------------------------- recovery codes


def _normalise_recovery(code: str) -> str:
    return "".join(ch for ch in code.lower() if ch.isalnum())


def _hash_recovery(code: str) -> str:
    return hashlib.sha256(_normalise_recovery(code).encode()).hexdigest()


def new_recovery_codes() -> tuple[list[str], list[str]]:
    """Ten fresh codes to show once, and the hashes to store."""
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_LENGTH))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    return codes, [_hash_recovery(c) for c in codes]


def use_recovery_code(user: User, code: str) -> bool:
    """Consume a recovery code; True if it was one of the user's unused codes."""
    if not _normalise_recovery(code):
        return False
    locked = db.session.execute(
        select(User)
        .where(User.id == user.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()
    wanted = _hash_recovery(code)
    stored = list(locked.recovery_codes or [])
    match = next((h for h in stored if hmac.compare_digest(h, wanted)), None)
    if match is None:
        return False
    stored.remove(match)
    locked.recovery_codes = stored
    return True


def enable(user: User, step: int) -> list[str]:
    """Turn 2FA on (the pending secret was confirmed at `step`); return new recovery codes."""
    codes, hashes = new_recovery_codes()
    user.totp_enabled_at = utcnow()
    user.totp_last_step = step
    user.recovery_codes = hashes
    return codes


def disable(user: User) -> None:
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    user.recovery_codes = []


def start_enrolment(user: User) -> str:
    """The pending secret to show, created on first visit and kept until confirmed."""
    secret = secret_of(user)
    if secret is None:
        secret = new_secret()
        user.totp_secret = crypto.encrypt(secret)
    return secret
