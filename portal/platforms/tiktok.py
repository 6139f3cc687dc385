"""TikTok API for Business (v1.3) connector: Business Center partner sharing.

Grants go Business Center to Business Center. The client signs in with TikTok
for Business; their Business Center adds the agency's Business Center as a
partner and shares the chosen ad accounts (advertisers) or catalogs with it,
with the asset role asked for (`POST /bc/partner/add/`). TikTok shows the
shared assets to the partner at once: no acceptance step. Verification and
removal use the agency's own token, from the agency's Business Center
(`/bc/partner/asset/get/`, `/bc/partner/asset/delete/`).

TikTok differs from plain OAuth 2.0 and REST in three ways handled here: the
token is sent in an `Access-Token` header; the sign-in's code is exchanged
with a JSON body `{app_id, secret, auth_code}` (`exchange_code`); and every
answer is HTTP 200 with a return `code` in the body (0 is success), which
`_call` turns into the same plain-language errors as an HTTP failure.

Where TikTok does not document a detail, the choice is marked *assumption*
so it can be corrected here, in one place; the sandbox
(`portal.sandbox.tiktok`) emulates the same choices.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from flask import g, has_request_context
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from . import credentials, http
from .base import (
    Asset,
    AssetType,
    Connector,
    GrantResult,
    OAuthEndpoints,
    Permission,
    PlatformError,
    Problem,
    Token,
    VerifyResult,
)

P = Permission
ADVERTISER_ADMIN = P(
    "ADMIN",
    _l("Admin"),
    _l("Full control of the ad account: campaigns, reports, finance and account settings."),
)
OPERATOR = P(
    "OPERATOR",
    _l("Operator"),
    _l("Create and edit campaigns and audiences, and see reports; no finance or settings."),
)
ANALYST = P("ANALYST", _l("Analyst"), _l("See ads, performance and reports; change nothing."))
CATALOG_ADMIN = P("ADMIN", _l("Catalog admin"), _l("Manage the catalog: products, feeds and sets."))
AD_PROMOTE = P(
    "AD_PROMOTE",
    _l("Catalog advertiser"),
    _l("Use the catalog's products in ads; change nothing in the catalog."),
)

# Roles by asset type, weakest first: a stronger role covers the weaker ones.
ROLE_ORDER: dict[str, tuple[str, ...]] = {
    "ADVERTISER": ("ANALYST", "OPERATOR", "ADMIN"),
    "CATALOG": ("AD_PROMOTE", "ADMIN"),
}
ROLE_FIELD = {"ADVERTISER": "advertiser_role", "CATALOG": "catalog_role"}

# TikTok's return codes (the `code` of every answer).
OK = 0
NO_PERMISSION = 40001
INVALID_PARAMETERS = 40002
RATE_LIMITED = 40100
INVALID_APP = 40101
TOKEN_CODES = frozenset({40102, 40103, 40104, 40105, 40106, 40107})
INVALID_AUTH_CODE = 40110

# Links to TikTok's own pages, shown with fixes.
BUSINESS_CENTER_URL = "https://business.tiktok.com/"
HELP_PARTNERS = "https://ads.tiktok.com/help/article?aid=13989"
HELP_MEMBERS = "https://ads.tiktok.com/help/article/add-users-tiktok-business-center"
HELP_BUSINESS_CENTER = "https://ads.tiktok.com/help/article/business-center-faqs"

BC_ADMIN = "ADMIN"
MAX_PAGES = 50


class TikTokConnector(Connector):
    id = "tiktok"
    name = "TikTok"
    real_urls = {
        "api": "https://business-api.tiktok.com/open_api/v1.3",
        "authorize": "https://business-api.tiktok.com/portal/auth",
        "token": "https://business-api.tiktok.com/open_api/v1.3/oauth2/access_token/",
    }
    asset_types = (
        AssetType(
            "ADVERTISER",
            _l("Ad account"),
            (ADVERTISER_ADMIN, OPERATOR, ANALYST),
            _l("TikTok Ads Manager: campaigns, audiences and reporting."),
        ),
        AssetType(
            "CATALOG",
            _l("Catalog"),
            (CATALOG_ADMIN, AD_PROMOTE),
            _l("Product catalogs for shopping and catalog ads."),
        ),
    )
    # Seconds to wait for TikTok before giving up on a call.
    timeout: float = http.DEFAULT_TIMEOUT
    # Items asked for per page of a list (TikTok allows up to 50).
    page_size: int = 50

    def oauth_endpoints(self) -> OAuthEndpoints:
        urls = self.endpoints()
        try:
            # TikTok names the client id `app_id` on its authorization page.
            extra = {"app_id": credentials(self.id)["client_id"]}
        except PlatformError:
            extra = {}
        return OAuthEndpoints(
            authorize_url=urls["authorize"],
            token_url=urls["token"],
            # *Assumption*: TikTok sets an app's permissions when the app is
            # created and ignores a scope in the URL; these name the permission
            # groups Latchkey needs (the sandbox checks them per endpoint).
            scopes=("business_center.read", "business_center.asset", "business_center.partner"),
            scope_separator=",",
            extra_authorize_params=extra,
        )

    # ------------------------------------------------------------ HTTP

    def _call(
        self,
        method: str,
        url: str,
        token: Token | None,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
    ) -> dict[str, Any]:
        """Call TikTok and return `data`; a non-zero return code raises PlatformError."""
        headers = {}
        if token is not None:
            headers["Access-Token"] = str(token.get("access_token") or "")
        body = http.call(
            method,
            url,
            token=None,
            params=params,
            json=json,
            timeout=self.timeout,
            platform=self.name,
            headers=headers,
        )
        if not isinstance(body, dict) or "code" not in body:
            raise PlatformError(
                _("%(platform)s answered in an unexpected way.", platform=self.name),
                _("Try again later. If it keeps happening, contact Latchkey support."),
                code="bad_response",
                retryable=True,
                detail=f"no return code in the answer: {method} {url.split('?')[0]}",
            )
        if body["code"] != OK:
            raise self._error(body, method, url)
        data = body.get("data")
        return data if isinstance(data, dict) else {}

    def _api(self, method: str, path: str, token: Token | None, **kwargs: Any) -> dict[str, Any]:
        return self._call(method, self.api_base() + path, token, **kwargs)

    def _error(self, body: dict[str, Any], method: str, url: str) -> http.PlatformHTTPError:
        """TikTok's return code, in the same words as an HTTP failure."""
        code, said = body.get("code"), str(body.get("message") or "")[:500]
        detail = f"TikTok code {code} on {method} {urlsplit(url).path}: {said}"
        common = {
            "platform_code": code,
            "platform_message": said,
            "body": body,
            "detail": detail,
        }
        platform = self.name
        if code in TOKEN_CODES:
            return http.PlatformHTTPError(
                _("Your %(platform)s sign-in has expired or was withdrawn.", platform=platform),
                _(
                    "Sign in to %(platform)s again, then try once more. Nothing you "
                    "already granted is lost.",
                    platform=platform,
                ),
                status=401,
                code="token_expired",
                **common,
            )
        if code == NO_PERMISSION:
            return http.PlatformHTTPError(
                _(
                    "%(platform)s refused: this account does not have the permission needed.",
                    platform=platform,
                ),
                _(
                    "Sign in to %(platform)s with an account that manages these assets "
                    "(an admin of the business), and accept every permission asked for.",
                    platform=platform,
                ),
                status=403,
                code="forbidden",
                **common,
            )
        if code == RATE_LIMITED:
            return http.PlatformHTTPError(
                _("%(platform)s is receiving too many requests right now.", platform=platform),
                _("Wait a minute, then try again."),
                status=429,
                code="rate_limited",
                retryable=True,
                **common,
            )
        if isinstance(code, int) and code >= 50000:
            return http.PlatformHTTPError(
                _("%(platform)s had a problem on its side.", platform=platform),
                _("Nothing you did caused this. Try again in a minute."),
                status=500,
                code="platform_unavailable",
                retryable=True,
                **common,
            )
        return http.PlatformHTTPError(
            _("%(platform)s did not accept the request.", platform=platform),
            _(
                "Try again. If it keeps failing, contact Latchkey support and quote "
                "the technical detail."
            ),
            status=400,
            code="rejected",
            **common,
        )

    def _paged(self, path: str, token: Token, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Every item of a list, page after page."""
        for page in range(1, MAX_PAGES + 1):
            data = self._api(
                "GET", path, token, params={**params, "page": page, "page_size": self.page_size}
            )
            yield from (item for item in data.get("list") or [] if isinstance(item, dict))
            total = (data.get("page_info") or {}).get("total_page") or 1
            if page >= int(total):
                return

    # ----------------------------------------------------------- sign-in

    def exchange_code(self, code: str, code_verifier: str, redirect_uri: str) -> Token:
        """Trade the sign-in's auth code for a long-term token (TikTok's own shape:
        a JSON body, no PKCE, no redirect_uri, the token under `data`)."""
        creds = credentials(self.id)
        try:
            data = self._call(
                "POST",
                self.oauth_endpoints().token_url,
                None,
                json={
                    "app_id": creds["client_id"],
                    "secret": creds["client_secret"],
                    "auth_code": code,
                },
            )
        except http.PlatformHTTPError as exc:
            if exc.platform_code == INVALID_APP:
                raise PlatformError(
                    _("TikTok did not accept this Latchkey server's app credentials."),
                    _(
                        "An administrator must check TIKTOK_CLIENT_ID and TIKTOK_CLIENT_SECRET "
                        "(the app id and secret from TikTok API for Business)."
                    ),
                    code="not_configured",
                    detail=exc.detail,
                ) from None
            if exc.platform_code == INVALID_AUTH_CODE:
                raise PlatformError(
                    _(
                        "%(platform)s did not accept the sign-in: it expired or was already used.",
                        platform=self.name,
                    ),
                    _("Start again and sign in to %(platform)s once more.", platform=self.name),
                    code="invalid_grant",
                    detail=exc.detail,
                ) from None
            raise
        if not data.get("access_token"):
            raise PlatformError(
                _("%(platform)s did not return an access token.", platform=self.name),
                _("Start again and sign in to %(platform)s once more.", platform=self.name),
                code="no_token",
            )
        scope = data.get("scope") or []
        return {
            "access_token": data["access_token"],
            "token_type": "bearer",
            "scope": ",".join(map(str, scope)) if isinstance(scope, list) else str(scope),
            "advertiser_ids": [str(a) for a in data.get("advertiser_ids") or []],
        }

    def refresh_token(self, token: Token) -> Token:
        """TikTok's long-term tokens do not expire; one that stops working is reconnected."""
        raise PlatformError(
            _("The TikTok connection no longer works."),
            _("Connect TikTok again."),
            code="no_refresh_token",
        )

    # ------------------------------------------------------- who is who

    def _business_centers(self, token: Token) -> list[dict[str, Any]]:
        """{"bc_id", "name", "type", "user_role"} for each Business Center of this login."""
        centers = []
        for item in self._paged("/bc/get/", token, {}):
            info = item.get("bc_info") or {}
            if not info.get("bc_id"):
                continue
            centers.append(
                {
                    "bc_id": str(info["bc_id"]),
                    "name": info.get("name") or str(info["bc_id"]),
                    "type": info.get("type"),
                    "user_role": str(item.get("user_role") or "").upper(),
                }
            )
        return centers

    @staticmethod
    def _main_center(centers: list[dict[str, Any]], prefer_agency: bool = False):
        """The Business Center to act for: one this login administers (an agency's
        own, when that is what is asked), else the first one."""
        admin = [c for c in centers if c["user_role"] == BC_ADMIN]
        if prefer_agency:
            agency = [c for c in admin if str(c.get("type") or "").upper() == "AGENCY"]
            if agency:
                return agency[0]
        if admin:
            return admin[0]
        return centers[0] if centers else None

    @staticmethod
    def _configured_business_center() -> str | None:
        """The Business Center id the agency typed in Connections → receiving identities
        (read while the agency connects TikTok, when its settings are at hand)."""
        if not has_request_context():
            return None
        identities = getattr(g.get("agency"), "identities", None) or {}
        value = (identities.get("tiktok") or {}).get("business_id")
        return str(value) if value else None

    def agency_identity(self, agency_token: Token) -> dict[str, Any]:
        centers = self._business_centers(agency_token)
        wanted = self._configured_business_center()
        if wanted:
            center = next((c for c in centers if c["bc_id"] == wanted), None)
            if center is None:
                raise PlatformError(
                    _(
                        "This TikTok for Business account is not a member of the Business "
                        "Center %(id)s set in your receiving identities.",
                        id=wanted,
                    ),
                    _(
                        "Sign in with an admin of that Business Center, or correct the TikTok "
                        "Business Center id under Receiving identities."
                    ),
                    code="wrong_business",
                )
        else:
            # Agency staff often belong to their clients' Business Centers too:
            # prefer the agency's own (type AGENCY), else the first one administered.
            center = self._main_center(centers, prefer_agency=True)
        if center is None:
            raise PlatformError(
                _("This TikTok for Business account has no Business Center."),
                _(
                    "Create your agency's Business Center for free at %(url)s, then connect "
                    "TikTok again.",
                    url=BUSINESS_CENTER_URL,
                ),
                code="no_business",
            )
        return {
            "business_id": center["bc_id"],
            "name": center["name"],
            "user_role": center["user_role"],
        }

    # -------------------------------------------------------- preflight

    def preflight(self, client_token: Token) -> list[Problem]:
        centers = self._business_centers(client_token)
        if not centers:
            return [
                Problem(
                    "no_business_center",
                    _("Your TikTok for Business account has no Business Center"),
                    _(
                        "Sharing with an agency goes through a TikTok Business Center. Create "
                        "one for free at %(url)s, add your ad account to it (Assets → Ad "
                        "accounts → Add), then come back to this page.",
                        url=BUSINESS_CENTER_URL,
                    ),
                    help_url=HELP_BUSINESS_CENTER,
                )
            ]
        center = self._main_center(centers)
        if center["user_role"] != BC_ADMIN:
            return [
                Problem(
                    "not_admin",
                    _("You are not an admin of %(business)s on TikTok", business=center["name"]),
                    _(
                        "Only a Business Center admin can add partners and share ad accounts. "
                        "Ask an admin of %(business)s to open this link, or to make you an "
                        "admin (Users → Members), then sign in again.",
                        business=center["name"],
                    ),
                    help_url=HELP_MEMBERS,
                )
            ]
        return []

    # ----------------------------------------------------------- assets

    def list_assets(self, client_token: Token, asset_type_ids: list[str]) -> dict[str, list[Asset]]:
        """The assets of every Business Center this login administers (only an admin
        can share them), each noting which Business Center it belongs to."""
        result: dict[str, list[Asset]] = {t: [] for t in asset_type_ids}
        wanted = [t for t in asset_type_ids if t in ROLE_ORDER]
        if not wanted:
            return result
        centers = [c for c in self._business_centers(client_token) if c["user_role"] == BC_ADMIN]
        for center in centers:
            for type_id in wanted:
                result[type_id] += [
                    Asset(
                        id=str(item["asset_id"]),
                        name=item.get("asset_name") or str(item["asset_id"]),
                        type=type_id,
                        details={
                            "business_center": center["name"],
                            "business_center_id": center["bc_id"],
                            "status": item.get("advertiser_status"),
                        },
                    )
                    for item in self._paged(
                        "/bc/asset/get/",
                        client_token,
                        {"bc_id": center["bc_id"], "asset_type": type_id},
                    )
                    if item.get("asset_id")
                ]
        return result

    # ------------------------------------------------------------ grant

    @staticmethod
    def _strongest(asset_type: str, roles: list[str] | tuple[str, ...]) -> str:
        order = ROLE_ORDER[asset_type]
        known = [r for r in roles if r in order]
        return max(known, key=order.index) if known else order[0]

    def grant(
        self,
        client_token: Token,
        agency_token: Token | None,
        agency_identity: dict[str, Any],
        asset: Asset,
        permissions: list[str],
    ) -> GrantResult:
        asset_type = self.asset_type(asset.type)
        unknown = [p for p in permissions if asset_type and asset_type.permission(p) is None]
        if asset_type is None or unknown or not permissions:
            return GrantResult(
                "failed",
                error=_("The access asked for does not exist on TikTok."),
                fix=_("Ask the agency to send a corrected request."),
                external={"error_code": "invalid_permission", "permissions": unknown},
            )
        agency_bc = str(agency_identity.get("business_id") or "")
        if not agency_bc:
            return GrantResult(
                "failed",
                error=_("The agency has not connected its TikTok Business Center to Latchkey yet."),
                fix=_("Let the agency know; once it connects TikTok, open this link again."),
                external={"error_code": "agency_not_connected"},
            )
        role = self._strongest(asset.type, permissions)
        external: dict[str, Any] = {
            "agency_business_id": agency_bc,
            "role": role,
            "permissions": list(permissions),
        }
        try:
            centers = self._business_centers(client_token)
            owner = str(asset.details.get("business_center_id") or "")
            center = next((c for c in centers if c["bc_id"] == owner), None)
            center = center or self._main_center(centers)
            if center is None:
                raise PlatformError(
                    _("Your TikTok for Business account has no Business Center to share from."),
                    _(
                        "Create one for free at %(url)s, add your ad account to it, then try "
                        "again.",
                        url=BUSINESS_CENTER_URL,
                    ),
                    code="no_business",
                )
            external["client_business_id"] = center["bc_id"]
            if center["bc_id"] == agency_bc:
                return GrantResult(
                    "failed",
                    error=_("You signed in with the agency's own TikTok Business Center."),
                    fix=_("Sign in to TikTok with your own business's account and try again."),
                    external={**external, "error_code": "same_business"},
                )
            try:
                self._api(
                    "POST",
                    "/bc/partner/add/",
                    client_token,
                    json={
                        "bc_id": center["bc_id"],
                        "partner_id": agency_bc,
                        "asset_type": asset.type,
                        "asset_ids": [asset.id],
                        ROLE_FIELD[asset.type]: role,
                    },
                )
            except http.PlatformHTTPError as exc:
                raise self._sharing_refusal(exc, center["name"]) from None
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

    def _sharing_refusal(self, exc: http.PlatformHTTPError, business: str) -> PlatformError:
        """Explain TikTok's refusals of a partner share in the client's terms."""
        said = (exc.platform_message or "").lower()
        if exc.code == "forbidden" and ("2-step" in said or "two-step" in said):
            return PlatformError(
                _("Your Business Center asks for 2-step verification first"),
                _(
                    "%(business)s's security settings only let people with 2-step "
                    "verification share assets. Turn it on in your TikTok for Business "
                    "account settings (Security), then press Retry.",
                    business=business,
                ),
                status=403,
                code="two_factor_off",
                detail=exc.detail,
            )
        if exc.code == "forbidden" and "admin" in said:
            return PlatformError(
                _("Only an admin of your TikTok Business Center can share its assets."),
                _(
                    "Ask an admin of %(business)s to open this link and finish this step, or "
                    "to make you an admin (Users → Members). Then press Retry.",
                    business=business,
                ),
                status=403,
                code="not_admin",
                detail=exc.detail,
            )
        if exc.platform_code == INVALID_PARAMETERS and "does not exist" in said:
            return PlatformError(
                _("TikTok could not find the agency's Business Center."),
                _("Let the agency know: it should connect TikTok again in Latchkey."),
                status=400,
                code="agency_business_missing",
                detail=exc.detail,
            )
        return exc

    # ----------------------------------------------------------- verify

    def _shared_with_agency(
        self, agency_token: Token, agency_bc: str, client_bc: str, asset_type: str
    ) -> dict[str, dict[str, Any]]:
        """What the client's Business Center shares with the agency's, by asset id."""
        return {
            str(item.get("asset_id")): item
            for item in self._paged(
                "/bc/partner/asset/get/",
                agency_token,
                {
                    "bc_id": agency_bc,
                    "partner_id": client_bc,
                    "asset_type": asset_type,
                    "share_type": "SHARED",
                },
            )
        }

    def verify(
        self,
        agency_token: Token,
        agency_identity: dict[str, Any],
        asset_type: str,
        asset_id: str,
        permissions: list[str],
        external: dict[str, Any],
    ) -> VerifyResult:
        agency_bc = str(agency_identity.get("business_id") or "")
        client_bc = str((external or {}).get("client_business_id") or "")
        if asset_type not in ROLE_ORDER or not agency_bc or not client_bc:
            return VerifyResult(
                "missing",
                message=_("Latchkey does not know which TikTok Business Center shared this asset."),
            )
        item = self._shared_with_agency(agency_token, agency_bc, client_bc, asset_type).get(
            str(asset_id)
        )
        if item is None:
            return VerifyResult(
                "missing",
                message=_("The agency does not see this asset in its TikTok Business Center."),
            )
        have = str(item.get(ROLE_FIELD[asset_type]) or "")
        order = ROLE_ORDER[asset_type]
        needed = self._strongest(asset_type, permissions)
        if have in order and order.index(have) >= order.index(needed):
            return VerifyResult("verified", permissions=(have,))
        return VerifyResult(
            "insufficient",
            permissions=(have,) if have else (),
            message=(
                _(
                    "The agency sees this asset on TikTok as %(have)s, but asked for %(needed)s.",
                    have=self._label(asset_type, have),
                    needed=self._label(asset_type, needed),
                )
                if have
                else _(
                    "The agency has no role on this asset on TikTok yet; it asked for %(needed)s.",
                    needed=self._label(asset_type, needed),
                )
            ),
        )

    def _label(self, asset_type: str, permission_id: str) -> str:
        found = self.asset_type(asset_type)
        permission = found.permission(permission_id) if found else None
        return str(permission.label) if permission else permission_id

    # ----------------------------------------------------------- revoke

    def revoke(
        self,
        agency_token: Token,
        agency_identity: dict[str, Any],
        asset_type: str,
        asset_id: str,
        external: dict[str, Any],
    ) -> bool:
        """End the agency's access to the client's asset, from the agency's Business Center."""
        agency_bc = str(agency_identity.get("business_id") or "")
        client_bc = str((external or {}).get("client_business_id") or "")
        manual_fix = _(
            "Remove the agency in TikTok Business Center: Users → Partners, choose the "
            "agency, then remove the asset (%(help)s).",
            help=HELP_PARTNERS,
        )
        if asset_type not in ROLE_ORDER or not agency_bc or not client_bc:
            raise PlatformError(
                _("Latchkey does not know which TikTok Business Center shared this asset."),
                manual_fix,
                code="revoke_unsupported",
            )
        shared = self._shared_with_agency(agency_token, agency_bc, client_bc, asset_type)
        if str(asset_id) not in shared:
            return True  # already gone: removal is done either way
        try:
            # *Assumption*: the partner side may give back a shared asset with the
            # same call the owner uses to stop sharing it.
            self._api(
                "POST",
                "/bc/partner/asset/delete/",
                agency_token,
                json={
                    "bc_id": agency_bc,
                    "partner_id": client_bc,
                    "asset_type": asset_type,
                    "asset_ids": [str(asset_id)],
                },
            )
        except http.PlatformHTTPError as exc:
            if exc.retryable:
                raise
            raise PlatformError(
                _("TikTok did not remove the agency's access."),
                manual_fix,
                status=exc.status,
                code="revoke_refused",
                detail=exc.detail,
            ) from None
        return True
