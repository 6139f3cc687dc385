"""Offboarding: the agency gives back access it no longer needs.

Where the platform's API allows it, Latchkey removes the access with the
agency's own connection (the same one that verifies grants): the client keeps
its asset and has nothing to do. Where it does not (guided platforms, the
Pinterest Tag, a share Latchkey cannot trace), the agency is shown the exact
removal steps and confirms once it has done them. Either way the grant ends
`removed`, with the time and who did it in the audit trail (`grant.revoked`),
and the nightly re-verification leaves it alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _

from .. import audit, platforms
from ..extensions import db
from ..models import Grant
from ..models.base import utcnow
from ..platforms.base import Connector, PlatformError
from .connections import agency_access, end_transaction
from .requests import record_grant

# Statuses under which the agency has, or may have, the access.
REMOVABLE_STATUSES = ("granted", "verifying", "verified")


class NotRemovable(Exception):
    """The grant gives the agency no access to remove (any more)."""


def can_remove(grant: Grant) -> bool:
    return grant.status in REMOVABLE_STATUSES


def has_removal_api(grant: Grant) -> bool:
    """Whether the platform's connector can remove access at all (the call may
    still refuse a particular asset, e.g. the Pinterest Tag)."""
    try:
        connector = platforms.get(grant.platform)
    except KeyError:
        return False
    guided = bool((grant.external or {}).get("guided"))
    return not guided and type(connector).revoke is not Connector.revoke


def remove_through_platform(grant: Grant, actor: audit.Actor) -> None:
    """Remove the agency's access with the platform's API, then record it.

    Raises NotRemovable, or PlatformError (with `message` and `fix` for the
    agency; code "revoke_unsupported" when only the manual steps can do it).
    A refusal is recorded in the audit trail as well.
    """
    if not can_remove(grant):
        raise NotRemovable(grant.status)
    connector = platforms.get(grant.platform)
    if not has_removal_api(grant):
        raise PlatformError(
            _(
                "%(platform)s has no way for Latchkey to remove this access.",
                platform=connector.name,
            ),
            _("Remove it in %(platform)s itself, then record it here.", platform=connector.name),
            code="revoke_unsupported",
        )
    grant_id = grant.id
    try:
        access = agency_access(grant.agency_id, grant.platform)
        end_transaction()  # no transaction held open across the platform's answer
        connector.revoke(
            access.token,
            access.identity,
            grant.asset_type,
            grant.asset_id,
            dict(grant.external or {}),
        )
    except PlatformError as exc:
        db.session.rollback()
        grant = db.session.get(Grant, grant_id)
        record_grant(
            grant, "grant.revoke_failed", actor, error=exc.message, fix=exc.fix, code=exc.code
        )
        db.session.commit()
        raise
    _mark_removed(db.session.get(Grant, grant_id), actor, how="api")


def confirm_removed_by_hand(grant: Grant, actor: audit.Actor) -> None:
    """The agency removed the access itself, following the steps: record it."""
    if not can_remove(grant):
        raise NotRemovable(grant.status)
    _mark_removed(grant, actor, how="by_hand")


def _mark_removed(grant: Grant, actor: audit.Actor, how: str) -> None:
    # Lock the row: a verification finishing now sees "removed" and stands down.
    db.session.execute(db.select(Grant.id).where(Grant.id == grant.id).with_for_update()).first()
    db.session.refresh(grant)
    # After the platform removed it, record that whatever happened meanwhile (a
    # verification that failed, say); by hand, only what is still held.
    if grant.status == "removed" or (how == "by_hand" and not can_remove(grant)):
        db.session.rollback()
        raise NotRemovable(grant.status)
    grant.status = "removed"
    grant.removed_at = utcnow()
    grant.verifying_since = None
    grant.error = None
    grant.fix = None
    record_grant(grant, "grant.revoked", actor, how=how)
    db.session.commit()


@dataclass(frozen=True)
class Refusal:
    """The platform's last refusal to remove a grant the agency still holds."""

    at: datetime
    error: str
    fix: str | None


def refusals(grants: list[Grant]) -> dict[int, Refusal]:
    """For each grant still held, the last refusal to remove it (if any): the
    page shows it rather than a plain "Verified". One query over the audit
    trail's subject index."""
    from ..models import AuditEvent

    held = {str(g.id): g for g in grants if can_remove(g)}
    if not held:
        return {}
    agency_id = next(iter(held.values())).agency_id
    rows = db.session.execute(
        db.select(AuditEvent.subject_id, AuditEvent.created_at, AuditEvent.details)
        .where(
            AuditEvent.agency_id == agency_id,
            AuditEvent.subject_type == "grant",
            AuditEvent.subject_id.in_(list(held)),
            AuditEvent.action == "grant.revoke_failed",
        )
        .order_by(AuditEvent.seq)
    ).all()
    found: dict[int, Refusal] = {}
    for subject_id, at, details in rows:
        details = details or {}
        found[int(subject_id)] = Refusal(
            at=at,
            error=str(details.get("error") or _("The platform refused to remove the access.")),
            fix=details.get("fix") or None,
        )
    return found


# ------------------------------------------------------------ a whole client


def held_grants(client_id: int, agency_id: int) -> list[Grant]:
    """Every grant of the client's requests that still gives the agency access."""
    from ..models import AccessRequest

    return list(
        db.session.execute(
            db.select(Grant)
            .join(AccessRequest, AccessRequest.id == Grant.access_request_id)
            .where(
                AccessRequest.client_id == client_id,
                Grant.agency_id == agency_id,
                Grant.status.in_(REMOVABLE_STATUSES),
            )
            .order_by(Grant.platform, Grant.id)
        ).scalars()
    )


def held_by_client(agency_id: int) -> list[tuple[int, str | None, int]]:
    """(client id, name, number of held grants) for each client whose assets still
    give the agency access, most first."""
    from ..models import AccessRequest, Client

    count = db.func.count(Grant.id)
    return [
        (row.id, row.name, row.held)
        for row in db.session.execute(
            db.select(Client.id, Client.name, count.label("held"))
            .join(AccessRequest, AccessRequest.client_id == Client.id)
            .join(Grant, Grant.access_request_id == AccessRequest.id)
            .where(Grant.agency_id == agency_id, Grant.status.in_(REMOVABLE_STATUSES))
            .group_by(Client.id, Client.name)
            .order_by(count.desc(), Client.id)
        )
    ]


def start_removing_all(client_id: int, agency_id: int, actor: audit.Actor) -> list[int]:
    """Queue the removal, through the platforms, of every held grant that an API
    can remove; return their ids. The others keep their manual steps."""
    from worker import enqueue, jobs

    ids = [g.id for g in held_grants(client_id, agency_id) if has_removal_api(g)]
    if ids:
        enqueue(
            jobs.remove_access,
            ids,
            [actor.type, actor.id],  # ids only: job arguments end up in worker logs
            queue="verify",
            timeout=600,
            title=f"remove access of client {client_id}",
        )
    return ids


def remove_all(grant_ids: list[int], actor: audit.Actor) -> tuple[int, int, bool]:
    """Remove each grant through its platform: (removed, refused, worth retrying).

    A grant already removed (a repeated run) is skipped; a refusal is audited
    and left for the agency to handle by hand."""
    removed = refused = 0
    retry = False
    for grant_id in grant_ids:
        grant = db.session.get(Grant, grant_id)
        if grant is None or not has_removal_api(grant):
            continue
        try:
            remove_through_platform(grant, actor)
            removed += 1
        except NotRemovable:
            continue
        except PlatformError as exc:
            refused += 1
            retry = retry or exc.retryable
    return removed, refused, retry


__all__ = [
    "REMOVABLE_STATUSES",
    "NotRemovable",
    "Refusal",
    "can_remove",
    "confirm_removed_by_hand",
    "has_removal_api",
    "held_by_client",
    "held_grants",
    "refusals",
    "remove_all",
    "remove_through_platform",
    "start_removing_all",
]
