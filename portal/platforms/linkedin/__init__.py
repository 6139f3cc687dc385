"""LinkedIn Marketing API connector: ad account and Company Page roles for a person.

LinkedIn gives access to people, not to businesses. The agency's person is
the member who connected LinkedIn in Connections (their member URN is the
connection's identity, read from the documented profile `GET /v2/me`). The
client signs in with LinkedIn and, with their own token, gives that person a
role on each chosen Campaign Manager ad account
(`PUT /rest/adAccountUsers/(account:...,user:...)`) or Company Page
(`PUT /rest/organizationAcls/(organization:...,role:...,roleAssignee:...)`).
Roles take effect at once: no invitation to accept. Verification and removal
use the agency person's own token: which ad accounts and Pages they now hold
a role on (`q=authenticatedUser`, `q=roleAssignee`).

Every Marketing API call is versioned (`LinkedIn-Version: YYYYMM`) and uses
Rest.li 2.0 (`X-Restli-Protocol-Version: 2.0.0`, URL-encoded URNs inside
compound keys). What each call may send and read is LinkedIn's documentation,
transcribed in tests/platform_specs/linkedin/operations.json. Where LinkedIn
does not document a detail, the choice is marked *assumption* so it can be
corrected here; the sandbox (`portal.sandbox.linkedin`) emulates the same
choices.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from .. import http
from ..base import (
    Asset,
    AssetType,
    Connector,
    GrantResult,
    OAuthEndpoints,
    PlatformError,
    Problem,
    Token,
)
from ..versions import LINKEDIN as LINKEDIN_VERSION
from .agency_side import AgencySide
from .roles import (
    ACCOUNT_ADMIN_ROLES,
    ACCOUNT_BILLING_ADMIN,
    ACCOUNT_MANAGER,
    ACCOUNT_URN,
    ADMINISTRATOR,
    ANALYST,
    CAMPAIGN_MANAGER,
    CAMPAIGN_MANAGER_URL,
    CONTENT_ADMINISTRATOR,
    CREATIVE_MANAGER,
    CURATOR,
    DIRECT_SPONSORED_CONTENT_POSTER,
    HELP_ACCOUNT_ROLES,
    HELP_CREATE_PAGE,
    LEAD_GEN_FORMS_MANAGER,
    MAX_PAGES,
    ORGANIZATION_URN,
    PAGE_ADMIN_ROLE,
    PERSON_URN,
    VIEWER,
)
from .signin import SignIn


class LinkedInConnector(SignIn, AgencySide, Connector):
    id = "linkedin"
    name = "LinkedIn"
    grants_to_business = False
    real_urls = {
        "api": "https://api.linkedin.com/rest",
        # The member's own profile is documented only unversioned: GET /v2/me.
        "profile": "https://api.linkedin.com/v2",
        "authorize": "https://www.linkedin.com/oauth/v2/authorization",
        "token": "https://www.linkedin.com/oauth/v2/accessToken",
    }
    asset_types = (
        AssetType(
            "AD_ACCOUNT",
            _l("Ad account"),
            (
                ACCOUNT_MANAGER,
                CAMPAIGN_MANAGER,
                CREATIVE_MANAGER,
                VIEWER,
                ACCOUNT_BILLING_ADMIN,
            ),
            _l("Campaign Manager: campaigns, ads and reporting."),
        ),
        AssetType(
            "ORGANIZATION",
            _l("Company Page"),
            (
                ADMINISTRATOR,
                CONTENT_ADMINISTRATOR,
                ANALYST,
                CURATOR,
                DIRECT_SPONSORED_CONTENT_POSTER,
                LEAD_GEN_FORMS_MANAGER,
            ),
            _l("Your company's LinkedIn Page: posts, analytics and Page ads."),
        ),
    )
    # The Marketing API version every call asks for (LinkedIn-Version: YYYYMM).
    api_version = LINKEDIN_VERSION.version
    # Seconds to wait for LinkedIn before giving up on a call.
    timeout: float = http.DEFAULT_TIMEOUT
    # Elements asked for per page of a collection.
    page_size: int = 100

    def oauth_endpoints(self) -> OAuthEndpoints:
        urls = self.endpoints()
        return OAuthEndpoints(
            authorize_url=urls["authorize"],
            token_url=urls["token"],
            scopes=("r_basicprofile", "rw_ads", "rw_organization_admin"),
            scope_separator=" ",
            # LinkedIn takes the client's id and secret in the form body.
            token_endpoint_auth_method="client_secret_post",  # noqa: S106 (a method name)
            # The Authorization Code Flow page documents no PKCE.
            pkce=False,
        )

    # ------------------------------------------------------------ HTTP

    def _call(self, method: str, path: str, token: Token, **kwargs: Any) -> Any:
        return http.call(
            method,
            self.api_base() + path,
            token=token,
            timeout=self.timeout,
            platform=self.name,
            headers={
                "LinkedIn-Version": self.api_version,
                "X-Restli-Protocol-Version": "2.0.0",
            },
            **kwargs,
        )

    def _elements(self, path: str, token: Token, params: dict[str, Any]) -> Iterator[dict]:
        """Every element of a collection, following start/count from page to page."""
        start = 0
        for _page in range(MAX_PAGES):
            body = self._call(
                "GET", path, token, params={**params, "start": start, "count": self.page_size}
            )
            elements = [e for e in (body.get("elements") or []) if isinstance(e, dict)]
            yield from elements
            total = (body.get("paging") or {}).get("total")
            start += len(elements)
            if not elements or (total is not None and start >= int(total)):
                return

    @staticmethod
    def _key(**parts: str) -> str:
        """A Rest.li 2.0 compound key, its URNs URL-encoded: "(a:urn%3A...,b:...)"."""
        inner = ",".join(f"{name}:{quote(value, safe='')}" for name, value in parts.items())
        return f"({inner})"

    @staticmethod
    def _id(urn: Any, prefix: str) -> str | None:
        urn = str(urn or "")
        return urn[len(prefix) :] if urn.startswith(prefix) else None

    # ------------------------------------------------------- who is who

    def agency_identity(self, agency_token: Token) -> dict[str, Any]:
        # The documented profile read is unversioned: GET /v2/me (r_basicprofile).
        me = http.call(
            "GET",
            self.endpoints()["profile"] + "/me",
            token=agency_token,
            timeout=self.timeout,
            platform=self.name,
            headers={"X-Restli-Protocol-Version": "2.0.0"},
        )
        member_id = str(me.get("id") or "")
        if not member_id:
            raise PlatformError(
                _("LinkedIn did not say who signed in."),
                _("Connect LinkedIn again."),
                code="no_member",
            )
        name = " ".join(
            part for part in (me.get("localizedFirstName"), me.get("localizedLastName")) if part
        )
        return {
            "id": member_id,
            "person_urn": PERSON_URN + member_id,
            "name": name or me.get("vanityName") or member_id,
            "vanity_name": me.get("vanityName"),
        }

    def _account_roles(self, token: Token) -> dict[str, str]:
        """Ad account id -> this member's role on it."""
        roles = {}
        for element in self._elements("/adAccountUsers", token, {"q": "authenticatedUser"}):
            account_id = self._id(element.get("account"), ACCOUNT_URN)
            if account_id:
                roles[account_id] = str(element.get("role") or "")
        return roles

    def _page_roles(self, token: Token) -> dict[str, set[str]]:
        """Organization id -> this member's approved roles on its Page."""
        roles: dict[str, set[str]] = {}
        for element in self._elements(
            "/organizationAcls", token, {"q": "roleAssignee", "state": "APPROVED"}
        ):
            org_id = self._id(element.get("organization"), ORGANIZATION_URN)
            if org_id and element.get("state", "APPROVED") == "APPROVED":
                roles.setdefault(org_id, set()).add(str(element.get("role") or ""))
        return roles

    # -------------------------------------------------------- preflight

    def preflight(self, client_token: Token) -> list[Problem]:
        accounts = self._account_roles(client_token)
        pages = self._page_roles(client_token)
        if not accounts and not pages:
            return [
                Problem(
                    "nothing_to_share",
                    _("This LinkedIn account manages no ad account and no Company Page"),
                    _(
                        "Sign in with the LinkedIn account that manages your company's "
                        "Campaign Manager ad account (%(campaign_manager)s) or its Company "
                        "Page. If your company has neither yet, create them first (both are "
                        "free), then come back to this page.",
                        campaign_manager=CAMPAIGN_MANAGER_URL,
                    ),
                    help_url=HELP_CREATE_PAGE,
                )
            ]
        can_share = any(r in ACCOUNT_ADMIN_ROLES for r in accounts.values()) or any(
            PAGE_ADMIN_ROLE in r for r in pages.values()
        )
        if not can_share:
            return [
                Problem(
                    "not_admin",
                    _("You cannot add people to these LinkedIn accounts"),
                    _(
                        "Only an account manager (or the billing admin) of an ad account, or "
                        "a super admin of a Company Page, can give access. Ask one of them to "
                        "open this link, or to give you that role (Campaign Manager → Account "
                        "settings → Manage access; Page admin view → Settings → Manage "
                        "admins), then sign in again."
                    ),
                    help_url=HELP_ACCOUNT_ROLES,
                )
            ]
        return []

    # ----------------------------------------------------------- assets

    def list_assets(self, client_token: Token, asset_type_ids: list[str]) -> dict[str, list[Asset]]:
        """The assets this member can give access to (only those: a viewer's can't)."""
        result: dict[str, list[Asset]] = {}
        for type_id in asset_type_ids:
            if type_id == "AD_ACCOUNT":
                result[type_id] = [
                    self._ad_account(client_token, account_id, role)
                    for account_id, role in self._account_roles(client_token).items()
                    if role in ACCOUNT_ADMIN_ROLES
                ]
            elif type_id == "ORGANIZATION":
                result[type_id] = [
                    self._page(client_token, org_id)
                    for org_id, roles in self._page_roles(client_token).items()
                    if PAGE_ADMIN_ROLE in roles
                ]
            else:
                result[type_id] = []
        return result

    def _ad_account(self, token: Token, account_id: str, role: str) -> Asset:
        account = self._call("GET", f"/adAccounts/{account_id}", token)
        return Asset(
            id=account_id,
            name=account.get("name") or account_id,
            type="AD_ACCOUNT",
            details={
                "currency": account.get("currency"),
                "status": account.get("status"),
                "your_role": role,
            },
        )

    def _page(self, token: Token, org_id: str) -> Asset:
        page = self._call("GET", f"/organizations/{org_id}", token)
        return Asset(
            id=org_id,
            name=page.get("localizedName") or org_id,
            type="ORGANIZATION",
            details={"vanity_name": page.get("vanityName")},
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
        unknown = [p for p in permissions if asset_type and asset_type.permission(p) is None]
        if asset_type is None or unknown or not permissions:
            return GrantResult(
                "failed",
                error=_("The access asked for does not exist on LinkedIn."),
                fix=_("Ask the agency to send a corrected request."),
                external={"error_code": "invalid_permission", "permissions": unknown},
            )
        person_urn = str(agency_identity.get("person_urn") or "")
        if not person_urn.startswith(PERSON_URN):
            return GrantResult(
                "failed",
                error=_("The agency has not connected its LinkedIn account to Latchkey yet."),
                fix=_("Let the agency know; once it connects LinkedIn, open this link again."),
                external={"error_code": "agency_not_connected"},
            )
        external: dict[str, Any] = {
            "agency_person_urn": person_urn,
            "agency_person_name": agency_identity.get("name"),
            "permissions": list(permissions),
        }
        try:
            if asset.type == "AD_ACCOUNT":
                external.update(
                    self._grant_ad_account(client_token, person_urn, asset, permissions)
                )
            else:
                external.update(self._grant_page(client_token, person_urn, asset, permissions))
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

    def _grant_ad_account(
        self, token: Token, person_urn: str, asset: Asset, permissions: list[str]
    ) -> dict[str, Any]:
        account_urn = ACCOUNT_URN + asset.id
        role = self._strongest_account_role(permissions)
        path = "/adAccountUsers/" + self._key(account=account_urn, user=person_urn)
        try:
            current = self._call("GET", path, token).get("role")
        except http.PlatformHTTPError as exc:
            if exc.status != 404:
                raise self._refusal(exc, asset) from None
            current = None
        # One role per person: never replace a stronger role with a weaker one.
        if self._covers(current, role):
            return {"account_urn": account_urn, "role": current, "method": "already_had"}
        try:
            self._call(
                "PUT", path, token, json={"account": account_urn, "user": person_urn, "role": role}
            )
        except http.PlatformHTTPError as exc:
            raise self._refusal(exc, asset) from None
        return {"account_urn": account_urn, "role": role, "method": "ad_account_user"}

    def _grant_page(
        self, token: Token, person_urn: str, asset: Asset, permissions: list[str]
    ) -> dict[str, Any]:
        organization_urn = ORGANIZATION_URN + asset.id
        for role in permissions:
            key = self._key(organization=organization_urn, role=role, roleAssignee=person_urn)
            try:
                self._call(
                    "PUT",
                    "/organizationAcls/" + key,
                    token,
                    json={
                        "organization": organization_urn,
                        "role": role,
                        "roleAssignee": person_urn,
                        "state": "APPROVED",
                    },
                )
            except http.PlatformHTTPError as exc:
                raise self._refusal(exc, asset) from None
        return {"organization_urn": organization_urn, "roles": list(permissions)}

    def _refusal(self, exc: http.PlatformHTTPError, asset: Asset) -> PlatformError:
        """Explain LinkedIn's refusal of a role change in the client's terms."""
        said = (exc.platform_message or "").lower()
        if exc.status == 403 and asset.type == "AD_ACCOUNT" and "scope" not in said:
            return PlatformError(
                _("Only an account manager of this LinkedIn ad account can add people to it."),
                _(
                    "Ask an account manager (or the billing admin) of %(account)s to open this "
                    "link and finish this step, or to make you an account manager in Campaign "
                    "Manager (Account settings → Manage access). Then press Retry.",
                    account=asset.name,
                ),
                status=403,
                code="not_admin",
                detail=exc.detail,
            )
        if exc.status == 403 and asset.type == "ORGANIZATION" and "scope" not in said:
            return PlatformError(
                _("Only a super admin of this LinkedIn Page can add admins to it."),
                _(
                    "Ask a super admin of %(page)s to open this link and finish this step, or "
                    "to make you a super admin (Page admin view → Settings → Manage admins). "
                    "Then press Retry.",
                    page=asset.name,
                ),
                status=403,
                code="not_admin",
                detail=exc.detail,
            )
        if exc.status == 400 and "does not exist" in said and "member" in said:
            return PlatformError(
                _("LinkedIn could not find the agency's person."),
                _("Let the agency know: it should connect LinkedIn again in Latchkey."),
                status=400,
                code="agency_person_missing",
                detail=exc.detail,
            )
        return exc
