"""Verification codes printed on confirmation reports.

A code is derived, not stored: an HMAC (keyed by the app's SECRET_KEY) of the
agency id, the request id and the moment the request was completed, cut to 40
bits and written in Crockford base32 as `LK-XXXX-XXXX`. Anyone holding the PDF
can read it; only the agency's admins can look it up, and a lookup is scoped
to their agency.

Binding the code to `completed_at` means a request that is reopened and
completed again gets a new code: an older PDF then no longer verifies as the
current state of the request. Rotating SECRET_KEY invalidates every code.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC

from flask import current_app
from sqlalchemy import select

from ..extensions import db
from ..models import AccessRequest

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
PREFIX = "LK"
_BITS = 40
_LENGTH = _BITS // 5
# Letters people confuse with digits when they type a code from paper.
_CONFUSABLE = str.maketrans({"O": "0", "I": "1", "L": "1"})


def _digest(agency_id: int, request_id: int, completed_at) -> str:
    moment = (
        completed_at.astimezone(UTC).isoformat(timespec="microseconds") if completed_at else "-"
    )
    message = f"latchkey.report-verification.v1:{agency_id}:{request_id}:{moment}".encode()
    key = current_app.config["SECRET_KEY"]
    key = key.encode() if isinstance(key, str) else key
    mac = hmac.new(key, message, hashlib.sha256).digest()
    number = int.from_bytes(mac[: _BITS // 8], "big")
    chars = []
    for _ in range(_LENGTH):
        number, index = divmod(number, 32)
        chars.append(ALPHABET[index])
    return "".join(reversed(chars))


def _format(raw: str) -> str:
    return f"{PREFIX}-{raw[:4]}-{raw[4:]}"


def verification_code(access_request: AccessRequest) -> str:
    """The code printed on this request's report, e.g. `LK-7KQ2-M9XD`."""
    return _format(
        _digest(access_request.agency_id, access_request.id, access_request.completed_at)
    )


def normalise_code(code: str) -> str | None:
    """The 8 significant characters of a typed code, or None if it cannot be one.

    Accepts any case, spaces and dashes, with or without the `LK` prefix, and
    reads O as 0 and I/L as 1.
    """
    if not isinstance(code, str):
        return None
    cleaned = "".join(ch for ch in code.upper() if ch not in " -\t\n")
    if len(cleaned) == _LENGTH + len(PREFIX) and cleaned.startswith(PREFIX):
        cleaned = cleaned[len(PREFIX) :]
    cleaned = cleaned.translate(_CONFUSABLE)
    if len(cleaned) != _LENGTH or any(ch not in ALPHABET for ch in cleaned):
        return None
    return cleaned


def find_by_verification_code(agency_id: int, code: str) -> AccessRequest | None:
    """The agency's request whose current report carries `code`, else None.

    Codes are not stored, so this recomputes the code of each of the agency's
    requests, newest first (two columns read and one HMAC per request: about
    10 ms per thousand requests). Another agency's code never matches.
    """
    wanted = normalise_code(code)
    if wanted is None:
        return None
    rows = db.session.execute(
        select(AccessRequest.id, AccessRequest.completed_at)
        .where(AccessRequest.agency_id == agency_id)
        .order_by(AccessRequest.id.desc())
        .execution_options(yield_per=2000)
    )
    for row in rows:
        if hmac.compare_digest(_digest(agency_id, row.id, row.completed_at), wanted):
            rows.close()
            return db.session.get(AccessRequest, row.id)
    return None


def verification_url(code: str) -> str:
    """Where an agency admin confirms a code (the admin area's verify page)."""
    return f"{current_app.config['LATCHKEY_BASE_URL']}/app/verify/{code}"
