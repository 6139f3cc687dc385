"""Pinterest API v5 connector.

Grants go business to business. The agency (with its own connected token)
sends a partner request to the client's business; the client (with the token
from signing in through the link) accepts it with the assets and permissions
asked for. Once the two businesses are partners, more assets are shared with
one call from the client's side. Verification and removal use the agency's
token only.

Where Pinterest does not document a detail, the choice is marked
*assumption* below so it can be corrected here, in one place: the sandbox
(`portal.sandbox.pinterest`) emulates the same choices.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from . import credentials, http
from .base import (
    Asset,
    AssetType,
    Connector,
    GrantResult,
    ManualStep,
    OAuthEndpoints,
    Permission,
    PlatformError,
    Problem,
    Token,
    VerifyResult,
)

P = Permission
ADMIN = P("ADMIN", _l("Admin"), _l("Full control of the asset, including its users."))
ANALYST = P("ANALYST", _l("Analyst"), _l("See reports and analytics; change nothing."))
CAMPAIGN_MANAGER = P(
    "CAMPAIGN_MANAGER",
    _l("Campaign manager"),
    _l("Create, edit and optimise campaigns, and see their reports."),
)
AUDIENCE_MANAGER = P(
    "AUDIENCE_MANAGER", _l("Audience manager"), _l("Create and share audiences for targeting.")
)
FINANCE_MANAGER = P(
    "FINANCE_MANAGER", _l("Finance manager"), _l("Manage billing and payment methods.")
)
FINANCE_VIEW = P(
    "FINANCE_VIEW", _l("Finance viewer"), _l("See invoices and spend; billing stays yours.")
)
CATALOGS_MANAGER = P(
    "CATALOGS_MANAGER", _l("Catalogs manager"), _l("Create and fix product feeds and catalogs.")
)
CATALOGS_VIEWER = P(
    "CATALOGS_VIEWER", _l("Catalogs viewer"), _l("See catalogs and feed diagnostics.")
)
PROFILE_PUBLISHER = P(
    "PROFILE_PUBLISHER",
    _l("Profile publisher"),
    _l("Create and edit Pins on the profile's boards."),
)
VERIFY_TAG = P(
    "VERIFY_TAG",
    _l("Tag installed and firing"),
    _l(
        "The Pinterest Tag is on your website and reports visits, so the agency can "
        "measure conversions. The agency only checks it; it changes nothing."
    ),
)

# Links to Pinterest's own pages, shown with fixes and manual steps.
HELP_BUSINESS_ACCOUNT = "https://help.pinterest.com/en/business/article/get-a-business-account"
CONVERT_URL = "https://www.pinterest.com/business/convert/"
BUSINESS_ACCESS_HELP = "https://help.pinterest.com/en/business/article/business-access"
BUSINESS_ACCESS_URL = "https://www.pinterest.com/business/business-access/"
TWO_FACTOR_HELP = "https://help.pinterest.com/en/article/two-factor-authentication"
SECURITY_SETTINGS_URL = "https://www.pinterest.com/settings/security"
ADS_MANAGER_URL = "https://ads.pinterest.com/"
TAG_HELP = "https://help.pinterest.com/en/business/article/install-the-pinterest-tag"
BILLING_HELP = "https://help.pinterest.com/en/business/article/billing-for-ads"

# Business roles that may accept partner requests and share assets.
ADMIN_ROLES = frozenset({"BIZ_ADMIN", "OWNER", "ADMIN"})
# *Assumption*: Pinterest's error codes for business access are not published.
# These are the sandbox's; the wording of the message is the fallback.
ALREADY_PARTNERS = 4172
INVITE_ALREADY_PENDING = 4173
NOT_BUSINESS_ADMIN = 4170
TWO_FACTOR_REQUIRED = 4171
ACCESS_NOT_FOUND = 4179
# How long ago the Tag may have fired and still count as working.
TAG_RECENT_SECONDS = 7 * 24 * 3600
MAX_PAGES = 50


class PinterestConnector(Connector):
    id = "pinterest"
    name = "Pinterest"
    real_urls = {
        "api": "https://api.pinterest.com/v5",
        "authorize": "https://www.pinterest.com/oauth/",
        "token": "https://api.pinterest.com/v5/oauth/token",
    }
    asset_types = (
        AssetType(
            "AD_ACCOUNT",
            _l("Ad account"),
            (ADMIN, CAMPAIGN_MANAGER, ANALYST, AUDIENCE_MANAGER, FINANCE_MANAGER, FINANCE_VIEW),
            _l("Ads Manager: campaigns, reporting and audiences."),
        ),
        AssetType(
            "PROFILE",
            _l("Profile (boards and Pins)"),
            (ADMIN, PROFILE_PUBLISHER, ANALYST),
            _l("Organic boards, Pin publishing and analytics."),
        ),
        AssetType(
            "CATALOG",
            _l("Catalog"),
            (CATALOGS_MANAGER, CATALOGS_VIEWER),
            _l("Product catalogs and feeds for shopping ads."),
        ),
        AssetType(
            "ASSET_GROUP",
            _l("Asset group"),
            (ADMIN, CAMPAIGN_MANAGER, ANALYST),
            _l("A group of assets shared together."),
        ),
        AssetType(
            "TAG",
            _l("Pinterest Tag"),
            (VERIFY_TAG,),
            _l("Conversion tracking on your website, checked on one of your ad accounts."),
            manual=True,
        ),
    )
    # Seconds to wait for Pinterest before giving up on a call.
    timeout: float = http.DEFAULT_TIMEOUT
    # Items asked for per page of a list (Pinterest allows up to 250).
    page_size: int = 100

    def oauth_endpoints(self) -> OAuthEndpoints:
        urls = self.endpoints()
        return OAuthEndpoints(
            authorize_url=urls["authorize"],
            token_url=urls["token"],
            scopes=(
                "user_accounts:read",
                "biz_access:read",
                "biz_access:write",
                "ads:read",
                "boards:read",
                "catalogs:read",
            ),
            scope_separator=",",
        )

    # ------------------------------------------------------------ HTTP

    def _call(self, method: str, path: str, token: Token, **kwargs: Any) -> Any:
        return http.call(
            method,
            self.api_base() + path,
            token=token,
            timeout=self.timeout,
            platform=self.name,
            **kwargs,
        )

    @staticmethod
    def _items(body: Any) -> list[dict[str, Any]]:
        if isinstance(body, list):
            return body
        if isinstance(body, dict):
            return list(body.get("items") or [])
        return []

    def _paged(
        self, path: str, token: Token, params: dict[str, Any] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every item of a list, following `bookmark` from page to page."""
        query = {**(params or {}), "page_size": self.page_size}
        for _page in range(MAX_PAGES):
            body = self._call("GET", path, token, params=query)
            yield from self._items(body)
            bookmark = body.get("bookmark") if isinstance(body, dict) else None
            if not bookmark:
                return
            query["bookmark"] = bookmark

    def refresh_token(self, token: Token) -> Token:
        """A new access token; `continuous_refresh` also renews the refresh token."""
        refresh = token.get("refresh_token")
        if not refresh:
            raise PlatformError(
                _("The Pinterest connection has expired."),
                _("Connect Pinterest again."),
                code="token_expired",
            )
        creds = credentials(self.id)
        body = http.call(
            "POST",
            self.oauth_endpoints().token_url,
            data={
                "grant_type": "refresh_token",
                "refresh_token": refresh,
                "continuous_refresh": "true",
            },
            auth=(creds["client_id"], creds["client_secret"]),
            timeout=self.timeout,
            platform=self.name,
        )
        if not isinstance(body, dict) or not body.get("access_token"):
            raise PlatformError(
                _("Pinterest did not return a new access token."),
                _("Connect Pinterest again."),
                code="no_token",
            )
        new = dict(body)
        new.setdefault("refresh_token", refresh)
        if new.get("expires_in"):
            new["expires_at"] = int(time.time()) + int(new["expires_in"])
        return new

    # ------------------------------------------------------- who is who

    def _user(self, token: Token) -> dict[str, Any]:
        return self._call("GET", "/user_account", token)

    def _businesses(self, token: Token) -> list[dict[str, Any]]:
        # *Assumption*: each business carries its id and name, and the member's
        # `role` (BIZ_ADMIN or EMPLOYEE). Pinterest documents the list, not these fields.
        return [b for b in self._items(self._call("GET", "/user_account/businesses", token)) if b]

    @staticmethod
    def _is_admin(business: dict[str, Any]) -> bool | None:
        role = business.get("role")
        return None if role is None else str(role).upper() in ADMIN_ROLES

    def _main_business(self, businesses: list[dict[str, Any]]) -> dict[str, Any] | None:
        """The business to act for: the first one this person administers."""
        for business in businesses:
            if self._is_admin(business) is not False:
                return business
        return businesses[0] if businesses else None

    def agency_identity(self, agency_token: Token) -> dict[str, Any]:
        user = self._user(agency_token)
        business = self._main_business(self._businesses(agency_token))
        if business is None or not business.get("id"):
            if user.get("account_type") == "PINNER":
                message = _("This Pinterest account is a personal account, not a business.")
            else:
                message = _("This Pinterest account has no business yet.")
            raise PlatformError(
                message,
                _(
                    "Convert it to a free business account (%(convert)s), create your "
                    "business in Business Access (%(access)s), then connect Pinterest again.",
                    convert=CONVERT_URL,
                    access=BUSINESS_ACCESS_URL,
                ),
                code="no_business",
            )
        return {
            "business_id": str(business["id"]),
            "name": business.get("name") or user.get("business_name") or user.get("username"),
            "username": user.get("username"),
        }

    # -------------------------------------------------------- preflight

    def preflight(self, client_token: Token) -> list[Problem]:
        user = self._user(client_token)
        if user.get("account_type") == "PINNER":
            return [
                Problem(
                    "personal_account",
                    _("Your Pinterest account is a personal account"),
                    _(
                        "Only a business account can share access safely. Converting is "
                        "free and keeps your Pins and boards: open %(convert)s, choose "
                        "“Convert account”, then set up Business Access and come back to "
                        "this page.",
                        convert=CONVERT_URL,
                    ),
                    help_url=HELP_BUSINESS_ACCOUNT,
                )
            ]
        businesses = self._businesses(client_token)
        if not businesses:
            return [
                Problem(
                    "no_business",
                    _("Your Pinterest account has no business set up yet"),
                    _(
                        "Sharing goes through Pinterest Business Access. Open %(access)s, "
                        "create your business (it is free), then come back to this page.",
                        access=BUSINESS_ACCESS_URL,
                    ),
                    help_url=BUSINESS_ACCESS_HELP,
                )
            ]
        problems = []
        business = self._main_business(businesses)
        if self._is_admin(business) is False:
            problems.append(
                Problem(
                    "not_admin",
                    _(
                        "You are not an admin of %(business)s on Pinterest",
                        business=business.get("name") or _("this business"),
                    ),
                    _(
                        "Only a business admin can share its assets. Ask an admin of "
                        "%(business)s to open this link, or to make you an admin in Business "
                        "Access (%(access)s → Employees), then sign in again.",
                        business=business.get("name") or _("the business"),
                        access=BUSINESS_ACCESS_URL,
                    ),
                    help_url=BUSINESS_ACCESS_HELP,
                )
            )
        # *Assumption*: a `two_factor_enabled` flag on the user account (the
        # sandbox has it); without the flag, the grant step explains the refusal.
        if user.get("two_factor_enabled") is False:
            problems.append(self._two_factor_problem())
        return problems

    @staticmethod
    def _two_factor_problem() -> Problem:
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

    # ----------------------------------------------------------- assets

    def list_assets(self, client_token: Token, asset_type_ids: list[str]) -> dict[str, list[Asset]]:
        result: dict[str, list[Asset]] = {}
        ad_accounts: list[Asset] | None = None

        def ads() -> list[Asset]:
            nonlocal ad_accounts
            if ad_accounts is None:
                ad_accounts = [
                    Asset(
                        id=str(a["id"]),
                        name=a.get("name") or str(a["id"]),
                        type="AD_ACCOUNT",
                        details={
                            "country": a.get("country"),
                            "currency": a.get("currency"),
                            "owner": (a.get("owner") or {}).get("username"),
                        },
                    )
                    for a in self._paged(
                        "/ad_accounts", client_token, {"include_shared_accounts": "false"}
                    )
                ]
            return ad_accounts

        for type_id in asset_type_ids:
            if type_id == "AD_ACCOUNT":
                result[type_id] = ads()
            elif type_id == "PROFILE":
                result[type_id] = [self._profile(client_token)]
            elif type_id == "CATALOG":
                result[type_id] = [
                    Asset(
                        id=str(c["id"]),
                        name=c.get("name") or _("Catalog %(id)s", id=c["id"]),
                        type="CATALOG",
                        details={"catalog_type": c.get("catalog_type")},
                    )
                    for c in self._paged("/catalogs", client_token)
                ]
            elif type_id == "ASSET_GROUP":
                result[type_id] = self._asset_groups(client_token)
            elif type_id == "TAG":
                result[type_id] = [self._tag_asset(client_token, account) for account in ads()]
            else:
                result[type_id] = []
        return result

    def _profile(self, token: Token) -> Asset:
        user = self._user(token)
        boards = sum(1 for _board in self._paged("/boards", token))
        username = user.get("username") or ""
        return Asset(
            id=str(user.get("id") or username),
            name=user.get("business_name") or f"@{username}",
            type="PROFILE",
            details={
                "username": username,
                "boards": boards,
                "account_type": user.get("account_type"),
            },
        )

    def _asset_groups(self, token: Token) -> list[Asset]:
        business = self._main_business(self._businesses(token))
        if business is None:
            return []
        groups = []
        for item in self._paged(
            f"/businesses/{business['id']}/assets", token, {"asset_type": "ASSET_GROUP"}
        ):
            info = item.get("asset_group_info") or {}
            groups.append(
                Asset(
                    id=str(item["asset_id"]),
                    name=info.get("asset_group_name") or str(item["asset_id"]),
                    type="ASSET_GROUP",
                    details={
                        "description": info.get("asset_group_description"),
                        "types": info.get("asset_group_types") or [],
                    },
                )
            )
        return groups

    def _tag_asset(self, token: Token, account: Asset) -> Asset:
        tags = self._items(self._call("GET", f"/ad_accounts/{account.id}/conversion_tags", token))
        return Asset(
            id=account.id,
            name=_("Pinterest Tag on %(account)s", account=account.name),
            type="TAG",
            details={
                "ad_account_id": account.id,
                "installed": bool(tags),
                "tags": [
                    {
                        "id": str(t.get("id")),
                        "name": t.get("name"),
                        "last_fired_time_ms": t.get("last_fired_time_ms"),
                    }
                    for t in tags
                ],
            },
        )

    # ------------------------------------------------------------ grant

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
        business = self._main_business(self._businesses(client_token))
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
        items = self._items(body)
        item = items[0] if items else {}
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
        self._raise_item_exception(body)

    def _share_with_partner(
        self,
        client_token: Token,
        client_business: str,
        agency_business: str,
        asset_id: str,
        permissions: list[str],
    ) -> None:
        try:
            body = self._call(
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
        self._raise_item_exception(body)

    def _sharing_refusal(self, exc: http.PlatformHTTPError) -> PlatformError:
        """Explain Pinterest's refusals of an accept or share in the client's terms."""
        said = (exc.platform_message or "").lower()
        if exc.status == 403 and (
            exc.platform_code == TWO_FACTOR_REQUIRED or "two-factor" in said or "2fa" in said
        ):
            problem = self._two_factor_problem()
            return PlatformError(
                problem.title, problem.fix, status=403, code="two_factor_off", detail=exc.detail
            )
        if exc.status == 403 and (exc.platform_code == NOT_BUSINESS_ADMIN or "admin" in said):
            return PlatformError(
                _("Only an admin of your Pinterest business can share its assets."),
                _(
                    "Ask an admin of your business to open this link and finish this step, "
                    "or to make you an admin in Business Access (%(access)s → Employees). "
                    "Then press Retry.",
                    access=BUSINESS_ACCESS_URL,
                ),
                status=403,
                code="not_admin",
                detail=exc.detail,
            )
        return exc

    @staticmethod
    def _raise_item_exception(body: Any) -> None:
        items = body.get("items") if isinstance(body, dict) else None
        for item in items or []:
            exception = item.get("exception") if isinstance(item, dict) else None
            if exception:
                raise PlatformError(
                    _("Pinterest did not share this asset."),
                    _(
                        "Check that the asset belongs to your business and that you are an "
                        "admin of it, then press Retry."
                    ),
                    code="share_refused",
                    detail=f"exception {exception.get('code')}: {exception.get('message')}",
                )

    # ----------------------------------------------------------- verify

    def verify(
        self,
        agency_token: Token,
        agency_identity: dict[str, Any],
        asset_type: str,
        asset_id: str,
        permissions: list[str],
        external: dict[str, Any],
    ) -> VerifyResult:
        if asset_type == "TAG":
            return self._verify_tag(agency_token, asset_id)
        agency_business = str(agency_identity.get("business_id") or "")
        client_business = str((external or {}).get("client_business_id") or "")
        if not agency_business or not client_business:
            return VerifyResult(
                "missing",
                message=_("Latchkey does not know which Pinterest business shared this asset."),
            )
        try:
            shared = {
                str(item.get("asset_id")): item
                for item in self._paged(
                    f"/businesses/{agency_business}/partners/{client_business}/assets",
                    agency_token,
                    {"partner_type": "EXTERNAL", "asset_type": asset_type},
                )
            }
        except http.PlatformHTTPError as exc:
            if exc.status == 404:
                return VerifyResult(
                    "missing",
                    message=_("The client's business is not a partner of the agency on Pinterest."),
                )
            raise
        item = shared.get(str(asset_id))
        if item is None:
            return VerifyResult(
                "missing", message=_("The agency does not see this asset on Pinterest.")
            )
        have = tuple(sorted(str(p) for p in item.get("permissions") or []))
        lacking = [p for p in permissions if p not in have]
        if not lacking or "ADMIN" in have:
            return VerifyResult("verified", permissions=have)
        labels = ", ".join(self._label(asset_type, p) for p in lacking)
        return VerifyResult(
            "insufficient",
            permissions=have,
            message=_("The agency sees this asset but is missing: %(missing)s.", missing=labels),
        )

    def _label(self, asset_type: str, permission_id: str) -> str:
        found = self.asset_type(asset_type)
        permission = found.permission(permission_id) if found else None
        return str(permission.label) if permission else permission_id

    def _verify_tag(self, agency_token: Token, ad_account_id: str) -> VerifyResult:
        try:
            tags = self._items(
                self._call("GET", f"/ad_accounts/{ad_account_id}/conversion_tags", agency_token)
            )
        except http.PlatformHTTPError as exc:
            if exc.status not in (403, 404):
                raise
            # The tag is checked through the ad account, which must be shared too.
            return VerifyResult(
                "missing",
                message=_(
                    "The agency cannot see this ad account, so it cannot check its Pinterest "
                    "Tag. Share the ad account with the agency too."
                ),
            )
        if not tags:
            return VerifyResult(
                "missing", message=_("There is no Pinterest Tag on this ad account yet.")
            )
        for tag in tags:
            visits = self._items(
                self._call(
                    "GET",
                    f"/ad_accounts/{ad_account_id}/conversion_tags/{tag['id']}/page_visit",
                    agency_token,
                )
            )
            fired = [v.get("event_time_ms") for v in visits if v.get("event_time_ms")]
            fired.append(tag.get("last_fired_time_ms"))
            recent = [t for t in fired if t and time.time() - t / 1000 <= TAG_RECENT_SECONDS]
            if visits or recent:
                return VerifyResult("verified", permissions=("VERIFY_TAG",))
        return VerifyResult(
            "pending",
            message=_(
                "The Pinterest Tag is installed but has not reported a visit in the last 7 days."
            ),
        )

    # ----------------------------------------------------------- revoke

    def revoke(
        self,
        agency_token: Token,
        agency_identity: dict[str, Any],
        asset_type: str,
        asset_id: str,
        external: dict[str, Any],
    ) -> bool:
        """End the agency's own access to the client's asset (EXTERNAL partner access)."""
        if asset_type == "TAG":
            raise PlatformError(
                _("The Pinterest Tag gives the agency no access to remove."),
                _("Remove the tag from your website yourself if you no longer want it."),
                code="revoke_unsupported",
            )
        agency_business = str(agency_identity.get("business_id") or "")
        client_business = str((external or {}).get("client_business_id") or "")
        if not agency_business or not client_business:
            raise PlatformError(
                _("Latchkey does not know which Pinterest business shared this asset."),
                _(
                    "Remove the agency in Pinterest Business Access (%(access)s → Partners).",
                    access=BUSINESS_ACCESS_URL,
                ),
                code="revoke_unsupported",
            )
        body = self._call(
            "DELETE",
            f"/businesses/{agency_business}/partners/assets",
            agency_token,
            json={
                "accesses": [
                    {
                        "partner_id": client_business,
                        "asset_id": str(asset_id),
                        "partner_type": "EXTERNAL",
                    }
                ]
            },
        )
        for item in self._items(body):
            exception = item.get("exception")
            if not exception:
                continue
            message = str(exception.get("message") or "")
            # Already gone: removal is done either way.
            if exception.get("code") == ACCESS_NOT_FOUND or "no access" in message.lower():
                continue
            raise PlatformError(
                _("Pinterest did not remove the agency's access."),
                _(
                    "Remove the agency in Pinterest Business Access (%(access)s → Partners).",
                    access=BUSINESS_ACCESS_URL,
                ),
                code="revoke_refused",
                detail=f"exception {exception.get('code')}: {message}",
            )
        return True

    # ----------------------------------------------------- manual steps

    def manual_steps(
        self,
        asset_type_id: str,
        permissions: list[str],
        agency_identity: dict[str, Any] | None = None,
    ) -> list[ManualStep]:
        if asset_type_id == "TAG":
            return [
                ManualStep(
                    _l("Install the Pinterest Tag on your website"),
                    (
                        _l(
                            "Open Pinterest Ads Manager, choose the ad account the agency "
                            "asked about, then Conversions → Pinterest Tag."
                        ),
                        _l(
                            "If there is no tag yet, create one and add its code to every "
                            "page of your website (or install it through your shop platform's "
                            "Pinterest app)."
                        ),
                        _l(
                            "Open your website in a private browser window and visit two or "
                            "three pages, so the tag reports a visit."
                        ),
                        _l(
                            "Check that your cookie banner lets the tag run once a visitor "
                            "agrees, and that event names (page visit, add to cart, checkout) "
                            "match what the agency asked for."
                        ),
                        _l(
                            "Come back here: the agency checks that the tag reports visits. "
                            "It can take up to an hour to show."
                        ),
                    ),
                    link=ADS_MANAGER_URL,
                ),
            ]
        if asset_type_id == "AD_ACCOUNT" and (
            "FINANCE_VIEW" in permissions or "FINANCE_MANAGER" in permissions
        ):
            steps = [
                _l(
                    "Billing stays yours: keep your own payment method on the ad account "
                    "(Ads Manager → Billing). If there is none yet, add it yourself; the "
                    "agency never needs your card details."
                ),
                _l(
                    "The agency asked for Finance viewer: it can see invoices and spend, "
                    "but cannot change payment methods or billing settings."
                ),
            ]
            if "FINANCE_MANAGER" in permissions:
                steps.append(
                    _l(
                        "The agency also asked to manage billing (Finance manager). If you "
                        "prefer to keep billing to yourself, untick it: Finance viewer is "
                        "enough for reporting."
                    )
                )
            steps.append(
                _l(
                    "You can check or remove the agency's access at any time in Business "
                    "Access → Partners."
                )
            )
            return [
                ManualStep(
                    _l("Keep billing in your name"),
                    tuple(steps),
                    link=ADS_MANAGER_URL,
                    verifiable=True,
                )
            ]
        return []
