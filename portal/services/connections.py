"""The agency's own platform accounts (Connections).

An agency connects each platform once; the connection's token starts partner
requests, verifies grants and offboards. Tokens are encrypted at rest and
refreshed here when they expire; a refresh that fails marks the connection
"expired" or "error" with a message that says what to do.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from .. import audit, crypto, platforms
from ..extensions import db
from ..models import AgencyConnection
from ..models.base import utcnow
from ..platforms.base import Connector, PlatformError, Token

log = logging.getLogger("latchkey.connections")

# Refresh a little before the platform says the token expires.
REFRESH_LEEWAY = timedelta(seconds=120)
# Platforms without refresh tokens exchange a token while it still works:
# well before it expires, so a quiet week does not lose the connection.
EXCHANGE_LEEWAY = timedelta(days=7)
_local_locks: dict[str, threading.Lock] = {}
_local_locks_guard = threading.Lock()


class ConnectionUnavailable(PlatformError):
    """The agency has no working connection to the platform."""


@dataclass(frozen=True)
class AgencyAccess:
    token: Token
    identity: dict[str, Any]


def end_transaction() -> None:
    """Commit and return the connection to the pool before calling a platform.

    No database transaction is ever held open during HTTP. Loaded objects stay
    usable (they are not expired), so the caller does not reload them.
    """
    session = db.session()
    previous = session.expire_on_commit
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = previous


def get_connection(agency_id: int, platform: str) -> AgencyConnection | None:
    return db.session.execute(
        select(AgencyConnection).where(
            AgencyConnection.agency_id == agency_id, AgencyConnection.platform == platform
        )
    ).scalar_one_or_none()


def connections_by_platform(agency_id: int) -> dict[str, AgencyConnection]:
    rows = db.session.execute(
        select(AgencyConnection).where(AgencyConnection.agency_id == agency_id)
    ).scalars()
    return {row.platform: row for row in rows}


def is_usable(connection: AgencyConnection | None) -> bool:
    return connection is not None and connection.status == "active"


def _epoch(value: datetime | None) -> int | None:
    return int(value.timestamp()) if value else None


def _from_epoch(value) -> datetime | None:
    if not value:
        return None
    return datetime.fromtimestamp(int(value), UTC)


def _token_of(connection: AgencyConnection) -> Token:
    token: Token = {
        "access_token": crypto.decrypt(connection.access_token_encrypted),
        "token_type": "bearer",
    }
    if connection.refresh_token_encrypted:
        token["refresh_token"] = crypto.decrypt(connection.refresh_token_encrypted)
    if connection.expires_at:
        token["expires_at"] = _epoch(connection.expires_at)
    if connection.scopes:
        token["scope"] = connection.scopes
    return token


def _store_token(connection: AgencyConnection, token: Token) -> None:
    connection.access_token_encrypted = crypto.encrypt(token["access_token"])
    if token.get("refresh_token"):
        connection.refresh_token_encrypted = crypto.encrypt(token["refresh_token"])
    connection.expires_at = _from_epoch(token.get("expires_at"))
    if token.get("refresh_token_expires_in"):
        connection.refresh_expires_at = utcnow() + timedelta(
            seconds=int(token["refresh_token_expires_in"])
        )
    if token.get("scope"):
        scope = token["scope"]
        connection.scopes = (" ".join(scope) if isinstance(scope, list) else str(scope))[:500]


def save_connection(
    agency_id: int,
    connector: Connector,
    token: Token,
    identity: dict[str, Any],
    user_id: int | None,
    actor: audit.Actor | None = None,
) -> AgencyConnection:
    """Create or replace the agency's connection to the platform (committed)."""
    connection = get_connection(agency_id, connector.id)
    reconnect = connection is not None
    if connection is None:
        connection = AgencyConnection(agency_id=agency_id, platform=connector.id)
        db.session.add(connection)
    else:
        connection.refresh_token_encrypted = None
        connection.refresh_expires_at = None
    _store_token(connection, token)
    connection.identity = dict(identity)
    connection.account_id = (
        str(identity.get("business_id") or identity.get("id") or identity.get("account_id") or "")[
            :200
        ]
        or None
    )
    connection.account_name = (
        str(identity.get("name") or identity.get("username") or "")[:300] or None
    )
    connection.status = "active"
    connection.last_error = None
    connection.connected_by_id = user_id
    db.session.flush()
    audit.record(
        "connection.reconnected" if reconnect else "connection.connected",
        agency_id=agency_id,
        actor=actor,
        subject=("agency_connection", connection.id),
        details={"platform": connector.id, "account": connection.account_name},
    )
    db.session.commit()
    return connection


def disconnect(agency_id: int, platform: str, actor: audit.Actor | None = None) -> bool:
    """Forget the agency's connection (its tokens are deleted). False if none."""
    connection = get_connection(agency_id, platform)
    if connection is None:
        return False
    details = {"platform": platform, "account": connection.account_name}
    connection_id = connection.id
    db.session.delete(connection)
    audit.record(
        "connection.disconnected",
        agency_id=agency_id,
        actor=actor,
        subject=("agency_connection", connection_id),
        details=details,
    )
    db.session.commit()
    return True


def _mark_broken(connection: AgencyConnection, status: str, message: str) -> None:
    connection.status = status
    connection.last_error = message
    audit.record(
        "connection.failed",
        agency_id=connection.agency_id,
        actor=audit.SYSTEM,
        subject=("agency_connection", connection.id),
        details={"platform": connection.platform, "status": status, "error": message},
    )
    db.session.commit()


@contextlib.contextmanager
def _refresh_lock(name: str):
    """One refresh per connection at a time, across processes when Redis is there.

    Platforms that rotate refresh tokens invalidate the old one on use, so two
    concurrent refreshes would break the connection.
    """
    from ..kv import redis_connection

    conn = redis_connection()
    if conn is not None:
        with conn.lock(f"latchkey:lock:{name}", timeout=60, blocking_timeout=30):
            yield
        return
    with _local_locks_guard:
        lock = _local_locks.setdefault(name, threading.Lock())
    with lock:
        yield


def _unavailable(
    connector: Connector, connection: AgencyConnection | None
) -> ConnectionUnavailable:
    if connection is None:
        return ConnectionUnavailable(
            _("The agency has not connected %(platform)s.", platform=connector.name),
            _("Connect %(platform)s in Connections first.", platform=connector.name),
            code="not_connected",
        )
    return ConnectionUnavailable(
        connection.last_error
        or _("The agency's %(platform)s connection does not work.", platform=connector.name),
        _("Reconnect %(platform)s in Connections.", platform=connector.name),
        code=f"connection_{connection.status}",
    )


def agency_access(agency_id: int, platform: str) -> AgencyAccess:
    """The agency's working token and identity, refreshed when it has expired.

    Raises ConnectionUnavailable when there is none or it cannot be refreshed.
    """
    connector = platforms.get(platform)
    connection = get_connection(agency_id, platform)
    if not is_usable(connection):
        raise _unavailable(connector, connection)
    exchange = connector.exchanges_live_token and not connection.refresh_token_encrypted
    leeway = EXCHANGE_LEEWAY if exchange else REFRESH_LEEWAY
    if connection.expires_at is None or connection.expires_at > utcnow() + leeway:
        return AgencyAccess(_token_of(connection), dict(connection.identity or {}))

    with _refresh_lock(f"agency-connection-{connection.id}"):
        # Another process may have refreshed it while we waited.
        db.session.refresh(connection)
        if connection.expires_at and connection.expires_at > utcnow() + leeway:
            return AgencyAccess(_token_of(connection), dict(connection.identity or {}))
        expired = connection.expires_at is not None and connection.expires_at <= utcnow()
        if not connection.refresh_token_encrypted and (not exchange or expired):
            _mark_broken(
                connection,
                "expired",
                _("The %(platform)s connection expired.", platform=connector.name),
            )
            raise _unavailable(connector, connection)
        old = _token_of(connection)
        end_transaction()
        try:
            new = connector.refresh_token(old)
        except PlatformError as exc:
            status = "expired" if exc.code in ("invalid_grant", "no_refresh_token") else "error"
            if exc.retryable:
                # A passing outage: keep the connection, let the caller retry.
                raise
            _mark_broken(connection, status, exc.message)
            raise _unavailable(connector, connection) from None
        _store_token(connection, new)
        connection.status = "active"
        connection.last_error = None
        audit.record(
            "connection.refreshed",
            agency_id=agency_id,
            actor=audit.SYSTEM,
            subject=("agency_connection", connection.id),
            details={"platform": platform},
        )
        db.session.commit()
        return AgencyAccess(new, dict(connection.identity or {}))


def get_agency_token(agency_id: int, platform: str) -> Token:
    """The agency's working token for the platform (see `agency_access`)."""
    return agency_access(agency_id, platform).token


__all__ = [
    "AgencyAccess",
    "ConnectionUnavailable",
    "agency_access",
    "connections_by_platform",
    "disconnect",
    "end_transaction",
    "get_agency_token",
    "get_connection",
    "is_usable",
    "save_connection",
]
