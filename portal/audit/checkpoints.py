"""Periodic checkpoints of each chain: its length and head hash, signed.

The job (`worker.audit_jobs.checkpoint_audit_chains`, see worker/schedule.py)
writes one for each agency whose chain grew since its last checkpoint, after
checking the events added since then and the chain's signed head: a chain
that does not verify gets no checkpoint (its break stays reported).
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from ..extensions import db
from ..models import Agency, AuditCheckpoint
from ..models.base import utcnow
from . import head as chain_head
from . import keys
from .verify import checkpoint_mac, latest_checkpoint, verify_chain

log = logging.getLogger("latchkey.audit")


def checkpoint(agency_id: int) -> AuditCheckpoint | None:
    """Checkpoint the agency's chain if it grew; None when nothing was written."""
    head = chain_head.current(agency_id)
    if head is None:
        return None
    row = chain_head.stored(agency_id)
    if row is not None and row.seq > 0 and not chain_head.signature_ok(row):
        log.error("audit chain of agency %s: its head record was changed", agency_id)
        return None
    previous = latest_checkpoint(agency_id)
    if previous is not None and previous.seq >= head.length:
        if previous.seq > head.length:
            log.error(
                "audit chain of agency %s ends at %s, before its checkpoint at %s",
                agency_id,
                head.length,
                previous.seq,
            )
        return None
    # Only the events added since the last checkpoint are read (each one is
    # linked to the one before, back to the checkpointed head).
    first = previous.seq + 1 if previous is not None else 1
    result = verify_chain(agency_id, first_seq=first, last_seq=head.length)
    if not result.ok or result.count != head.length - first + 1:
        log.error(
            "audit chain of agency %s does not verify (%s); no checkpoint written",
            agency_id,
            result.reason or "events missing",
        )
        return None
    if previous is not None:
        before = chain_head.hash_at(agency_id, previous.seq)
        if before is None or not keys.same(before, previous.hash):
            log.error("audit chain of agency %s no longer holds its last checkpoint", agency_id)
            return None
    kid, key = keys.signing_key()
    now = utcnow().replace(microsecond=0)
    entry = AuditCheckpoint(
        agency_id=agency_id,
        seq=head.length,
        hash=head.head,
        created_at=now,
        key_id=kid,
        mac=checkpoint_mac(key, agency_id, head.length, head.head, now),
    )
    db.session.add(entry)
    db.session.flush()
    return entry


def checkpoint_all() -> int:
    """One checkpoint per agency whose chain grew; returns how many were written."""
    written = 0
    for agency_id in db.session.execute(select(Agency.id).order_by(Agency.id)).scalars().all():
        if checkpoint(agency_id) is not None:
            written += 1
        db.session.commit()
    return written
