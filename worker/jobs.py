"""Job functions: module-level, taking ids, idempotent, raising on failure.

RQ retries a job that raises, with the backoff given at enqueue time, so a
job records what went wrong and then raises; it never swallows a failure.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select

from portal import platforms
from portal.extensions import db
from portal.models import OPEN_REQUEST_STATUSES, AccessRequest, Grant
from portal.models.base import utcnow
from portal.platforms.base import PlatformError
from portal.services import requests as requests_service
from portal.services.connections import agency_access, end_transaction

from . import job

log = logging.getLogger("latchkey.jobs")

STUCK_AFTER = timedelta(minutes=10)


class VerificationPending(Exception):
    """The platform does not show the access yet; RQ retries with backoff."""


class VerificationFailed(Exception):
    """The last attempt did not confirm the access; the grant is marked failed."""


def _why_not(grant: Grant, outcome: str, message: str | None, fix: str | None):
    """The reason and the fix recorded when verification gives up."""
    connector = platforms.get(grant.platform)
    asset_type = connector.asset_type(grant.asset_type)
    type_name = asset_type.name if asset_type else grant.asset_type
    if outcome == "error":
        return message, fix
    if outcome == "insufficient":
        return (
            message
            or _(
                "The agency can see this %(type)s, but without every permission it asked for.",
                type=type_name,
            ),
            _(
                "In %(platform)s, give the agency the permissions listed above, then press Retry.",
                platform=connector.name,
            ),
        )
    if outcome == "pending":
        return (
            message or _("%(platform)s has not confirmed the access yet.", platform=connector.name),
            _(
                "Check that the invitation was accepted in %(platform)s, then press Retry.",
                platform=connector.name,
            ),
        )
    return (
        message or _("The agency cannot see this %(type)s yet.", type=type_name),
        _(
            "Check in %(platform)s that the agency was given access to it, then press Retry.",
            platform=connector.name,
        ),
    )


@job
def verify_grant(grant_id: int) -> str:
    """Check from the agency's side that a grant works; retry until it does."""
    grant = db.session.get(Grant, grant_id)
    if grant is None or grant.status not in ("granted", "verifying"):
        return "skipped"  # verified, failed, removed... or never existed
    access_request = grant.access_request
    with force_locale(access_request.locale):
        attempt = requests_service.start_verification(grant)
        connector = platforms.get(grant.platform)
        end_transaction()
        fix = None
        try:
            access = agency_access(grant.agency_id, grant.platform)
            end_transaction()
            result = connector.verify(
                access.token,
                access.identity,
                grant.asset_type,
                grant.asset_id,
                list(grant.permissions or []),
                dict(grant.external or {}),
            )
            outcome, message, seen = result.status, result.message, result.permissions
        except PlatformError as exc:
            outcome, message, fix, seen = "error", exc.message, exc.fix, ()

        db.session.refresh(grant)
        if grant.status != "verifying":
            return "skipped"  # settled elsewhere meanwhile (a retry, an offboarding)
        if outcome == "verified":
            requests_service.mark_verified(grant, seen)
            requests_service.settle_request(access_request)
            return "verified"
        reason = f"grant {grant_id}: {outcome} (attempt {attempt} of "
        reason += f"{requests_service.MAX_VERIFY_ATTEMPTS})"
        if attempt >= requests_service.MAX_VERIFY_ATTEMPTS:
            error, fix = _why_not(grant, outcome, message, fix)
            requests_service.mark_failed(grant, error, fix)
            requests_service.settle_request(access_request)
            raise VerificationFailed(reason)
        raise VerificationPending(reason)


@job
def sweep_stuck_grants() -> int:
    """Queue verification again for grants stuck for over ten minutes.

    A worker may die mid-job or a message be lost: "verifying" (and "granted"
    never picked up) older than ten minutes is verified again with a fresh
    count of attempts. A grant left "pending" that long was interrupted before
    the platform answered: it is failed so the client can try again.
    """
    cutoff = utcnow() - STUCK_AFTER
    stuck = (
        db.session.execute(
            select(Grant).where(
                (
                    (Grant.status == "verifying")
                    & (Grant.verifying_since.is_not(None))
                    & (Grant.verifying_since < cutoff)
                )
                | ((Grant.status == "granted") & (Grant.granted_at < cutoff))
            )
        )
        .scalars()
        .all()
    )
    for grant in stuck:
        grant.verify_attempts = 0
        if grant.status == "verifying":
            grant.verifying_since = utcnow()
    db.session.commit()
    for grant in stuck:
        requests_service.enqueue_verification(grant.id)

    interrupted = (
        db.session.execute(
            select(Grant).where(Grant.status == "pending", Grant.updated_at < cutoff)
        )
        .scalars()
        .all()
    )
    for grant in interrupted:
        connector = platforms.get(grant.platform)
        with force_locale(grant.access_request.locale):
            requests_service.mark_failed(
                grant,
                _(
                    "The grant was interrupted before %(platform)s answered.",
                    platform=connector.name,
                ),
                _("Connect %(platform)s again and press Grant access.", platform=connector.name),
                stage="grant",
            )
        requests_service.settle_request(grant.access_request)
    if stuck or interrupted:
        log.info("swept %d stuck and %d interrupted grants", len(stuck), len(interrupted))
    return len(stuck) + len(interrupted)


@job
def expire_due_requests() -> int:
    """Expire open requests whose date has passed (their links then answer 410)."""
    due = (
        db.session.execute(
            select(AccessRequest).where(
                AccessRequest.status.in_(OPEN_REQUEST_STATUSES),
                AccessRequest.expires_at < utcnow(),
            )
        )
        .scalars()
        .all()
    )
    return sum(1 for access_request in due if requests_service.expire_if_due(access_request))


__all__ = [
    "VerificationFailed",
    "VerificationPending",
    "expire_due_requests",
    "sweep_stuck_grants",
    "verify_grant",
]
