"""Access requests and their grants: one function per verb.

The agency area, the API and the jobs all call these, so a grant made through
the web, the API or a retry runs the same code. Every state change writes an
audit event in the same transaction, and every function commits its work.
Platform calls happen outside any database transaction.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

import requests
from email_validator import EmailNotValidError, validate_email
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import defer, joinedload, selectinload

from .. import audit, crypto, events, platforms
from ..extensions import db
from ..inputs import web_address
from ..models import (
    OPEN_REQUEST_STATUSES,
    SETTLED_GRANT_STATUSES,
    AccessRequest,
    Agency,
    Client,
    Grant,
    Template,
    User,
)
from ..models.base import utcnow
from ..platforms.base import Asset, GrantResult, PlatformError, Token
from .connections import agency_access, end_transaction, get_connection, is_usable

log = logging.getLogger("latchkey.requests")

MIN_EXPIRY_DAYS = 1
MAX_EXPIRY_DAYS = 90
DEFAULT_EXPIRY_DAYS = 14
# A request's language left to the client: their page follows their browser
# (portal.i18n.client_locale), their e-mails the language they were last seen with.
BROWSER_LOCALE = ""
# Verification: first try at once, then retry with backoff (seconds).
VERIFY_RETRY = (2, 5, 15, 60, 300)
MAX_VERIFY_ATTEMPTS = len(VERIFY_RETRY) + 1
# A client may come back and grant again while the request is not closed.
GRANTABLE_STATUSES = ("sent", "opened", "in_progress", "partially_completed")
# Grants in these states are done or under way: granting again skips them.
ACTIVE_GRANT_STATUSES = ("pending", "granted", "verifying", "verified", "needs_action")
IN_FLIGHT_GRANT_STATUSES = ("pending", "granted", "verifying")
TOKEN_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


class RequestError(ValueError):
    """Input that cannot make a request; `errors` name each field and what to change."""

    def __init__(self, errors: Sequence[tuple[str, str]]):
        self.errors = [{"field": f, "message": m} for f, m in errors]
        super().__init__("; ".join(m for _f, m in errors))

    @property
    def message(self) -> str:
        return str(self)


class RequestClosed(Exception):
    """The request no longer accepts grants (revoked, expired or completed)."""


# --------------------------------------------------------------- validation


def normalise_items(items: object) -> list[dict]:
    """Check items against the registry; merge duplicates; return clean copies.

    Each item is {"platform", "asset_type", "permissions": [...]} with the
    platform's own ids; permissions keep the order the platform defines.
    """
    errors: list[tuple[str, str]] = []
    if not isinstance(items, list | tuple) or not items:
        raise RequestError([("items", _("Choose at least one thing to ask for."))])
    merged: dict[tuple[str, str], set[str]] = {}
    for index, item in enumerate(items):
        where = f"items[{index}]"
        if not isinstance(item, Mapping):
            errors.append((where, _("Each item needs a platform, an asset type and permissions.")))
            continue
        platform_id = item.get("platform")
        try:
            connector = platforms.get(str(platform_id))
        except KeyError:
            errors.append((f"{where}.platform", _("Unknown platform “%(id)s”.", id=platform_id)))
            continue
        asset_type = connector.asset_type(str(item.get("asset_type")))
        if asset_type is None:
            errors.append(
                (
                    f"{where}.asset_type",
                    _(
                        "%(platform)s has no asset type “%(id)s”.",
                        platform=connector.name,
                        id=item.get("asset_type"),
                    ),
                )
            )
            continue
        permissions = item.get("permissions")
        if isinstance(permissions, str):
            permissions = [permissions]
        if not isinstance(permissions, list | tuple) or not permissions:
            errors.append(
                (
                    f"{where}.permissions",
                    _("Choose at least one permission for %(type)s.", type=asset_type.name),
                )
            )
            continue
        unknown = [p for p in permissions if asset_type.permission(str(p)) is None]
        if unknown:
            errors.append(
                (
                    f"{where}.permissions",
                    _(
                        "%(type)s has no permission “%(id)s”.",
                        type=asset_type.name,
                        id=", ".join(map(str, unknown)),
                    ),
                )
            )
            continue
        merged.setdefault((connector.id, asset_type.id), set()).update(map(str, permissions))
    if errors:
        raise RequestError(errors)
    clean = []
    for (platform_id, asset_type_id), chosen in merged.items():
        asset_type = platforms.get(platform_id).asset_type(asset_type_id)
        ordered = [p.id for p in asset_type.permissions if p.id in chosen]
        clean.append({"platform": platform_id, "asset_type": asset_type_id, "permissions": ordered})
    return clean


def _check_connections(agency_id: int, items: list[dict]) -> None:
    errors = []
    for platform_id in dict.fromkeys(item["platform"] for item in items):
        connector = platforms.get(platform_id)
        if not connector.needs_agency_connection:
            continue
        connection = get_connection(agency_id, platform_id)
        if connection is None:
            errors.append(
                ("items", _("Connect %(platform)s in Connections first.", platform=connector.name))
            )
        elif not is_usable(connection):
            errors.append(
                (
                    "items",
                    _(
                        "The %(platform)s connection needs attention: reconnect it in "
                        "Connections first.",
                        platform=connector.name,
                    ),
                )
            )
    if errors:
        raise RequestError(errors)


def _clean_redirect_url(value: str | None) -> str | None:
    value = (value or "").strip()
    if not value:
        return None
    production = current_app.config["LATCHKEY_ENV"] == "production"
    clean = web_address(value, https_only=production)
    if clean is None:
        raise RequestError(
            [("redirect_url", _("Enter a full web address starting with https://."))]
        )
    return clean


# ----------------------------------------------------------------- creation


def _actor_for_user(user: User | None) -> audit.Actor | None:
    if user is None:
        return None
    return audit.Actor("user", str(user.id), user.email)


def client_actor(access_request: AccessRequest) -> audit.Actor:
    client = access_request.client
    return audit.Actor("client", str(client.id), client.email)


def _find_or_create_client(
    agency_id: int, name: str, email: str, locale: str, external_id: str | None
) -> Client:
    client = (
        db.session.execute(
            select(Client)
            .where(Client.agency_id == agency_id, func.lower(Client.email) == email.lower())
            .order_by(Client.id)
            .limit(1)
        )
        .scalars()
        .first()
    )
    if client is None:
        client = Client(agency_id=agency_id, name=name, email=email, locale=locale)
        db.session.add(client)
    else:
        # The agency's latest details win (a language left to the client's
        # browser keeps the one the client was last seen with).
        client.name = name
        if locale:
            client.locale = locale
    if external_id:
        client.external_id = external_id
    db.session.flush()
    return client


def create_request(
    agency: Agency,
    created_by: User | None,
    client_name: str,
    client_email: str,
    locale: str,
    items: list[dict] | None,
    message: str | None = None,
    expires_in_days: int = DEFAULT_EXPIRY_DAYS,
    redirect_url: str | None = None,
    external_id: str | None = None,
    template: Template | None = None,
    actor: audit.Actor | None = None,
) -> tuple[AccessRequest, str]:
    """Create a request and its link; return it with the link token (shown once here).

    Raises RequestError naming each field to fix.
    """
    if template is not None and template.agency_id != agency.id:
        raise RequestError([("template_id", _("This template does not exist."))])
    if not items and template is not None:
        items = template.items
    if message is None and template is not None:
        message = template.message
    errors: list[tuple[str, str]] = []
    client_name = (client_name or "").strip()
    if not client_name:
        errors.append(("client.name", _("Enter the client's name.")))
    elif len(client_name) > 200:
        errors.append(("client.name", _("Use at most 200 characters.")))
    try:
        email = validate_email(
            (client_email or "").strip(),
            check_deliverability=False,
            # Reserved test domains (.test) are accepted outside production only.
            test_environment=current_app.config["LATCHKEY_ENV"] != "production",
        ).normalized
    except EmailNotValidError:
        errors.append(("client.email", _("Enter a valid e-mail address, like name@example.com.")))
        email = ""
    languages = current_app.config["LANGUAGES"]
    # No language: the client's page follows their browser (BROWSER_LOCALE).
    locale = (locale or BROWSER_LOCALE).strip()
    if locale and locale not in languages:
        errors.append(
            ("client.locale", _("Choose one of: %(list)s.", list=", ".join(sorted(languages))))
        )
    try:
        days = int(expires_in_days)
    except (TypeError, ValueError):
        days = 0
    if not MIN_EXPIRY_DAYS <= days <= MAX_EXPIRY_DAYS:
        errors.append(
            (
                "expires_in_days",
                _(
                    "Choose between %(min)d and %(max)d days.",
                    min=MIN_EXPIRY_DAYS,
                    max=MAX_EXPIRY_DAYS,
                ),
            )
        )
    message = (message or "").strip() or None
    if message and len(message) > 5000:
        errors.append(("message", _("Use at most 5,000 characters.")))
    external_id = (external_id or "").strip() or None
    if external_id and len(external_id) > 200:
        errors.append(("external_id", _("Use at most 200 characters.")))
    try:
        redirect_url = _clean_redirect_url(redirect_url)
    except RequestError as exc:
        errors.extend((e["field"], e["message"]) for e in exc.errors)
    try:
        clean_items = normalise_items(items)
    except RequestError as exc:
        errors.extend((e["field"], e["message"]) for e in exc.errors)
        clean_items = []
    if errors:
        raise RequestError(errors)
    _check_connections(agency.id, clean_items)

    client = _find_or_create_client(agency.id, client_name, email, locale, external_id)
    token = crypto.new_token()
    now = utcnow()
    access_request = AccessRequest(
        agency_id=agency.id,
        client_id=client.id,
        template_id=template.id if template is not None else None,
        created_by_id=created_by.id if created_by is not None else None,
        # A deep copy: later edits to the template never reach a sent request.
        items=copy.deepcopy(clean_items),
        message=message,
        # Intake questions are a snapshot too.
        questions=copy.deepcopy(template.questions or []) if template is not None else [],
        locale=locale,
        token_hash=crypto.token_hash(token),
        token_encrypted=crypto.encrypt(token),
        status="sent",
        external_id=external_id,
        redirect_url=redirect_url,
        created_at=now,
        sent_at=now,
        expires_at=now + timedelta(days=days),
    )
    db.session.add(access_request)
    db.session.flush()
    _emit("access_request.created", agency.id, access_request.id)
    audit.record(
        "access_request.created",
        agency_id=agency.id,
        actor=actor or _actor_for_user(created_by),
        subject=("access_request", access_request.id),
        details={
            "client": email,
            "items": clean_items,
            "expires_at": access_request.expires_at.isoformat(),
            "template_id": access_request.template_id,
        },
    )
    db.session.commit()
    return access_request, token


def request_url(access_request: AccessRequest, token: str | None = None) -> str:
    """The client's link (the token is decrypted when not given)."""
    token = token or crypto.decrypt(access_request.token_encrypted)
    return f"{current_app.config['LATCHKEY_BASE_URL']}/r/{token}"


def looks_like_token(token: str) -> bool:
    return 40 <= len(token) <= 64 and set(token) <= TOKEN_ALPHABET


def find_by_token(token: str) -> AccessRequest | None:
    """The request behind a link, with its agency, client and grants (2 queries)."""
    if not token or not looks_like_token(token):
        return None
    return (
        db.session.execute(
            select(AccessRequest)
            .where(AccessRequest.token_hash == crypto.token_hash(token))
            .options(
                joinedload(AccessRequest.agency).options(defer(Agency.logo)),
                joinedload(AccessRequest.client),
                selectinload(AccessRequest.grants),
            )
        )
        .unique()
        .scalar_one_or_none()
    )


# ------------------------------------------------------------- the request


def _emit(action: str, agency_id: int, access_request_id: int, grant_id: int | None = None) -> None:
    """Announce a state change (delivered to webhooks and e-mails after commit)."""
    if action in events.PUBLIC_EVENTS or action in events.INTERNAL_EVENTS:
        events.emit(
            db.session(),
            events.DomainEvent(action, agency_id, access_request_id, grant_id),
        )


def _record_status(
    access_request: AccessRequest, action: str, actor: audit.Actor | None, **details
) -> None:
    _emit(action, access_request.agency_id, access_request.id)
    audit.record(
        action,
        agency_id=access_request.agency_id,
        actor=actor or audit.SYSTEM,
        subject=("access_request", access_request.id),
        details={"status": access_request.status, **details},
    )


def mark_opened(access_request: AccessRequest, actor: audit.Actor | None = None) -> bool:
    """Record the first opening of the link (once, even with concurrent opens)."""
    if access_request.opened_at is not None:
        return False
    now = utcnow()
    new_status = "opened" if access_request.status == "sent" else access_request.status
    result = db.session.execute(
        update(AccessRequest)
        .where(AccessRequest.id == access_request.id, AccessRequest.opened_at.is_(None))
        .values(opened_at=now, status=new_status, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        db.session.rollback()
        return False
    access_request.opened_at = now
    access_request.status = new_status
    _record_status(access_request, "access_request.opened", actor or client_actor(access_request))
    end_transaction()
    return True


def revoke_request(access_request: AccessRequest, actor: audit.Actor | None = None) -> bool:
    """Close the link for good: it then answers 410. False if already revoked."""
    if access_request.status == "revoked":
        return False
    from ..oauth import discard_client_token

    previous = access_request.status
    access_request.status = "revoked"
    access_request.revoked_at = utcnow()
    _record_status(access_request, "access_request.revoked", actor, previous=previous)
    db.session.commit()
    for platform_id in access_request.platforms:
        discard_client_token(access_request.id, platform_id)
    return True


def is_open(access_request: AccessRequest) -> bool:
    """True while the link works (not revoked, not expired)."""
    return access_request.status not in ("revoked", "expired")


def expire_if_due(access_request: AccessRequest) -> bool:
    """Mark the request expired when its date has passed; True if it changed now.

    A request whose verification is still running is left to settle first.
    """
    if access_request.status not in OPEN_REQUEST_STATUSES:
        return False
    if access_request.expires_at > utcnow():
        return False
    if any(g.status in ("granted", "verifying") for g in access_request.grants):
        return False
    previous = access_request.status
    access_request.status = "expired"
    _record_status(access_request, "access_request.expired", audit.SYSTEM, previous=previous)
    db.session.commit()
    return True


def settle_request(access_request: AccessRequest) -> bool:
    """Once every platform was granted and every grant settled, close the request.

    Completed when every item has a verified grant and nothing failed;
    partially completed otherwise. True if the status changed now.
    """
    if _settle(access_request):
        db.session.commit()
        return True
    return False


def _settle(access_request: AccessRequest) -> bool:
    """settle_request without the commit, for callers holding the request's lock."""
    if access_request.status not in (*OPEN_REQUEST_STATUSES, "partially_completed"):
        return False
    grants = access_request.grants
    if not grants or any(g.status not in SETTLED_GRANT_STATUSES for g in grants):
        return False
    granted_platforms = {g.platform for g in grants}
    if any(p not in granted_platforms for p in access_request.platforms):
        return False  # the client has platforms still to do
    items_verified = {g.item_index for g in grants if g.status == "verified"}
    complete = all(g.status == "verified" for g in grants) and all(
        index in items_verified for index in range(len(access_request.items))
    )
    new_status = "completed" if complete else "partially_completed"
    if new_status == access_request.status:
        return False
    access_request.status = new_status
    access_request.completed_at = utcnow()
    _record_status(
        access_request,
        f"access_request.{new_status}",
        audit.SYSTEM,
        verified=sum(1 for g in grants if g.status == "verified"),
        failed=sum(1 for g in grants if g.status == "failed"),
    )
    return True


def _lock_request(access_request: AccessRequest) -> None:
    """Lock the request's row and reload its grants as committed by others.

    Two verifications finishing at once then settle one after the other, and
    the grant's new status and the request's become visible together: nobody
    sees every grant verified on a request that is not completed yet.
    """
    db.session.execute(
        select(AccessRequest.id).where(AccessRequest.id == access_request.id).with_for_update()
    )
    db.session.execute(
        select(Grant)
        .where(Grant.access_request_id == access_request.id)
        .execution_options(populate_existing=True)
    ).scalars().all()
    db.session.refresh(access_request, attribute_names=["grants", "status"])


def _reopen(access_request: AccessRequest, actor: audit.Actor | None) -> None:
    if access_request.status in ("sent", "opened", "partially_completed"):
        previous = access_request.status
        access_request.status = "in_progress"
        access_request.completed_at = None
        _record_status(access_request, "access_request.in_progress", actor, previous=previous)


# ----------------------------------------------------------- rate limits

# A platform that asks us to wait a few seconds (429 with Retry-After) is
# waited for, within a budget a person will accept on a page.
PATIENCE_SECONDS = 12
LONGEST_WAIT = 6


def _wait_for(retry_after, waited: float) -> float | None:
    """Seconds to sleep before trying again, or None to give up."""
    if retry_after is None:
        return None
    delay = max(float(retry_after), 0.5)
    if delay > LONGEST_WAIT or waited + delay > PATIENCE_SECONDS:
        return None
    return delay


def patiently(call, *args, **kwargs):
    """Call a platform; when it says "too many requests, wait N seconds" and N is
    short, wait and call again (within PATIENCE_SECONDS), else let it raise."""
    waited = 0.0
    while True:
        try:
            return call(*args, **kwargs)
        except PlatformError as exc:
            delay = _wait_for(exc.retry_after, waited) if exc.code == "rate_limited" else None
            if delay is None:
                raise
            log.info("platform asked to wait %.1fs; waiting", delay)
            time.sleep(delay)
            waited += delay


def _grant_patiently(connector, *args) -> GrantResult:
    waited = 0.0
    while True:
        result = patiently(connector.grant, *args)
        external = result.external or {}
        delay = None
        if result.status == "failed" and external.get("error_code") == "rate_limited":
            delay = _wait_for(external.get("retry_after"), waited)
        if delay is None:
            return result
        time.sleep(delay)
        waited += delay


# ------------------------------------------------------------------ grants


def record_grant(grant: Grant, action: str, actor: audit.Actor | None, **details) -> None:
    """Audit a grant's change (with what it is about) and announce it if it is an event."""
    _emit(action, grant.agency_id, grant.access_request_id, grant.id)
    audit.record(
        action,
        agency_id=grant.agency_id,
        actor=actor or audit.SYSTEM,
        subject=("grant", grant.id),
        details={
            "access_request_id": grant.access_request_id,
            "platform": grant.platform,
            "asset_type": grant.asset_type,
            "asset_id": grant.asset_id,
            "permissions": list(grant.permissions or []),
            "status": grant.status,
            **details,
        },
    )


def enqueue_verification(grant_id: int) -> None:
    """Queue the verification job. A failure to queue never undoes a grant made
    on the platform: the sweep of stuck grants queues it again later."""
    from worker import enqueue
    from worker.jobs import verify_grant

    try:
        enqueue(
            verify_grant,
            grant_id,
            queue="verify",
            timeout=60,
            retry=VERIFY_RETRY,
            title=f"Verify grant {grant_id}",
        )
    except Exception:
        log.warning("could not queue verification of grant %s", grant_id, exc_info=True)


@dataclass
class _Work:
    grant: Grant
    asset: Asset


def _failed_result(exc: Exception, platform_name: str) -> GrantResult:
    if isinstance(exc, PlatformError):
        return GrantResult("failed", exc.message, exc.fix, retryable=exc.retryable)
    if isinstance(exc, requests.RequestException):
        return GrantResult(
            "failed",
            _("We could not reach %(platform)s.", platform=platform_name),
            _("Try again in a minute."),
            retryable=True,
        )
    log.exception("unexpected error while granting on %s", platform_name)
    return GrantResult(
        "failed",
        _("Something went wrong on our side while granting this."),
        _("Try again in a minute. If it keeps happening, tell the agency."),
        retryable=True,
    )


# Attempts at creating a submission's grant rows when others create some at once.
CLAIM_ATTEMPTS = 3


def _claim_grants(
    access_request: AccessRequest,
    platform: str,
    connector,
    asset_selection: Mapping[int, Iterable[Asset]],
    actor: audit.Actor,
) -> tuple[list[_Work], list[Grant]]:
    """Create (or reset) the grant rows for the chosen assets, and commit.

    Under a lock on the request (PostgreSQL), and in any case under the unique
    index on request, item and asset: a second submission at once cannot add
    the same grant again (SQLite has no FOR UPDATE; the database refuses it).
    Assets whose grant is already under way or done are left out.
    """
    db.session.execute(
        select(AccessRequest.id).where(AccessRequest.id == access_request.id).with_for_update()
    )
    # Reload the grants inside the lock: another submission may have added some.
    db.session.refresh(access_request, attribute_names=["grants"])
    existing = {(g.item_index, g.asset_id): g for g in access_request.grants}
    work: list[_Work] = []
    manual: list[Grant] = []
    for index, assets in asset_selection.items():
        if not 0 <= index < len(access_request.items):
            raise ValueError(f"item {index} is not part of request {access_request.id}")
        item = access_request.items[index]
        if item["platform"] != platform:
            raise ValueError(f"item {index} is not a {platform} item")
        asset_type = connector.asset_type(item["asset_type"])
        for asset in assets:
            grant = existing.get((index, asset.id))
            if grant is not None and grant.status in ACTIVE_GRANT_STATUSES:
                continue
            if grant is None:
                grant = Grant(
                    agency_id=access_request.agency_id,
                    item_index=index,
                    platform=platform,
                    asset_type=item["asset_type"],
                    asset_id=asset.id,
                )
                access_request.grants.append(grant)
            grant.permissions = list(item["permissions"])
            grant.asset_name = (asset.name or asset.id)[:300]
            grant.manual = bool(asset_type and asset_type.manual)
            grant.status = "needs_action" if grant.manual else "pending"
            grant.error = grant.fix = None
            grant.granted_at = grant.verified_at = grant.verifying_since = None
            grant.verify_attempts = 0
            existing[(index, asset.id)] = grant
            if grant.manual:
                manual.append(grant)
            else:
                work.append(_Work(grant, asset))
    if not work and not manual:
        db.session.commit()
        return [], []
    _reopen(access_request, actor)
    db.session.flush()
    for grant in manual:
        record_grant(grant, "grant.needs_action", actor)
    end_transaction()
    return work, manual


def _claim_grants_once(
    access_request: AccessRequest,
    platform: str,
    connector,
    asset_selection: Mapping[int, Iterable[Asset]],
    actor: audit.Actor,
) -> tuple[list[_Work], list[Grant]]:
    """`_claim_grants`, started again when another submission added one of the
    same grants first: those then count as already under way, not twice."""
    for attempt in range(1, CLAIM_ATTEMPTS + 1):
        try:
            return _claim_grants(access_request, platform, connector, asset_selection, actor)
        except IntegrityError:
            db.session.rollback()
            if attempt == CLAIM_ATTEMPTS:
                raise
            log.info("grant rows of request %s added at once elsewhere; again", access_request.id)
    raise AssertionError("unreachable")  # pragma: no cover


def grant_assets(
    access_request: AccessRequest,
    platform: str,
    asset_selection: Mapping[int, Iterable[Asset]],
    client_token: Token,
    actor: audit.Actor | None = None,
) -> list[Grant]:
    """Give the agency the requested permissions on each chosen asset.

    `asset_selection` maps an item's index to the assets the client chose for
    it. One grant per item x asset: created pending and committed, then the
    platform is called (outside any transaction), then granted or failed with
    the reason and the fix; verification is queued for each one granted.
    Assets already granted are skipped, failed ones are tried again. Items
    whose asset type has no API become manual grants waiting on the client.
    """
    connector = platforms.get(platform)
    actor = actor or client_actor(access_request)
    if access_request.status not in GRANTABLE_STATUSES:
        raise RequestClosed(access_request.status)

    # 1. Create (or reset) the grant rows, once each even when the client
    # submits twice at once.
    work, manual = _claim_grants_once(access_request, platform, connector, asset_selection, actor)
    if not work and not manual:
        return []

    # 2. The agency's side (partner requests start from the agency's account).
    agency_token: Token | None = None
    identity: dict = {}
    try:
        if connector.needs_agency_connection:
            access = agency_access(access_request.agency_id, platform)
            agency_token, identity = access.token, access.identity
            end_transaction()
    except PlatformError as exc:
        for unit in work:
            _apply_result(unit.grant, GrantResult("failed", exc.message, exc.fix), actor)
        end_transaction()
        settle_request(access_request)
        return [unit.grant for unit in work] + manual

    # 3. One platform call per asset, each result committed before the next call.
    for unit in work:
        try:
            result = _grant_patiently(
                connector,
                client_token,
                agency_token,
                identity,
                unit.asset,
                list(unit.grant.permissions),
            )
        except Exception as exc:
            result = _failed_result(exc, connector.name)
        _apply_result(unit.grant, result, actor)
        end_transaction()
        if unit.grant.status == "granted":
            enqueue_verification(unit.grant.id)
    settle_request(access_request)
    return [unit.grant for unit in work] + manual


def _apply_result(grant: Grant, result: GrantResult, actor: audit.Actor | None) -> None:
    if result.status in ("granted", "pending"):
        grant.status = "granted"
        grant.granted_at = utcnow()
        external = dict(grant.external or {})
        external.update(result.external or {})
        if result.status == "pending":
            # An invitation the platform still has to turn into access.
            external["awaiting_acceptance"] = True
        grant.external = external
        grant.error = grant.fix = None
        record_grant(grant, "grant.granted", actor, pending=result.status == "pending")
    else:
        grant.status = "failed"
        grant.error = str(result.error or _("The platform refused the grant."))
        grant.fix = str(result.fix or _("Try again, or tell the agency."))
        external = dict(grant.external or {})
        external["retryable"] = bool(result.retryable)
        external["stage"] = "grant"
        grant.external = external
        record_grant(grant, "grant.failed", actor, error=grant.error, stage="grant")


def start_verification(grant: Grant) -> int:
    """Count one verification attempt (granted → verifying); return its number."""
    grant.verify_attempts = (grant.verify_attempts or 0) + 1
    if grant.status == "granted":
        grant.status = "verifying"
        grant.verifying_since = utcnow()
        record_grant(grant, "grant.verifying", audit.SYSTEM)
    db.session.commit()
    return grant.verify_attempts


def mark_verified(grant: Grant, permissions: Sequence[str] = (), settle: bool = False) -> bool:
    """The agency now sees the asset with the requested permissions.

    With `settle`, the request is closed in the same transaction when this
    was the last grant to settle.
    """
    if settle:
        _lock_request(grant.access_request)
    if grant.status == "verified":
        db.session.commit()
        return False
    grant.status = "verified"
    grant.verified_at = utcnow()
    grant.error = grant.fix = None
    record_grant(grant, "grant.verified", audit.SYSTEM, seen=list(permissions))
    if settle:
        _settle(grant.access_request)
    db.session.commit()
    return True


def mark_failed(
    grant: Grant,
    error: str,
    fix: str,
    actor: audit.Actor | None = None,
    stage: str = "verify",
    settle: bool = False,
) -> bool:
    """The grant did not work; `error` and `fix` are shown to client and agency.

    With `settle`, the request is closed in the same transaction when this
    was the last grant to settle.
    """
    if settle:
        _lock_request(grant.access_request)
    if grant.status == "failed" and grant.error == error:
        db.session.commit()
        return False
    grant.status = "failed"
    grant.error = str(error)
    grant.fix = str(fix)
    external = dict(grant.external or {})
    external["stage"] = stage
    grant.external = external
    record_grant(grant, "grant.failed", actor, error=grant.error, stage=stage)
    if settle:
        _settle(grant.access_request)
    db.session.commit()
    return True


def can_retry_verification(grant: Grant) -> bool:
    """A failed grant the platform did accept (or a manual step): check again."""
    return grant.status == "failed" and (
        grant.manual or (grant.external or {}).get("stage") == "verify"
    )


def needs_new_grant(grant: Grant) -> bool:
    """A grant the platform refused: the client connects again to retry it."""
    return grant.status == "failed" and not can_retry_verification(grant)


def _restart_verification(grant: Grant, action: str, actor: audit.Actor | None) -> None:
    grant.status = "verifying"
    grant.verifying_since = utcnow()
    grant.verify_attempts = 0
    grant.error = grant.fix = None
    if grant.granted_at is None:
        grant.granted_at = utcnow()
    record_grant(grant, action, actor)
    _reopen(grant.access_request, actor)
    db.session.commit()
    enqueue_verification(grant.id)


def mark_manual_done(grant: Grant, actor: audit.Actor | None = None) -> bool:
    """The client says a manual step is done: verify it from the agency's side."""
    if grant.manual and (grant.external or {}).get("guided"):
        # No API can see a guided step: the agency marking it done confirms it.
        return confirm_guided_step(grant, actor)
    if not grant.manual or grant.status not in ("needs_action", "failed"):
        return False
    if grant.access_request.status not in GRANTABLE_STATUSES:
        raise RequestClosed(grant.access_request.status)
    _restart_verification(grant, "grant.manual_done", actor)
    return True


def retry_verification(grant: Grant, actor: audit.Actor | None = None) -> bool:
    """Check a failed grant again (the platform may have caught up)."""
    if not can_retry_verification(grant):
        return False
    if grant.access_request.status not in GRANTABLE_STATUSES:
        raise RequestClosed(grant.access_request.status)
    _restart_verification(grant, "grant.retried", actor)
    return True


def grants_for(access_request: AccessRequest, platform: str | None = None) -> list[Grant]:
    return [g for g in access_request.grants if platform is None or g.platform == platform]


def is_settled(access_request: AccessRequest) -> bool:
    """Nothing is running: no grant waits on the platform or on verification."""
    return not any(g.status in IN_FLIGHT_GRANT_STATUSES for g in access_request.grants)


# ------------------------------------------------------- guided manual steps

# Assets one client may name for one requested item of a guided platform.
MAX_GUIDED_PER_ITEM = 20


def _guided_item(access_request: AccessRequest, item_index: int) -> dict:
    if not 0 <= item_index < len(access_request.items):
        raise ValueError(f"item {item_index} is not part of request {access_request.id}")
    return access_request.items[item_index]


def _lock_for_guided(access_request: AccessRequest) -> None:
    if access_request.status not in GRANTABLE_STATUSES:
        raise RequestClosed(access_request.status)
    db.session.execute(
        select(AccessRequest.id).where(AccessRequest.id == access_request.id).with_for_update()
    )
    db.session.refresh(access_request, attribute_names=["grants", "status"])
    if access_request.status not in GRANTABLE_STATUSES:
        raise RequestClosed(access_request.status)


def record_guided_reply(
    access_request: AccessRequest,
    item_index: int,
    sent_back: Mapping[str, str],
    asset_id: str | None,
    asset_name: str,
    actor: audit.Actor | None = None,
) -> Grant:
    """See `_record_guided_reply`; when the same reply arrives twice at once,
    the database keeps one grant (unique per item and asset) and the second
    reply is applied to it, as a correction would be."""
    for attempt in range(1, CLAIM_ATTEMPTS + 1):
        try:
            return _record_guided_reply(
                access_request, item_index, sent_back, asset_id, asset_name, actor
            )
        except IntegrityError:
            db.session.rollback()
            if attempt == CLAIM_ATTEMPTS:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _record_guided_reply(
    access_request: AccessRequest,
    item_index: int,
    sent_back: Mapping[str, str],
    asset_id: str | None,
    asset_name: str,
    actor: audit.Actor | None = None,
) -> Grant:
    """The client followed a guided platform's steps and sent back what it asks for.

    The item's grant for this asset is created (or, when the client corrects
    what it sent, updated) and stays `needs_action`, now waiting on the agency:
    no API can see the access, so the agency confirms it (`confirm_guided_step`).
    Raises RequestClosed when the link no longer accepts grants, and
    RequestError when that asset's access is already confirmed.
    """
    actor = actor or client_actor(access_request)
    item = _guided_item(access_request, item_index)
    _lock_for_guided(access_request)
    mine = [g for g in access_request.grants if g.item_index == item_index]
    grant = next((g for g in mine if g.asset_id == asset_id), None)
    if grant is None:
        # Sending after all for an item skipped earlier.
        grant = next((g for g in mine if g.status == "declined"), None)
    if grant is not None and grant.status == "verified":
        db.session.rollback()
        raise RequestError(
            [("asset", _("This one is already shared and confirmed: nothing more to do."))]
        )
    if grant is None:
        if len(mine) >= MAX_GUIDED_PER_ITEM:
            db.session.rollback()
            raise RequestError([("asset", _("That is the most that can be shared here at once."))])
        grant = Grant(
            agency_id=access_request.agency_id,
            item_index=item_index,
            platform=item["platform"],
            asset_type=item["asset_type"],
        )
        access_request.grants.append(grant)
    newly_waiting = grant.status != "needs_action"
    now = utcnow()
    grant.asset_id = asset_id
    grant.asset_name = (asset_name or asset_id or item["asset_type"])[:300]
    grant.permissions = list(item["permissions"])
    grant.manual = True
    grant.status = "needs_action"
    grant.error = grant.fix = None
    grant.granted_at = now
    grant.verified_at = grant.verifying_since = grant.removed_at = None
    grant.verify_attempts = 0
    grant.external = {
        "guided": True,
        "waiting_on": "agency",
        "sent_back": dict(sent_back),
        "replied_at": now.isoformat(),
    }
    _reopen(access_request, actor)
    db.session.flush()
    if newly_waiting:
        # The agency is told (grant alerts) that a manual step waits on it.
        _emit("grant.needs_action", grant.agency_id, grant.access_request_id, grant.id)
    record_grant(grant, "grant.manual_done", actor, sent_back=dict(sent_back))
    db.session.commit()
    return grant


def decline_guided_item(
    access_request: AccessRequest, item_index: int, actor: audit.Actor | None = None
) -> Grant:
    """The client cannot or will not do this item: it is declined (the request
    then settles as partially completed). Sending it later still works."""
    actor = actor or client_actor(access_request)
    item = _guided_item(access_request, item_index)
    _lock_for_guided(access_request)
    mine = [g for g in access_request.grants if g.item_index == item_index]
    if any(g.status != "declined" for g in mine):
        db.session.rollback()
        raise RequestError(
            [("item", _("Something was already sent for this: it can no longer be skipped."))]
        )
    grant = mine[0] if mine else None
    if grant is None:
        grant = Grant(
            agency_id=access_request.agency_id,
            item_index=item_index,
            platform=item["platform"],
            asset_type=item["asset_type"],
        )
        access_request.grants.append(grant)
    grant.asset_id = None
    grant.asset_name = None
    grant.permissions = list(item["permissions"])
    grant.manual = True
    grant.status = "declined"
    grant.external = {"guided": True, "declined_at": utcnow().isoformat()}
    _reopen(access_request, actor)
    db.session.flush()
    record_grant(grant, "grant.declined", actor)
    _settle(access_request)
    db.session.commit()
    return grant


def confirm_guided_step(grant: Grant, actor: audit.Actor | None = None) -> bool:
    """The agency checked on the platform that the guided step gave it access:
    the grant is verified, and the request settles when it was the last one."""
    if actor is not None and actor.type == "client":
        return False  # only the agency can see that the access works
    if grant.status not in ("needs_action", "failed"):
        return False
    access_request = grant.access_request
    if access_request.status not in GRANTABLE_STATUSES:
        raise RequestClosed(access_request.status)
    _lock_request(access_request)
    if grant.status not in ("needs_action", "failed"):
        db.session.commit()
        return False
    now = utcnow()
    external = dict(grant.external or {})
    external.update(
        waiting_on=None,
        confirmed_at=now.isoformat(),
        confirmed_by=(actor.label if actor else None) or audit.SYSTEM.label,
    )
    grant.external = external
    grant.status = "verified"
    grant.granted_at = grant.granted_at or now
    grant.verified_at = now
    grant.error = grant.fix = None
    record_grant(grant, "grant.verified", actor, confirmed_by_agency=True)
    _settle(access_request)
    db.session.commit()
    return True


__all__ = [
    "MAX_VERIFY_ATTEMPTS",
    "VERIFY_RETRY",
    "RequestClosed",
    "RequestError",
    "can_retry_verification",
    "confirm_guided_step",
    "create_request",
    "decline_guided_item",
    "enqueue_verification",
    "expire_if_due",
    "find_by_token",
    "grant_assets",
    "is_open",
    "is_settled",
    "mark_failed",
    "mark_manual_done",
    "mark_opened",
    "mark_verified",
    "needs_new_grant",
    "normalise_items",
    "patiently",
    "record_guided_reply",
    "request_url",
    "retry_verification",
    "revoke_request",
    "settle_request",
    "start_verification",
]
