"""Send each e-mail once: the NotificationLog row is the proof it went out.

    send_once(key, build)   # builds and delivers only if `key` was never sent

The row is inserted in the same transaction that is committed right after the
message is handed to SMTP (or the outbox). A second run finds the row and
sends nothing; two runs at once both insert, and the unique constraint makes
the second wait for the first and then fail, so it sends nothing either. If
delivery fails, the transaction rolls back and the row goes with it, so a
retry sends the message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError

from .. import mail
from ..extensions import db
from ..models import NotificationLog

log = logging.getLogger("latchkey.notifications")


@dataclass(frozen=True)
class Key:
    """What makes a notification unique: kind, subject, recipient and period."""

    kind: str
    subject: str
    recipient: str
    period: str = ""

    def __post_init__(self):
        object.__setattr__(self, "recipient", self.recipient.strip().lower())


def was_sent(key: Key) -> bool:
    return db.session.execute(
        select(
            exists().where(
                NotificationLog.kind == key.kind,
                NotificationLog.subject == key.subject,
                NotificationLog.recipient == key.recipient,
                NotificationLog.period == key.period,
            )
        )
    ).scalar_one()


def send_once(
    key: Key | Sequence[Key],
    build: Callable[[], EmailMessage],
    *,
    agency_id: int | None,
    locale: str | None = None,
    before_commit: Callable[[], None] | None = None,
    to_client: bool = False,
) -> bool:
    """Build and deliver the message unless `key` was sent already; True if sent now.

    One message may cover several keys (an alert about three grants): it is
    sent only if none of them was. Raises whatever delivery raises (after
    rolling back), so the job is retried. E-mails to an agency's clients go
    through `client_mail.send_to_client`, which checks its limits first.
    """
    keys = [key] if isinstance(key, Key) else list(key)
    db.session.commit()  # start from a clean transaction: ours holds only these rows
    if not keys or any(was_sent(k) for k in keys):
        return False
    for k in keys:
        db.session.add(
            NotificationLog(
                agency_id=agency_id,
                kind=k.kind,
                subject=k.subject,
                recipient=k.recipient,
                period=k.period,
                locale=locale,
                to_client=to_client,
            )
        )
    try:
        db.session.flush()
    except IntegrityError:
        # Another worker sent it between our check and our insert.
        db.session.rollback()
        return False
    try:
        message = build()
        mail.deliver(message)
        if before_commit is not None:
            before_commit()
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    log.info("sent %s about %s to %s", keys[0].kind, keys[0].subject, masked(keys[0].recipient))
    return True


def masked(address: str) -> str:
    """An e-mail address as logs show it: enough to tell two apart, not to write
    to anyone (`o***@bloom.example`). Logs travel further than the database."""
    local, at, domain = address.rpartition("@")
    if not at:
        return "***"
    return f"{local[:1]}***@{domain}"


__all__ = ["Key", "masked", "send_once", "was_sent"]
