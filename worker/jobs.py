"""Job functions: module-level, taking ids, idempotent, raising on failure.

RQ retries a job that raises, with the backoff given at enqueue time, so a
job records what went wrong and then raises; it never swallows a failure.
"""

from __future__ import annotations

import functools
import json
import logging
from datetime import datetime, timedelta

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select

from portal import audit, kv, mail, platforms
from portal.extensions import db
from portal.i18n import request_locale
from portal.models import (
    OPEN_REQUEST_STATUSES,
    AccessRequest,
    Agency,
    Client,
    Grant,
    NotificationLog,
)
from portal.models.base import utcnow
from portal.platforms.base import PlatformError
from portal.services import requests as requests_service
from portal.services.connections import agency_access, end_transaction

from . import enqueue, job

log = logging.getLogger("latchkey.jobs")

STUCK_AFTER = timedelta(minutes=10)
PERIODIC_RUN_TTL = 200 * 24 * 3600  # longer than a quarter: the review's last run stays visible


def periodic(func):
    """Record when a periodic job last ran and how it ended (the health page shows it)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        started = utcnow()
        try:
            result = func(*args, **kwargs)
        except BaseException as exc:
            db.session.rollback()
            _record_run(func.__name__, started, "failed", f"{type(exc).__name__}: {exc}")
            raise
        _record_run(func.__name__, started, "ok", "" if result is None else str(result))
        return result

    return wrapper


def _record_run(name: str, started: datetime, outcome: str, detail: str) -> None:
    record = {
        "started_at": started.isoformat(),
        "finished_at": utcnow().isoformat(),
        "outcome": outcome,
        "detail": detail[:300],
    }
    try:
        kv.put(f"periodic:{name}", json.dumps(record), PERIODIC_RUN_TTL)
    except Exception:  # the record is for people; it must not fail the job
        log.warning("could not record the run of %s", name, exc_info=True)


def last_run(name: str) -> dict | None:
    """{"started_at", "finished_at", "outcome", "detail"} of the job's last run, or None."""
    raw = kv.get(f"periodic:{name}")
    if not raw:
        return None
    record = json.loads(raw)
    for key in ("started_at", "finished_at"):
        record[key] = datetime.fromisoformat(record[key])
    return record


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
    with force_locale(request_locale(access_request)):
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
            requests_service.mark_verified(grant, seen, settle=True)
            return "verified"
        reason = f"grant {grant_id}: {outcome} (attempt {attempt} of "
        reason += f"{requests_service.MAX_VERIFY_ATTEMPTS})"
        if attempt >= requests_service.MAX_VERIFY_ATTEMPTS:
            error, fix = _why_not(grant, outcome, message, fix)
            requests_service.mark_failed(grant, error, fix, settle=True)
            raise VerificationFailed(reason)
        raise VerificationPending(reason)


@job
@periodic
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
        with force_locale(request_locale(grant.access_request)):
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
@periodic
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


# ------------------------------------------------------------------- expiry

EXPIRY_RETRY = (30, 300, 1800)
# A request whose verification is still running is expired once it settles.
EXPIRY_RECHECK_SECONDS = 60


def _schedule_expiry(access_request: AccessRequest) -> None:
    from portal.notifications import EXPIRY_MARGIN_SECONDS

    delay = (access_request.expires_at - utcnow()).total_seconds() + EXPIRY_MARGIN_SECONDS
    enqueue(
        expire_request,
        access_request.id,
        delay=max(delay, 0) or None,
        timeout=60,
        retry=EXPIRY_RETRY,
        # One scheduled expiry per request: planning it again replaces it.
        job_id=f"expire-request-{access_request.id}",
        title=f"Expire request {access_request.id}",
    )


@job
def plan_expiry(access_request_id: int) -> str:
    """Schedule the expiry of a new request at its expires_at (a delayed job)."""
    access_request = db.session.get(AccessRequest, access_request_id)
    if access_request is None or access_request.status not in OPEN_REQUEST_STATUSES:
        return "skipped"
    _schedule_expiry(access_request)
    return "planned"


@job
def expire_request(access_request_id: int) -> str:
    """Expire one request at its time (status expired, audited, event sent)."""
    access_request = db.session.get(AccessRequest, access_request_id)
    if access_request is None or access_request.status not in OPEN_REQUEST_STATUSES:
        return "skipped"
    if access_request.expires_at > utcnow():
        _schedule_expiry(access_request)  # woken early (clock skew, a changed date)
        return "early"
    if requests_service.expire_if_due(access_request):
        return "expired"
    enqueue(
        expire_request,
        access_request_id,
        delay=EXPIRY_RECHECK_SECONDS,
        timeout=60,
        retry=EXPIRY_RETRY,
        job_id=f"expire-request-{access_request_id}",
        title=f"Expire request {access_request_id}",
    )
    return "deferred"


# ------------------------------------------------------------------- e-mails

REMINDER_DAYS = (7, 3)  # latest first: a late run sends only the most recent reminder
EXPIRY_WARNING_BEFORE = timedelta(days=3)
REVIEW_RETRY = (60, 600, 3600)


def _subject(access_request: AccessRequest) -> str:
    return f"access_request:{access_request.id}"


def _system_audit(action: str, agency_id: int, subject: tuple[str, object], **details):
    return lambda: audit.record(
        action, agency_id=agency_id, actor=audit.SYSTEM, subject=subject, details=details
    )


@job
def send_request_email(access_request_id: int, period: str = "") -> str:
    """E-mail the client its link (once per `period`: "" first, "resend-..." again)."""
    from portal.notifications.client_mail import send_to_client
    from portal.notifications.emails import request_email
    from portal.notifications.log import Key
    from portal.notifications.recipients import client_of

    access_request = db.session.get(AccessRequest, access_request_id)
    if access_request is None or access_request.status not in OPEN_REQUEST_STATUSES:
        return "skipped"
    if access_request.expires_at <= utcnow():
        return "skipped"
    to = client_of(access_request)
    link = requests_service.request_url(access_request)
    return send_to_client(
        Key("request_sent", _subject(access_request), to.email, period),
        lambda: request_email(access_request, to, link),
        agency=access_request.agency,
        link_of=access_request.id,
        locale=to.locale,
        before_commit=_system_audit(
            "access_request.email_sent",
            access_request.agency_id,
            ("access_request", access_request.id),
            to=to.email,
            resend=bool(period),
        ),
    )


@job
def send_completion_emails(access_request_id: int) -> int:
    """Render the PDF confirmation and send it to the client and the agency."""
    from portal.notifications.client_mail import send_to_client
    from portal.notifications.emails import completion_email
    from portal.notifications.log import Key, send_once, was_sent
    from portal.notifications.recipients import agency_people, client_of
    from portal.reports import render_report, report_filename, verification_code

    access_request = db.session.get(AccessRequest, access_request_id)
    if access_request is None or access_request.status not in ("completed", "partially_completed"):
        return 0
    if access_request.erased_at is not None:
        return 0  # the client was deleted meanwhile: no one to send it to, nothing to show
    period = (access_request.completed_at or access_request.updated_at).isoformat()
    audience = [("client", client_of(access_request))] + [
        ("agency", person)
        for person in agency_people(access_request.agency, access_request.created_by_id)
    ]
    subject = _subject(access_request)
    due = [
        (who, to)
        for who, to in audience
        if not was_sent(Key("completion", subject, to.email, period))
    ]
    if not due:
        return 0
    attachment = mail.Attachment(report_filename(access_request), render_report(access_request.id))
    code = verification_code(access_request)
    sent = 0
    for who, to in due:
        key = Key("completion", subject, to.email, period)
        build = lambda who=who, to=to: completion_email(access_request, to, who, attachment)  # noqa: E731
        audited = _system_audit(
            "report.sent",
            access_request.agency_id,
            ("access_request", access_request.id),
            to=to.email,
            audience=who,
            verification_code=code,
        )
        if who == "client":
            outcome = send_to_client(
                key,
                build,
                agency=access_request.agency,
                locale=to.locale,
                before_commit=audited,
            )
            sent += outcome == "sent"
        else:
            sent += send_once(
                key,
                build,
                agency_id=access_request.agency_id,
                locale=to.locale,
                before_commit=audited,
            )
    return sent


@job
def send_grant_alerts(access_request_id: int) -> int:
    """Tell the agency about grants that failed or wait on a manual step (once each)."""
    from portal.notifications.emails import grant_alert_email
    from portal.notifications.log import Key, send_once, was_sent
    from portal.notifications.recipients import agency_people

    access_request = db.session.get(AccessRequest, access_request_id)
    if access_request is None or access_request.status in ("revoked", "expired"):
        return 0
    waiting = [g for g in access_request.grants if g.status in ("failed", "needs_action")]
    if not waiting:
        return 0

    def key(grant: Grant, email: str) -> Key:
        # One alert per grant and per failure: a grant that fails again later is news.
        return Key(
            f"grant_{grant.status}", f"grant:{grant.id}", email, grant.updated_at.isoformat()
        )

    sent = 0
    for to in agency_people(access_request.agency, access_request.created_by_id):
        news = [g for g in waiting if not was_sent(key(g, to.email))]
        if news:
            sent += send_once(
                [key(g, to.email) for g in news],
                lambda to=to, news=news: grant_alert_email(access_request, news, to),
                agency_id=access_request.agency_id,
                locale=to.locale,
            )
    return sent


@job
def send_grant_removed_email(grant_id: int) -> int:
    """Tell the agency a grant it had was removed on the platform."""
    from portal.notifications.emails import grant_removed_email
    from portal.notifications.log import Key, send_once
    from portal.notifications.recipients import agency_people

    grant = db.session.get(Grant, grant_id)
    if grant is None or grant.status != "removed":
        return 0
    access_request = grant.access_request
    period = (grant.removed_at or grant.updated_at).isoformat()
    sent = 0
    for to in agency_people(access_request.agency, access_request.created_by_id):
        sent += send_once(
            Key("grant_removed", f"grant:{grant.id}", to.email, period),
            lambda to=to: grant_removed_email(grant, to),
            agency_id=grant.agency_id,
            locale=to.locale,
        )
    return sent


def _run_each(items, send) -> int:
    """Call `send(item)` for each: a failure does not stop the others; the first is raised."""
    sent = 0
    failures: list[BaseException] = []
    for item in items:
        try:
            sent += send(item)
        except Exception as exc:
            db.session.rollback()
            log.exception("notification about %r failed", item)
            failures.append(exc)
    if failures:
        raise failures[0]
    return sent


@job
@periodic
def send_reminders() -> int:
    """Remind clients who have not finished, 3 and 7 days after the link was e-mailed."""
    from portal.notifications.client_mail import send_to_client
    from portal.notifications.emails import request_email
    from portal.notifications.log import Key, was_sent
    from portal.notifications.recipients import client_of

    now = utcnow()
    candidates = (
        db.session.execute(
            select(AccessRequest).where(
                AccessRequest.status.in_(OPEN_REQUEST_STATUSES),
                AccessRequest.sent_at <= now - timedelta(days=min(REMINDER_DAYS)),
                AccessRequest.expires_at > now,
            )
        )
        .scalars()
        .all()
    )
    if not candidates:
        return 0
    # Only requests Latchkey e-mailed: an agency that sent the link itself reminds itself.
    emailed = set(
        db.session.execute(
            select(NotificationLog.subject).where(
                NotificationLog.kind == "request_sent",
                NotificationLog.subject.in_([_subject(r) for r in candidates]),
            )
        ).scalars()
    )

    def remind(access_request: AccessRequest) -> int:
        if _subject(access_request) not in emailed:
            return 0
        age = now - access_request.sent_at
        day = next(d for d in REMINDER_DAYS if age >= timedelta(days=d))
        to = client_of(access_request)
        later = [d for d in REMINDER_DAYS if d >= day]
        if any(
            was_sent(Key("reminder", _subject(access_request), to.email, f"day{d}")) for d in later
        ):
            return 0
        link = requests_service.request_url(access_request)
        outcome = send_to_client(
            Key("reminder", _subject(access_request), to.email, f"day{day}"),
            lambda: request_email(access_request, to, link, reminder_day=day),
            agency=access_request.agency,
            link_of=access_request.id,
            locale=to.locale,
        )
        return int(outcome == "sent")

    return _run_each(candidates, remind)


@job
@periodic
def send_expiry_warnings() -> int:
    """Tell the agency three days ahead that a link its client has not finished expires."""
    from portal.notifications.emails import expiry_warning_email
    from portal.notifications.log import Key, send_once
    from portal.notifications.recipients import agency_people

    now = utcnow()
    due = (
        db.session.execute(
            select(AccessRequest).where(
                AccessRequest.status.in_(OPEN_REQUEST_STATUSES),
                AccessRequest.expires_at > now,
                AccessRequest.expires_at <= now + EXPIRY_WARNING_BEFORE,
            )
        )
        .scalars()
        .all()
    )

    def warn(access_request: AccessRequest) -> int:
        # A link made to last 3 days or less would be "expiring soon" from the start.
        if access_request.expires_at - access_request.created_at <= EXPIRY_WARNING_BEFORE:
            return 0
        sent = 0
        for to in agency_people(access_request.agency, access_request.created_by_id):
            sent += send_once(
                Key(
                    "expiry_warning",
                    _subject(access_request),
                    to.email,
                    access_request.expires_at.isoformat(),
                ),
                lambda to=to: expiry_warning_email(access_request, to),
                agency_id=access_request.agency_id,
                locale=to.locale,
            )
        return sent

    return _run_each(due, warn)


def quarter_of(moment: datetime) -> str:
    return f"{moment.year}-Q{(moment.month - 1) // 3 + 1}"


@job
@periodic
def quarterly_access_review() -> int:
    """Queue this quarter's access review for every agency that holds active grants."""
    quarter = quarter_of(utcnow())
    agency_ids = (
        db.session.execute(select(Grant.agency_id).where(Grant.status == "verified").distinct())
        .scalars()
        .all()
    )
    for agency_id in sorted(agency_ids):
        enqueue(
            send_access_review,
            agency_id,
            quarter,
            timeout=300,
            retry=REVIEW_RETRY,
            title=f"Access review {quarter} of agency {agency_id}",
        )
    return len(agency_ids)


@job
def send_access_review(agency_id: int, quarter: str) -> int:
    """List every active grant with how to remove it: to the agency, and to each client."""
    from portal.notifications.client_mail import send_to_client
    from portal.notifications.emails import access_review_email
    from portal.notifications.log import Key, send_once
    from portal.notifications.recipients import agency_people, client_recipient

    agency = db.session.get(Agency, agency_id)
    if agency is None:
        return 0
    grants = (
        db.session.execute(
            select(Grant)
            .join(AccessRequest, AccessRequest.id == Grant.access_request_id)
            .join(Client, Client.id == AccessRequest.client_id)
            .where(Grant.agency_id == agency_id, Grant.status == "verified")
            .order_by(Client.name, Grant.platform, Grant.id)
        )
        .scalars()
        .all()
    )
    if not grants:
        return 0
    sent = 0
    for to in agency_people(agency):
        sent += send_once(
            Key("access_review", f"agency:{agency_id}", to.email, quarter),
            lambda to=to: access_review_email(agency, grants, to, "agency", quarter),
            agency_id=agency_id,
            locale=to.locale,
        )
    by_client: dict[int, list[Grant]] = {}
    for grant in grants:
        by_client.setdefault(grant.access_request.client_id, []).append(grant)
    for client_id, theirs in by_client.items():
        client = db.session.get(Client, client_id)
        if client.erased_at is not None:
            continue  # deleted: its address is gone (the agency's own list keeps the access)
        to = client_recipient(client)
        outcome = send_to_client(
            Key("access_review", f"client:{client_id}", to.email, quarter),
            lambda to=to, theirs=theirs: access_review_email(agency, theirs, to, "client", quarter),
            agency=agency,
            locale=to.locale,
        )
        sent += outcome == "sent"
    return sent


# ------------------------------------------------------------ re-verification

REVERIFY_RETRY = (60, 600, 3600)


@job
@periodic
def reverify_active_grants() -> int:
    """Nightly: queue a check of every verified grant (one job each, retried alone)."""
    grant_ids = (
        db.session.execute(
            select(Grant.id)
            .where(Grant.status == "verified", Grant.manual.is_(False))
            .order_by(Grant.id)
        )
        .scalars()
        .all()
    )
    for grant_id in grant_ids:
        enqueue(
            reverify_grant,
            grant_id,
            queue="verify",
            timeout=60,
            retry=REVERIFY_RETRY,
            title=f"Re-verify grant {grant_id}",
        )
    return len(grant_ids)


@job
def reverify_grant(grant_id: int) -> str:
    """Check from the agency's side that a verified grant still works.

    One the platform no longer shows is marked removed (audited, announced as
    grant.removed, and the agency is e-mailed). A platform error raises, so the
    job is retried and, in the end, shown on the health page; it never marks a
    grant removed on a guess.
    """
    grant = db.session.get(Grant, grant_id)
    if grant is None or grant.status != "verified" or grant.manual:
        return "skipped"
    connector = platforms.get(grant.platform)
    access = agency_access(grant.agency_id, grant.platform)
    end_transaction()
    with force_locale(request_locale(grant.access_request)):
        result = connector.verify(
            access.token,
            access.identity,
            grant.asset_type,
            grant.asset_id,
            list(grant.permissions or []),
            dict(grant.external or {}),
        )
        db.session.refresh(grant)
        if grant.status != "verified":
            return "skipped"
        if result.status == "missing":
            mark_removed(grant, result.message or _("The agency no longer sees this asset."))
            return "removed"
    if result.status == "insufficient":
        log.warning("grant %s: still visible but with fewer permissions", grant_id)
    return result.status


# -------------------------------------------------------- offboarding


class RemovalIncomplete(RuntimeError):
    """A platform refused for now (rate limit, outage): RQ retries the rest."""


@job
def remove_access(grant_ids: list[int], actor: list) -> str:
    """Offboarding: remove these grants through their platforms, as `actor`
    (type and id; a user's e-mail is looked up for the audit trail).
    Idempotent: removed grants are skipped on a rerun."""
    from portal.models import User
    from portal.services import offboarding

    kind, actor_id = actor[0], actor[1]
    user = db.session.get(User, int(actor_id)) if kind == "user" and actor_id else None
    who = audit.Actor(kind, actor_id, user.email if user else None)
    removed, refused, retry = offboarding.remove_all(grant_ids, who)
    summary = f"{removed} removed, {refused} refused"
    if retry:
        raise RemovalIncomplete(summary + "; a platform asked to try again later")
    return summary


# -------------------------------------------------------- housekeeping

# A finished webhook delivery stays in the endpoint's delivery log this long.
DELIVERY_LOG_DAYS = 90
PRUNE_BATCH = 5000


@job
@periodic
def prune_expired_records() -> str:
    """Nightly: delete what no longer serves anyone, in small batches.

    Idempotency keys past their 24 hours (the API no longer replays them),
    finished webhook deliveries older than DELIVERY_LOG_DAYS (pending and
    retrying ones are never touched), ended sessions and old confirmation
    links. Audit events, grants and the e-mail log that keeps e-mails from
    being sent twice are kept.
    """
    from flask import current_app
    from sqlalchemy import or_

    from portal.api.views import IDEMPOTENCY_TTL
    from portal.models import EmailVerification, IdempotencyKey, UserSession, WebhookDelivery

    now = utcnow()
    keys = _delete_in_batches(IdempotencyKey, IdempotencyKey.created_at < now - IDEMPOTENCY_TTL)
    deliveries = _delete_in_batches(
        WebhookDelivery,
        WebhookDelivery.status.in_(("succeeded", "failed", "cancelled")),
        WebhookDelivery.created_at < now - timedelta(days=DELIVERY_LOG_DAYS),
    )
    # Sessions that ended or passed the absolute limit, and spent confirmation links.
    absolute = timedelta(hours=current_app.config["SESSION_ABSOLUTE_HOURS"])
    _delete_in_batches(
        UserSession,
        or_(UserSession.ended_at.is_not(None), UserSession.created_at < now - absolute),
    )
    _delete_in_batches(EmailVerification, EmailVerification.expires_at < now - timedelta(days=30))
    return f"{keys} idempotency keys and {deliveries} webhook deliveries deleted"


def _delete_in_batches(model, *conditions) -> int:
    """Delete matching rows PRUNE_BATCH at a time, committing each batch: no long
    lock on a busy table, and an interrupted run keeps what it did."""
    total = 0
    while True:
        ids = list(
            db.session.execute(select(model.id).where(*conditions).limit(PRUNE_BATCH)).scalars()
        )
        if not ids:
            return total
        db.session.execute(model.__table__.delete().where(model.id.in_(ids)))
        db.session.commit()
        total += len(ids)


# -------------------------------------------------------- data protection

RETENTION_BUDGET_SECONDS = 1500  # the schedule gives the job 1800


@job
@periodic
def apply_retention() -> str:
    """Nightly: erase the personal data of requests finished longer ago than each
    agency's retention period (and of clients left with nothing else)."""
    from portal.services import privacy

    run = privacy.apply_retention(budget_seconds=RETENTION_BUDGET_SECONDS)
    return f"{run.requests} requests and {run.clients} clients erased" + (
        "" if run.finished else "; the rest on the next run"
    )


@job
def sweep_erased_copies(agency_id: int, request_ids: list[int], since: str) -> int:
    """After an erasure: scrub webhook bodies and stored API answers about the
    erased requests that were written while it ran (a delivery fanned out then)."""
    from portal.services import privacy

    deliveries, answers = privacy.sweep_copies(
        agency_id, request_ids, datetime.fromisoformat(since)
    )
    return deliveries + answers


def mark_removed(grant: Grant, reason: str) -> None:
    """The platform no longer shows the access: record it, announce it, commit."""
    grant.status = "removed"
    grant.removed_at = utcnow()
    grant.error = str(reason)
    grant.fix = _("If the agency still needs it, send the client a new request.")
    requests_service.record_grant(grant, "grant.removed", audit.SYSTEM, reason=grant.error)
    db.session.commit()


__all__ = [
    "RemovalIncomplete",
    "VerificationFailed",
    "VerificationPending",
    "apply_retention",
    "expire_due_requests",
    "expire_request",
    "last_run",
    "mark_removed",
    "periodic",
    "plan_expiry",
    "prune_expired_records",
    "quarter_of",
    "quarterly_access_review",
    "remove_access",
    "reverify_active_grants",
    "reverify_grant",
    "send_access_review",
    "send_completion_emails",
    "send_expiry_warnings",
    "send_grant_alerts",
    "send_grant_removed_email",
    "send_reminders",
    "send_request_email",
    "sweep_erased_copies",
    "sweep_stuck_grants",
    "verify_grant",
]
