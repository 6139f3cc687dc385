"""Each chain's head: the lock appends take, and the signed newest event.

`lock(agency_id)` is called before the newest event is read. On PostgreSQL
the head row is created if missing and locked with SELECT ... FOR UPDATE; on
SQLite the same upsert is a write, which takes the database's write lock
(SQLite has one writer at a time) until the transaction ends. Either way, web
processes and workers appending to one chain go one after the other, and the
newest event each reads is the one the other committed.

`advance` then records the new head with an HMAC: the chain must end where
its head says, so deleting the newest events (and nothing else) is caught.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update

from ..extensions import db
from ..models import AuditChainHead, AuditEvent
from ..models.base import utcnow
from . import keys
from .hashing import GENESIS, _canonical

_TABLE = AuditChainHead.__table__


def chain_of(agency_id: int | None) -> int:
    """The head row's key: the agency's id, 0 for events of no agency."""
    return agency_id or 0


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def lock(agency_id: int | None) -> None:
    """Hold the chain's head until the transaction ends (see the module's docstring)."""
    chain = chain_of(agency_id)
    if _dialect() == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    db.session.execute(
        insert(_TABLE)
        .values(chain=chain, agency_id=agency_id, seq=0, hash=GENESIS, updated_at=utcnow())
        .on_conflict_do_nothing(index_elements=["chain"])
    )
    if _dialect() == "postgresql":
        db.session.execute(select(_TABLE.c.chain).where(_TABLE.c.chain == chain).with_for_update())


def head_mac(key: bytes, agency_id: int | None, seq: int, hash_: str) -> str:
    payload = {"head": chain_of(agency_id), "agency_id": agency_id, "seq": seq, "hash": hash_}
    return keys.mac(key, _canonical(payload))


def advance(agency_id: int | None, seq: int, hash_: str) -> None:
    """The chain now ends at `seq` with `hash_` (under the lock, same transaction)."""
    kid, key = keys.signing_key()
    db.session.execute(
        update(_TABLE)
        .where(_TABLE.c.chain == chain_of(agency_id))
        .values(
            seq=seq,
            hash=hash_,
            key_id=kid,
            mac=head_mac(key, agency_id, seq, hash_),
            updated_at=utcnow(),
        )
    )


def last_event(agency_id: int | None):
    """(seq, hash) of the chain's newest event, or None."""
    condition = (
        AuditEvent.agency_id.is_(None) if agency_id is None else AuditEvent.agency_id == agency_id
    )
    return db.session.execute(
        select(AuditEvent.seq, AuditEvent.hash)
        .where(condition)
        .order_by(AuditEvent.seq.desc())
        .limit(1)
    ).first()


def hash_at(agency_id: int | None, seq: int) -> str | None:
    """The hash of the chain's event `seq`, or None."""
    condition = (
        AuditEvent.agency_id.is_(None) if agency_id is None else AuditEvent.agency_id == agency_id
    )
    return db.session.execute(
        select(AuditEvent.hash).where(condition, AuditEvent.seq == seq)
    ).scalar_one_or_none()


def stored(agency_id: int | None):
    """The head row as stored, or None (chains not appended to since heads exist)."""
    return db.session.execute(select(_TABLE).where(_TABLE.c.chain == chain_of(agency_id))).first()


def signature_ok(row) -> bool:
    key = keys.key_by_id(row.key_id)
    return key is not None and keys.same(head_mac(key, row.agency_id, row.seq, row.hash), row.mac)


@dataclass(frozen=True)
class Anchor:
    """A point of the chain to check it against later: its length and the
    hash of its last event then. Written `LENGTH:HEAD`."""

    length: int
    head: str

    def __str__(self) -> str:
        return f"{self.length}:{self.head}"

    @classmethod
    def parse(cls, text: str) -> Anchor:
        """From `LENGTH:HEAD` (as a PDF or a webhook gives it); ValueError if malformed."""
        length, sep, head = (text or "").strip().partition(":")
        head = head.strip().lower()
        if (
            not sep
            or not length.strip().isdigit()
            or len(head) != 64
            or any(c not in "0123456789abcdef" for c in head)
        ):
            raise ValueError("expected LENGTH:HEAD, e.g. 42:3f1c… (64 hexadecimal characters)")
        return cls(int(length.strip()), head)


def current(agency_id: int | None) -> Anchor | None:
    """The chain's head now: the signed head row, else (older chains) the newest event."""
    row = stored(agency_id)
    if row is not None and row.seq > 0:
        return Anchor(row.seq, row.hash)
    last = last_event(agency_id)
    return Anchor(last.seq, last.hash) if last else None


# Headers a webhook carries besides Standard Webhooks' own: the receiver can
# keep them and later check the agency's chain against them.
LENGTH_HEADER = "latchkey-audit-length"
HEAD_HEADER = "latchkey-audit-head"


def anchor_headers(agency_id: int | None) -> dict[str, str]:
    anchor = current(agency_id)
    if anchor is None:
        return {}
    return {LENGTH_HEADER: str(anchor.length), HEAD_HEADER: anchor.head}
