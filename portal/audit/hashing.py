"""How an audit event's hash is computed, in each version.

1: SHA-256 over the raw values (events of early releases).
2: SHA-256 over the frame and a salted digest of each personal-capable field
   (so a field can be erased and the chain still verifies).
3: as 2, but an HMAC-SHA256 under an audit key (`key_id` names it): without
   the key, nobody who can write to the database can rebuild the chain.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

from ..models import AuditEvent
from . import keys

GENESIS = "0" * 64
HASH_VERSION = 3
# The columns hashed through per-field digests (details values are the others).
FIELD_COLUMNS = ("actor_label", "ip", "user_agent")


def _canonical(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode()


def _digest(event: AuditEvent) -> str:
    """The version 1 hash: over the raw values."""
    payload = {
        "agency_id": event.agency_id,
        "seq": event.seq,
        "created_at": event.created_at.isoformat(),
        "actor": [event.actor_type, event.actor_id, event.actor_label],
        "action": event.action,
        "subject": [event.subject_type, event.subject_id],
        "ip": event.ip,
        "user_agent": event.user_agent,
        "details": event.details,
        "prev": event.prev_hash,
    }
    return hashlib.sha256(_canonical(payload)).hexdigest()


# ------------------------------------------------------------ per-field digests


def _escape(key: str) -> str:
    """A JSON pointer token (RFC 6901)."""
    return str(key).replace("~", "~0").replace("/", "~1")


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def fields_of(event: AuditEvent) -> dict[str, object]:
    """Every personal-capable value the event still holds, by JSON pointer.

    A value in details is a leaf: anything but a non-empty object (lists are
    one value). Columns that are NULL are no field.
    """
    found: dict[str, object] = {}
    for name in FIELD_COLUMNS:
        value = getattr(event, name)
        if value is not None:
            found[f"/{name}"] = value

    def walk(prefix: str, value) -> None:
        if isinstance(value, dict) and value:
            for key, inner in value.items():
                walk(f"{prefix}/{_escape(key)}", inner)
        else:
            found[prefix] = value

    for key, value in (event.details or {}).items():
        walk(f"/details/{_escape(key)}", value)
    return found


def field_digest(salt: str, value) -> str:
    return hashlib.sha256(bytes.fromhex(salt) + b"\x00" + _canonical(value)).hexdigest()


class _Unverifiable(Exception):
    """A field without its salt, or erased and present at once."""


def _field_digests(event: AuditEvent) -> dict[str, str]:
    salts = event.salts or {}
    erased = event.erased or {}
    digests: dict[str, str] = {}
    for pointer, value in fields_of(event).items():
        salt = salts.get(pointer)
        if not isinstance(salt, str) or pointer in erased:
            raise _Unverifiable(pointer)
        try:
            digests[pointer] = field_digest(salt, value)
        except ValueError as exc:  # a salt that is not hex
            raise _Unverifiable(pointer) from exc
    for pointer, digest in erased.items():
        if not isinstance(digest, str):
            raise _Unverifiable(pointer)
        digests[pointer] = digest
    return digests


def _frame(event: AuditEvent) -> dict:
    """What every version hashes besides the fields."""
    return {
        "agency_id": event.agency_id,
        "seq": event.seq,
        "created_at": event.created_at.isoformat(),
        "actor": [event.actor_type, event.actor_id],
        "action": event.action,
        "subject": [event.subject_type, event.subject_id],
        "prev": event.prev_hash,
    }


def _digest_v2(event: AuditEvent) -> str:
    payload = {"v": 2, **_frame(event), "fields": _field_digests(event)}
    return hashlib.sha256(_canonical(payload)).hexdigest()


def _digest_v3(event: AuditEvent, key: bytes) -> str:
    payload = {"v": 3, **_frame(event), "kid": event.key_id, "fields": _field_digests(event)}
    return keys.mac(key, _canonical(payload))


def seal(event: AuditEvent) -> None:
    """Give a new event its keyed hash (version 3) under the signing key."""
    kid, key = keys.signing_key()
    event.hash_version = HASH_VERSION
    event.key_id = kid
    event.hash = _digest_v3(event, key)


def _reseal_digest(event: AuditEvent) -> str:
    """A version 1 event's commitment to its field digests (and to its own hash)."""
    payload = {
        "v": "1-resealed",
        **_frame(event),
        "hash": event.hash,
        "fields": _field_digests(event),
    }
    return hashlib.sha256(_canonical(payload)).hexdigest()


def _attestation(resealed: Iterable[tuple[int, str]]) -> str:
    lines = "\n".join(f"{seq}:{digest}" for seq, digest in sorted(resealed))
    return hashlib.sha256(lines.encode()).hexdigest()


def content_problem(event: AuditEvent) -> str | None:
    """Why the event's hash does not match its content, or None when it does."""
    version = event.hash_version or 1
    try:
        if version >= 3:
            key = keys.key_by_id(event.key_id)
            if key is None:
                return f"signed with audit key {event.key_id}, which LATCHKEY_AUDIT_KEYS lacks"
            ok = keys.same(_digest_v3(event, key), event.hash)
        elif version == 2:
            ok = _digest_v2(event) == event.hash
        elif event.reseal_hash is not None:
            ok = _reseal_digest(event) == event.reseal_hash
        else:
            ok = _digest(event) == event.hash
    except _Unverifiable:
        ok = False
    return None if ok else "event content was changed"
