"""TikTok API for Business (v1.3) connector: Business Center partner sharing.

Grants go Business Center to Business Center. The client signs in with TikTok
for Business; their Business Center adds the agency's Business Center as a
partner and shares the chosen ad accounts (advertisers) with it, with the
role asked for (`POST /bc/partner/add/`). TikTok shows the shared assets to
the partner at once: no acceptance step. Verification and removal use the
agency's own token, from the agency's Business Center
(`/bc/partner/asset/get/`, `/bc/partner/asset/delete/`).

Catalogs are a manual step: TikTok's description of `/bc/partner/add/`
marks `asset_type=CATALOG` not valid, and no other endpoint shares a catalog
with a partner, so the client shares it in Business Center and the agency
side checks it (`catalog.py`).

TikTok differs from plain OAuth 2.0 and REST in four ways handled here: the
app's permissions are chosen when the app is created, so the sign-in asks for
no scope; the token is sent in an `Access-Token` header; the sign-in's code
is exchanged with a JSON body `{app_id, secret, auth_code}` (`exchange_code`);
and every answer is HTTP 200 with a return `code` in the body (0 is success),
which `_call` turns into the same plain-language errors as an HTTP failure
(`errors.py`).

Where TikTok does not document a detail, the choice is marked *assumption*
so it can be corrected here, in one place; the sandbox
(`portal.sandbox.tiktok`) emulates the same choices.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from .. import credentials, http
from ..base import (
    Asset,
    AssetType,
    Connector,
    GrantResult,
    ManualStep,
    OAuthEndpoints,
    PlatformError,
    Token,
    VerifyResult,
)
from . import catalog
from .centers import BusinessCenters
from .errors import sharing_refusal, tiktok_error
from .roles import (
    AD_PROMOTE,
    ADVERTISER_ADMIN,
    ANALYST,
    BC_ADMIN,
    BUSINESS_CENTER_URL,
    CATALOG_ADMIN,
    HELP_PARTNERS,
    INVALID_APP,
    INVALID_AUTH_CODE,
    MAX_PAGES,
    OK,
    OPERATOR,
    ROLE_FIELD,
    ROLE_ORDER,
)


class TikTokConnector(BusinessCenters, Connector):
    id = "tiktok"
    name = "TikTok"
    real_urls = {
        "api": "https://business-api.tiktok.com/open_api/v1.3",
        "authorize": "https://business-api.tiktok.com/portal/auth",
        "token": "https://business-api.tiktok.com/open_api/v1.3/oauth2/access_token/",
        # Where the client shares a catalog by hand (the manual step's link).
        "business_center": catalog.BUSINESS_CENTER_CATALOGS_URL,
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
            # TikTok's API shares no catalog with a partner: see catalog.py.
            manual=True,
        ),
    )
    # The catalog step names the agency's Business Center id.
    manual_steps_name_the_agency = True
    # Seconds to wait for TikTok before giving up on a call.
    timeout: float = http.DEFAULT_TIMEOUT
    # Items asked for per page of a list (TikTok allows up to 50).
    page_size: int = 50

    def oauth_endpoints(self) -> OAuthEndpoints:
        urls = self.endpoints()
        return OAuthEndpoints(
            authorize_url=urls["authorize"],
            token_url=urls["token"],
            # TikTok has no per-request OAuth scopes: an app's permissions are
            # chosen when the app is created (TikTok for Business developer
            # portal), so the authorization URL carries no scope.
            scopes=(),
            scope_separator=",",
            # The advertiser authorization has no PKCE (`exchange_code` sends
            # no code_verifier).
            pkce=False,
        )

    def authorization_request_url(self, state: str, redirect_uri: str) -> str:
        """TikTok's advertiser authorization page takes app_id, state and
        redirect_uri, and nothing else (no response_type, client_id or scope)."""
        query = urlencode(
            {
                "app_id": credentials(self.id)["client_id"],
                "state": state,
                "redirect_uri": redirect_uri,
            }
        )
        return f"{self.oauth_endpoints().authorize_url}?{query}"

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
            raise tiktok_error(body, method, url)
        data = body.get("data")
        return data if isinstance(data, dict) else {}

    def _api(self, method: str, path: str, token: Token | None, **kwargs: Any) -> dict[str, Any]:
        return self._call(method, self.api_base() + path, token, **kwargs)

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
        if asset_type is not None and asset_type.manual:
            return GrantResult(
                "failed",
                error=_("TikTok has no automatic way to do this."),
                fix=_("Follow the steps shown on this page; the agency then checks the result."),
                external={"error_code": "manual_only"},
            )
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
                raise sharing_refusal(exc, center["name"]) from None
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

    # ----------------------------------------------------------- verify

    def _shared(
        self, agency_token: Token, agency_bc: str, asset_type: str, asset_id: str, external
    ) -> tuple[str, dict[str, Any]] | None:
        """(the client's Business Center, the item) when it shares the asset with the
        agency's; the client's Business Center is known for a grant made by API."""
        return catalog.find_shared(
            lambda path, params: self._paged(path, agency_token, params),
            agency_bc,
            asset_type,
            str(asset_id),
            str((external or {}).get("client_business_id") or "") or None,
        )

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
        if asset_type not in ROLE_ORDER or not agency_bc:
            return VerifyResult(
                "missing",
                message=_("Latchkey does not know which TikTok Business Center shared this asset."),
            )
        found = self._shared(agency_token, agency_bc, asset_type, asset_id, external)
        if found is None:
            return VerifyResult(
                "missing",
                message=_("The agency does not see this asset in its TikTok Business Center."),
            )
        have = str(found[1].get(ROLE_FIELD[asset_type]) or "")
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

    # ----------------------------------------------------- manual steps

    def manual_steps(
        self,
        asset_type_id: str,
        permissions: list[str],
        agency_identity: dict[str, Any] | None = None,
    ) -> list[ManualStep]:
        if asset_type_id == "CATALOG":
            link = self.endpoints()["business_center"]
            return [catalog.steps(permissions, agency_identity, link)]
        return []

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
        manual_fix = _(
            "Remove the agency in TikTok Business Center: Users → Partners, choose the "
            "agency, then remove the asset (%(help)s).",
            help=HELP_PARTNERS,
        )
        if asset_type not in ROLE_ORDER or not agency_bc:
            raise PlatformError(
                _("Latchkey does not know which TikTok Business Center shared this asset."),
                manual_fix,
                code="revoke_unsupported",
            )
        found = self._shared(agency_token, agency_bc, asset_type, asset_id, external)
        if found is None:
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
                    "partner_id": found[0],
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
