"""Business to business on Pinterest: who administers which business, the
partner request and what answers it.

The signed-in person's businesses and roles come from `GET
/businesses/employers` (items[] {id, business_roles[], user}); `GET
/user_account/businesses` lists linked accounts, not businesses.

Pinterest's description declares two ways to refuse. The invite endpoints
(`POST /businesses/{id}/invites`, `PATCH /businesses/invites`) answer 200 with
an `{invite, exception}` per invite, `exception` being `{code, message,
invite_or_request_id, users_or_partner_ids}`. The partner-assets endpoints
have no per-item exception: they refuse with an HTTP error `{code, message}`.
Pinterest publishes no codes for these refusals, so each check reads the
code the sandbox uses and the wording of the message.
"""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _

from .. import http
from ..base import Asset, GrantResult, PlatformError, Problem, Token
from .calls import PinterestAPI
from .terms import (
    ADMIN_ROLE,
    ALREADY_PARTNERS,
    BUSINESS_ACCESS_URL,
    INVITE_ALREADY_PENDING,
    NOT_BUSINESS_ADMIN,
    SECURITY_SETTINGS_URL,
    TWO_FACTOR_HELP,
    TWO_FACTOR_REQUIRED,
)


def two_factor_problem() -> Problem:
    return Problem(
        "two_factor_off",
        _("Two-factor authentication is off on your Pinterest account"),
        _(
            "Pinterest only lets people with two-factor authentication accept "
            "business invitations. Turn it on in Settings → Security (%(settings)s); "
            "team members who manage the business do the same. Then press Retry: "
            "the agency's invitation is sent again.",
            settings=SECURITY_SETTINGS_URL,
        ),
        help_url=TWO_FACTOR_HELP,
    )


def _refusal(code: Any, message: str, *, status: int | None, detail: str) -> PlatformError | None:
    """Two-factor authentication off, or not an admin: in the client's terms."""
    said = message.lower()
    if code == TWO_FACTOR_REQUIRED or "two-factor" in said or "2fa" in said:
        problem = two_factor_problem()
        return PlatformError(
            problem.title, problem.fix, status=status, code="two_factor_off", detail=detail
        )
    if code == NOT_BUSINESS_ADMIN or "admin" in said:
        return PlatformError(
            _("Only an admin of your Pinterest business can share its assets."),
            _(
                "Ask an admin of your business to open this link and finish this step, "
                "or to make you an admin in Business Access (%(access)s → Employees). "
                "Then press Retry.",
                access=BUSINESS_ACCESS_URL,
            ),
            status=status,
            code="not_admin",
            detail=detail,
        )
    return None


def _share_refused(detail: str, status: int | None = None) -> PlatformError:
    return PlatformError(
        _("Pinterest did not share this asset."),
        _(
            "Check that the asset belongs to your business and that you are an "
            "admin of it, then press Retry."
        ),
        status=status,
        code="share_refused",
        detail=detail,
    )


class BusinessAccess(PinterestAPI):
    """Who is who in Business Access, and the grant: the partner request, its
    acceptance, more sharing."""

    def _user(self, token: Token) -> dict[str, Any]:
        return self._call("GET", "/user_account", token)

    def _employers(self, token: Token) -> list[dict[str, Any]]:
        """The businesses this person belongs to, with their roles in each
        (`GET /businesses/employers`: items[] {id, business_roles[], user})."""
        return [b for b in self._paged("/businesses/employers", token) if b.get("id")]

    @staticmethod
    def _is_admin(business: dict[str, Any]) -> bool | None:
        roles = business.get("business_roles")
        return None if roles is None else ADMIN_ROLE in roles

    @staticmethod
    def _business_label(business: dict[str, Any] | None) -> str | None:
        """How to name a business to people: its Pinterest username (the
        description gives a business no display name)."""
        username = ((business or {}).get("user") or {}).get("username")
        return f"@{username}" if username else None

    def _main_business(self, businesses: list[dict[str, Any]]) -> dict[str, Any] | None:
        """The business to act for: the first one this person administers."""
        for business in businesses:
            if self._is_admin(business) is not False:
                return business
        return businesses[0] if businesses else None

    def grant(
        self,
        client_token: Token,
        agency_token: Token | None,
        agency_identity: dict[str, Any],
        asset: Asset,
        permissions: list[str],
    ) -> GrantResult:
        asset_type = self.asset_type(asset.type)
        if asset_type is None or asset_type.manual:
            return GrantResult(
                "failed",
                error=_("Pinterest has no automatic way to do this."),
                fix=_("Follow the steps shown on this page; the agency then checks the result."),
                external={"error_code": "manual_only"},
            )
        unknown = [p for p in permissions if asset_type.permission(p) is None]
        if unknown or not permissions:
            return GrantResult(
                "failed",
                error=_(
                    "The access asked for does not exist on a Pinterest %(type)s.",
                    type=asset_type.name,
                ),
                fix=_("Ask the agency to send a corrected request."),
                external={"error_code": "invalid_permission", "permissions": unknown},
            )
        agency_business = str(agency_identity.get("business_id") or "")
        if agency_token is None or not agency_business:
            return GrantResult(
                "failed",
                error=_("The agency has not connected its Pinterest business to Latchkey yet."),
                fix=_("Let the agency know; once it connects Pinterest, open this link again."),
                external={"error_code": "agency_not_connected"},
            )
        external: dict[str, Any] = {
            "agency_business_id": agency_business,
            "permissions": list(permissions),
        }
        try:
            client_business = self._client_business(client_token)
            external["client_business_id"] = client_business
            if client_business == agency_business:
                return GrantResult(
                    "failed",
                    error=_("You signed in with the agency's own Pinterest business."),
                    fix=_("Sign in to Pinterest with your own business account and try again."),
                    external={**external, "error_code": "same_business"},
                )
            invite_id = self._partner_request(agency_token, agency_business, client_business)
            if invite_id is None:
                external["method"] = "partner_assets"
                self._share_with_partner(
                    client_token, client_business, agency_business, asset.id, permissions
                )
            else:
                external["method"] = "invite"
                external["invite_id"] = invite_id
                self._accept_invite(client_token, invite_id, asset.id, permissions)
        except PlatformError as exc:
            return GrantResult(
                "failed",
                error=exc.message,
                fix=exc.fix,
                retryable=exc.retryable,
                external={
                    **external,
                    "error_code": exc.code,
                    "retry_after": exc.retry_after,
                    "detail": exc.detail,
                },
            )
        return GrantResult("granted", external=external)

    def _client_business(self, client_token: Token) -> str:
        business = self._main_business(self._employers(client_token))
        if business is None or not business.get("id"):
            raise PlatformError(
                _("Your Pinterest account has no business to share from."),
                _(
                    "Convert to a free business account and create your business in "
                    "Business Access (%(access)s), then try again.",
                    access=BUSINESS_ACCESS_URL,
                ),
                code="no_business",
            )
        return str(business["id"])

    def _partner_request(self, agency_token: Token, agency_business: str, client_business: str):
        """Step 1, agency side: the invite id, or None when already partners."""
        body = self._call(
            "POST",
            f"/businesses/{agency_business}/invites",
            agency_token,
            json={
                "invite_type": "PARTNER_REQUEST",
                "business_role": "PARTNER",
                "partners": [client_business],
            },
        )
        items = (body.get("items") if isinstance(body, dict) else None) or [{}]
        item = items[0]
        invite = item.get("invite") or {}
        if invite.get("id"):
            return str(invite["id"])
        exception = item.get("exception") or {}
        code, message = exception.get("code"), str(exception.get("message") or "")
        lowered = message.lower()
        if code == ALREADY_PARTNERS or "already a partner" in lowered:
            return None
        if code == INVITE_ALREADY_PENDING or "already pending" in lowered:
            pending = self._pending_invite(agency_token, agency_business, client_business)
            if pending:
                return pending
        raise PlatformError(
            _("Pinterest did not accept the agency's partner request."),
            _(
                "Try again in a few minutes. If it keeps failing, the agency should check "
                "its Pinterest business in Business Access (%(access)s).",
                access=BUSINESS_ACCESS_URL,
            ),
            code="invite_refused",
            detail=f"invite exception {code}: {message}" if exception else "no invite returned",
        )

    def _pending_invite(self, agency_token: Token, agency_business: str, client_business: str):
        """The agency's pending partner request to this client (a retry reuses it)."""
        for invite in self._paged(
            f"/businesses/{agency_business}/invites",
            agency_token,
            {"is_member": "false", "invite_status": "PENDING", "invite_type": "PARTNER_REQUEST"},
        ):
            receiver = invite.get("user") or {}
            if str(receiver.get("id")) == client_business and not invite.get("is_received_invite"):
                return str(invite["id"])
        return None

    def _accept_invite(
        self, client_token: Token, invite_id: str, asset_id: str, permissions: list[str]
    ) -> None:
        """Step 2, client side: accept with exactly the assets and permissions asked for."""
        try:
            body = self._call(
                "PATCH",
                "/businesses/invites",
                client_token,
                json={
                    "invites": [
                        {
                            "invite_id": invite_id,
                            "action": {
                                "accept_invite": True,
                                "asset_id_to_permissions": {asset_id: list(permissions)},
                            },
                        }
                    ]
                },
            )
        except http.PlatformHTTPError as exc:
            raise self._sharing_refusal(exc) from None
        items = (body.get("items") if isinstance(body, dict) else None) or []
        for item in items:
            exception = item.get("exception")
            if exception:
                code, message = exception.get("code"), str(exception.get("message") or "")
                detail = f"invite exception {code}: {message}"
                raise _refusal(code, message, status=None, detail=detail) or _share_refused(detail)

    def _share_with_partner(
        self,
        client_token: Token,
        client_business: str,
        agency_business: str,
        asset_id: str,
        permissions: list[str],
    ) -> None:
        """Once partners: share one more asset, client side."""
        try:
            self._call(
                "PATCH",
                f"/businesses/{client_business}/partners/assets",
                client_token,
                json={
                    "accesses": [
                        {
                            "partner_id": agency_business,
                            "asset_id": asset_id,
                            "permissions": list(permissions),
                        }
                    ]
                },
            )
        except http.PlatformHTTPError as exc:
            raise self._sharing_refusal(exc) from None

    @staticmethod
    def _sharing_refusal(exc: http.PlatformHTTPError) -> PlatformError:
        """Explain Pinterest's refusals of an accept or share in the client's terms."""
        if exc.status not in (400, 403, 404, 409):
            return exc  # expired sign-in, rate limit, Pinterest down: said by `http`
        detail = exc.detail or ""
        refusal = _refusal(
            exc.platform_code, exc.platform_message or "", status=exc.status, detail=detail
        )
        return refusal or _share_refused(detail, exc.status)
