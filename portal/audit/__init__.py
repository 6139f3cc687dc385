"""Writing, checking and erasing the audit trail.

Each agency has its own hash chain: an event's hash covers its fields and the
previous event's hash. `verify_chain` recomputes it and names the first event
that does not match.

Personal data and the chain. The fields that may hold personal data (the
actor's label, the ip, the user agent and every value in `details`) are not
hashed as they are: each one gets a random salt, and the event's hash
(version 2) covers `sha256(salt + value)` of each, addressed by a JSON pointer
("/ip", "/details/client"). Erasing a field replaces it by that digest (kept in
`erased`) and throws the salt away: the chain still verifies, nothing of the
value remains, and without the salt the digest cannot be tested against a
guess.

Events written before version 2 (`hash_version` 1) hashed the raw values and
still verify as they are. To erase one, `Eraser` first checks its hash against
the raw values, then commits to the same per-field digests (`reseal_hash`,
which also covers the original hash) and erases; the event appended by the
erasure attests every commitment it made (a digest over their seq and hash),
so a resealed event cannot be changed without breaking the chain.
"""

from __future__ import annotations

import copy
import hashlib
import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field

from flask import has_request_context, request
from flask_login import current_user
from sqlalchemy import select, text

from ..extensions import db
from ..models import AuditEvent
from ..models.base import utcnow

GENESIS = "0" * 64
HASH_VERSION = 2
# Keys that must never be written into an event, whatever a caller passes.
SECRET_KEYS = frozenset(
    {"password", "token", "secret", "code", "access_token", "refresh_token", "totp", "key"}
)
# The columns hashed through per-field digests (details values are the others).
FIELD_COLUMNS = ("actor_label", "ip", "user_agent")
# The key in an erasure event's details that attests the version 1 events it resealed.
RESEALED = "resealed"


@dataclass(frozen=True)
class Actor:
    type: str  # user, client, api_key, system
    id: str | None = None
    label: str | None = None


SYSTEM = Actor("system", None, "Latchkey")


def _scrub(details: dict) -> dict:
    clean = {}
    for key, value in details.items():
        if key.lower() in SECRET_KEYS:
            continue
        clean[key] = _scrub(value) if isinstance(value, dict) else value
    return clean


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


def _normalise(details: dict) -> dict:
    """Details as they will read back from the JSON column (tuples become lists...)."""
    return json.loads(json.dumps(details, default=str))


# --------------------------------------------------------------------- writing


def current_actor() -> Actor:
    if has_request_context() and current_user and current_user.is_authenticated:
        return Actor("user", str(current_user.id), current_user.email)
    return SYSTEM


def record(
    action: str,
    *,
    agency_id: int | None,
    actor: Actor | None = None,
    subject: tuple[str, object] | None = None,
    details: dict | None = None,
) -> AuditEvent:
    """Append an event to the agency's chain, in the caller's transaction."""
    actor = actor or current_actor()
    if db.engine.dialect.name == "postgresql":
        # Serialise appends to one chain; released at commit.
        db.session.execute(
            text("SELECT pg_advisory_xact_lock(:k)"), {"k": 7_000_000 + (agency_id or 0)}
        )
    last = db.session.execute(
        select(AuditEvent.seq, AuditEvent.hash)
        .where(
            AuditEvent.agency_id.is_(agency_id)
            if agency_id is None
            else AuditEvent.agency_id == agency_id
        )
        .order_by(AuditEvent.seq.desc())
        .limit(1)
    ).first()
    ip = ua = None
    if has_request_context():
        ip = request.remote_addr
        ua = (request.user_agent.string or "")[:255] or None
    event = AuditEvent(
        agency_id=agency_id,
        seq=(last.seq + 1) if last else 1,
        created_at=utcnow().replace(microsecond=0),
        actor_type=actor.type,
        actor_id=actor.id,
        actor_label=actor.label,
        action=action,
        subject_type=subject[0] if subject else None,
        subject_id=str(subject[1]) if subject else None,
        ip=ip,
        user_agent=ua,
        details=_normalise(_scrub(details or {})),
        prev_hash=last.hash if last else GENESIS,
        hash_version=HASH_VERSION,
    )
    event.salts = {pointer: secrets.token_hex(16) for pointer in fields_of(event)}
    event.hash = _digest_v2(event)
    db.session.add(event)
    db.session.flush()
    return event


# -------------------------------------------------------------------- erasing


def _remove(event: AuditEvent, pointer: str) -> None:
    """Take the value at `pointer` out of the event (and empty objects above it)."""
    if pointer.lstrip("/") in FIELD_COLUMNS:
        setattr(event, pointer.lstrip("/"), None)
        return
    tokens = [_unescape(t) for t in pointer.split("/")[2:]]
    details = copy.deepcopy(event.details or {})
    path = [details]
    for token in tokens[:-1]:
        path.append(path[-1][token])
    del path[-1][tokens[-1]]
    # An object left empty was not a field when the event was written: drop it.
    for depth in range(len(path) - 1, 0, -1):
        if path[depth]:
            break
        del path[depth - 1][tokens[depth - 1]]
    event.details = details


@dataclass
class Eraser:
    """Erase fields of events; then `record` the event that says so.

        eraser = Eraser()
        eraser.erase(event, ["/ip", "/details/client"])
        eraser.record("client.erased", agency_id=..., subject=("client", 7))

    Everything happens in the caller's transaction. Version 1 events are
    resealed first (see the module's docstring) and attested by the event
    `record` appends, so `record` must be called once erasing is done.
    """

    erased_fields: int = 0
    events: int = 0
    # Version 1 events whose hash no longer matched their content: erased
    # without a commitment (the chain was broken there before, and stays so).
    unverifiable: int = 0
    _resealed: list[AuditEvent] = field(default_factory=list)

    def erase(self, event: AuditEvent, pointers: Iterable[str]) -> int:
        """Replace each named field by its digest; return how many were erased."""
        present = fields_of(event)
        wanted = [p for p in dict.fromkeys(pointers) if p in present]
        if not wanted:
            return 0
        if (event.hash_version or 1) < 2 and event.reseal_hash is None:
            if event.salts is None and _digest(event) == event.hash:
                event.salts = {pointer: secrets.token_hex(16) for pointer in present}
                event.erased = {}
                event.reseal_hash = _reseal_digest(event)
                self._resealed.append(event)
            else:
                self.unverifiable += 1
                for pointer in wanted:
                    _remove(event, pointer)
                self.erased_fields += len(wanted)
                self.events += 1
                return len(wanted)
        salts = dict(event.salts or {})
        erased = dict(event.erased or {})
        broken = False
        for pointer in wanted:
            salt = salts.pop(pointer, None)
            if salt is None:
                broken = True  # written without it: the chain is broken here already
            else:
                erased[pointer] = field_digest(salt, present[pointer])
            _remove(event, pointer)
        self.unverifiable += broken
        event.salts = salts
        event.erased = erased
        self.erased_fields += len(wanted)
        self.events += 1
        return len(wanted)

    def record(
        self,
        action: str,
        *,
        agency_id: int,
        actor: Actor | None = None,
        subject: tuple[str, object] | None = None,
        details: dict | None = None,
    ) -> AuditEvent:
        """Append the event that records this erasure (and attests any reseal)."""
        details = dict(details or {})
        if self._resealed:
            db.session.flush()
            details[RESEALED] = {
                "count": len(self._resealed),
                "digest": _attestation((e.seq, e.reseal_hash) for e in self._resealed),
            }
        anchor = record(action, agency_id=agency_id, actor=actor, subject=subject, details=details)
        for event in self._resealed:
            event.reseal_anchor_seq = anchor.seq
        self._resealed = []
        db.session.flush()
        return anchor


# ------------------------------------------------------------------- checking


@dataclass
class ChainResult:
    ok: bool
    count: int
    broken_event_id: int | None = None
    reason: str | None = None


def _content_ok(event: AuditEvent) -> bool:
    try:
        if (event.hash_version or 1) >= 2:
            return _digest_v2(event) == event.hash
        if event.reseal_hash is not None:
            return _reseal_digest(event) == event.reseal_hash
    except _Unverifiable:
        return False
    return _digest(event) == event.hash


def verify_chain(
    agency_id: int | None, first_seq: int = 1, last_seq: int | None = None
) -> ChainResult:
    """Recompute the agency's chain; report the first event that breaks it.

    `first_seq` and `last_seq` check one stretch of it (a request's own
    events, for its report): the stretch starts from the hash its first event
    must follow, so it proves those events unchanged and linked, without
    reading the whole history of a large agency. `count` is the number of
    events checked.
    """
    condition = (
        AuditEvent.agency_id.is_(None) if agency_id is None else (AuditEvent.agency_id == agency_id)
    )
    prev = GENESIS
    expected_seq = max(first_seq, 1)
    count = 0
    # Resealed version 1 events waiting for the event that attests them, by its seq.
    pending: dict[int, list[AuditEvent]] = {}
    if expected_seq > 1:
        before = db.session.execute(
            select(AuditEvent).where(condition, AuditEvent.seq == expected_seq - 1)
        ).scalar_one_or_none()
        if before is None:
            return ChainResult(False, 0, None, f"missing event before seq {expected_seq}")
        prev = before.hash
        # Erased events before the stretch that an event inside it attests.
        for event in db.session.execute(
            select(AuditEvent).where(
                condition,
                AuditEvent.seq < expected_seq,
                AuditEvent.reseal_anchor_seq >= expected_seq,
            )
        ).scalars():
            pending.setdefault(event.reseal_anchor_seq, []).append(event)
    stretch = [condition, AuditEvent.seq >= expected_seq]
    if last_seq is not None:
        stretch.append(AuditEvent.seq <= last_seq)
    for event in db.session.execute(
        select(AuditEvent)
        .where(*stretch)
        .order_by(AuditEvent.seq)
        .execution_options(yield_per=1000)
    ).scalars():
        if event.seq != expected_seq:
            return ChainResult(False, count, event.id, f"missing event before seq {event.seq}")
        if event.prev_hash != prev:
            return ChainResult(False, count, event.id, "previous hash does not match")
        if not _content_ok(event):
            return ChainResult(False, count, event.id, "event content was changed")
        if (event.hash_version or 1) < 2 and event.reseal_hash is not None:
            anchor = event.reseal_anchor_seq
            if anchor is None or anchor <= event.seq:
                return ChainResult(False, count, event.id, "erased event is not attested")
            pending.setdefault(anchor, []).append(event)
        attested = (event.details or {}).get(RESEALED) if (event.hash_version or 1) >= 2 else None
        group = pending.pop(event.seq, [])
        if group or attested is not None:
            wanted = attested if isinstance(attested, dict) else {}
            if wanted.get("count") != len(group) or wanted.get("digest") != _attestation(
                (e.seq, e.reseal_hash) for e in group
            ):
                return ChainResult(
                    False, count, (group[0] if group else event).id, "erased events do not match"
                )
        prev = event.hash
        expected_seq += 1
        count += 1
    if last_seq is not None:
        # Attestations after the stretch are outside what was asked for.
        pending = {seq: group for seq, group in pending.items() if seq <= last_seq}
    if pending:
        first = min((e for group in pending.values() for e in group), key=lambda e: e.seq)
        return ChainResult(False, count, first.id, "erased event is not attested")
    return ChainResult(True, count)
