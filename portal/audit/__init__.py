"""Writing, checking and erasing the audit trail.

Each agency has its own hash chain: an event's hash covers its fields and the
previous event's hash. `verify_chain` recomputes it and names the first event
that does not match.

Keys and anchors. New events (version 3) are hashed with an HMAC under
LATCHKEY_AUDIT_KEYS (`keys`, `hashing`), so only the holder of the key can
rebuild the chain. Each chain has a signed head (`head`): appends lock it, and
the chain must end where it says. The chain's length and head hash go out as
anchors (each PDF, each webhook, a periodic checkpoint, `checkpoints`), and
`verify_chain` checks the chain still holds them: deleting the newest events
is caught. Version 1 and 2 events (unkeyed) still verify as they are, but no
unkeyed event may follow a keyed one.

Personal data and the chain. The fields that may hold personal data (the
actor's label, the ip, the user agent and every value in `details`) are not
hashed as they are: each one gets a random salt, and the event's hash
(versions 2 and 3) covers `sha256(salt + value)` of each, addressed by a JSON pointer
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
import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field

from flask import has_request_context, request
from flask_login import current_user

from ..extensions import db
from ..models import AuditEvent
from ..models.base import utcnow
from . import head as chain_head
from .hashing import (
    FIELD_COLUMNS,
    GENESIS,
    HASH_VERSION,
    _attestation,
    _digest,
    _digest_v2,
    _reseal_digest,
    _unescape,
    field_digest,
    fields_of,
    seal,
)
from .head import Anchor, anchor_headers
from .head import current as current_anchor
from .verify import RESEALED, ChainResult, verify_chain

# (The version 1 and 2 digests are exported for tests that rewrite events as
# earlier releases wrote them.)
__all__ = [
    "FIELD_COLUMNS",
    "GENESIS",
    "HASH_VERSION",
    "RESEALED",
    "SECRET_KEYS",
    "SYSTEM",
    "Actor",
    "Anchor",
    "ChainResult",
    "Eraser",
    "_digest",
    "_digest_v2",
    "_reseal_digest",
    "anchor_headers",
    "current_actor",
    "current_anchor",
    "field_digest",
    "fields_of",
    "record",
    "verify_chain",
]

# Keys that must never be written into an event, whatever a caller passes.
SECRET_KEYS = frozenset(
    {"password", "token", "secret", "code", "access_token", "refresh_token", "totp", "key"}
)


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
    # Appends to one chain go one at a time (web processes, workers, threads),
    # on PostgreSQL and SQLite alike; held until the transaction ends.
    chain_head.lock(agency_id)
    last = chain_head.last_event(agency_id)
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
    )
    event.salts = {pointer: secrets.token_hex(16) for pointer in fields_of(event)}
    seal(event)
    db.session.add(event)
    db.session.flush()
    chain_head.advance(agency_id, event.seq, event.hash)
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
