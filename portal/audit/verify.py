"""Checking an agency's chain: each event, its link, and where the chain ends.

A full check (`verify_chain(agency_id)`) recomputes every event's hash and
link, then checks that the chain ends where its signed head says, that it
still holds the latest stored checkpoint, and the anchor given (`LENGTH:HEAD`
from a PDF or a webhook): events deleted after any of them are reported.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from ..extensions import db
from ..models import AuditCheckpoint, AuditEvent
from . import head as chain_head
from . import keys
from .hashing import GENESIS, _attestation, _canonical, content_problem

# The key in an erasure event's details that attests the version 1 events it resealed.
RESEALED = "resealed"


@dataclass
class ChainResult:
    ok: bool
    count: int
    broken_event_id: int | None = None
    reason: str | None = None


def checkpoint_mac(key: bytes, agency_id: int, seq: int, hash_: str, created_at) -> str:
    payload = {
        "checkpoint": agency_id,
        "seq": seq,
        "hash": hash_,
        "at": created_at.replace(microsecond=0).isoformat(),
    }
    return keys.mac(key, _canonical(payload))


def latest_checkpoint(agency_id: int) -> AuditCheckpoint | None:
    return db.session.execute(
        select(AuditCheckpoint)
        .where(AuditCheckpoint.agency_id == agency_id)
        .order_by(AuditCheckpoint.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def checkpoint_ok(row: AuditCheckpoint) -> bool:
    key = keys.key_by_id(row.key_id)
    return key is not None and keys.same(
        checkpoint_mac(key, row.agency_id, row.seq, row.hash, row.created_at), row.mac
    )


def _event_at(condition, seq: int) -> AuditEvent | None:
    return db.session.execute(
        select(AuditEvent).where(condition, AuditEvent.seq == seq)
    ).scalar_one_or_none()


def _against(
    condition, result: ChainResult, anchor: chain_head.Anchor, what: str
) -> ChainResult | None:
    """A verified chain of `result.count` events must still hold `anchor`."""
    if anchor.length > result.count:
        return ChainResult(
            False,
            result.count,
            None,
            f"the chain ends at event #{result.count} but {what} says it had "
            f"{anchor.length}: the newest events were deleted",
        )
    if anchor.length < 1:
        return None
    event = _event_at(condition, anchor.length)
    if event is None or not keys.same(event.hash, anchor.head):
        return ChainResult(
            False,
            anchor.length - 1,
            event.id if event else None,
            f"event #{anchor.length} does not match {what}",
        )
    return None


def _ends(agency_id: int | None, condition, result: ChainResult, keyed: bool) -> ChainResult:
    """A full, verified chain: check its head, its latest checkpoint."""
    row = chain_head.stored(agency_id)
    if row is None or row.seq == 0:
        if keyed:
            return ChainResult(False, result.count, None, "the chain's head record is missing")
        return result  # written before heads existed, and not appended to since
    if not chain_head.signature_ok(row):
        return ChainResult(False, result.count, None, "the chain's head record was changed")
    broken = _against(condition, result, chain_head.Anchor(row.seq, row.hash), "its head")
    if broken is not None:
        return broken
    if result.count > row.seq:
        extra = _event_at(condition, row.seq + 1)
        return ChainResult(
            False, row.seq, extra.id if extra else None, "event added outside the chain's head"
        )
    if agency_id is not None:
        checkpoint = latest_checkpoint(agency_id)
        if checkpoint is not None:
            if not checkpoint_ok(checkpoint):
                return ChainResult(
                    False, result.count, None, f"checkpoint {checkpoint.id} was changed"
                )
            what = f"the checkpoint of {checkpoint.created_at:%Y-%m-%d %H:%M} UTC"
            broken = _against(
                condition, result, chain_head.Anchor(checkpoint.seq, checkpoint.hash), what
            )
            if broken is not None:
                return broken
    return result


def verify_chain(
    agency_id: int | None,
    first_seq: int = 1,
    last_seq: int | None = None,
    anchor: chain_head.Anchor | None = None,
) -> ChainResult:
    """Recompute the agency's chain; report the first event that breaks it.

    `first_seq` and `last_seq` check one stretch of it (a request's own
    events, for its report): the stretch starts from the hash its first event
    must follow, so it proves those events unchanged and linked, without
    reading the whole history of a large agency. `count` is the number of
    events checked. The whole chain (the default) is also checked against
    its signed head, its latest checkpoint and `anchor`, if given.
    """
    condition = (
        AuditEvent.agency_id.is_(None) if agency_id is None else (AuditEvent.agency_id == agency_id)
    )
    prev = GENESIS
    expected_seq = max(first_seq, 1)
    count = 0
    keyed = False  # a keyed event seen: no unkeyed one may follow
    # Resealed version 1 events waiting for the event that attests them, by its seq.
    pending: dict[int, list[AuditEvent]] = {}
    if expected_seq > 1:
        before = _event_at(condition, expected_seq - 1)
        if before is None:
            return ChainResult(False, 0, None, f"missing event before seq {expected_seq}")
        prev = before.hash
        keyed = (before.hash_version or 1) >= 3
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
        version = event.hash_version or 1
        if event.seq != expected_seq:
            return ChainResult(False, count, event.id, f"missing event before seq {event.seq}")
        if event.prev_hash != prev:
            return ChainResult(False, count, event.id, "previous hash does not match")
        if keyed and version < 3:
            return ChainResult(False, count, event.id, "unkeyed event after keyed ones")
        problem = content_problem(event)
        if problem:
            return ChainResult(False, count, event.id, problem)
        keyed = keyed or version >= 3
        if version < 2 and event.reseal_hash is not None:
            attesting = event.reseal_anchor_seq
            if attesting is None or attesting <= event.seq:
                return ChainResult(False, count, event.id, "erased event is not attested")
            pending.setdefault(attesting, []).append(event)
        attested = (event.details or {}).get(RESEALED) if version >= 2 else None
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
    result = ChainResult(True, count)
    if first_seq > 1 or last_seq is not None:
        return result
    result = _ends(agency_id, condition, result, keyed)
    if result.ok and anchor is not None:
        result = _against(condition, result, anchor, "the anchor given") or result
    return result
