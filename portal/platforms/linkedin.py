"""LinkedIn Marketing API connector: ad account and Company Page roles for a person.

LinkedIn gives access to people, not to businesses. The agency's person is
the member who connected LinkedIn in Connections (their member URN is the
connection's identity). The client signs in with LinkedIn and, with their own
token, gives that person a role on each chosen Campaign Manager ad account
(`PUT /rest/adAccountUsers/(account:...,user:...)`) or Company Page
(`PUT /rest/organizationAcls/(organization:...,role:...,roleAssignee:...)`).
Roles take effect at once: no invitation to accept. Verification and removal
use the agency person's own token: which ad accounts and Pages they now hold
a role on (`q=authenticatedUser`, `q=roleAssignee`).

Every call is versioned (`LinkedIn-Version: YYYYMM`) and uses Rest.li 2.0
(`X-Restli-Protocol-Version: 2.0.0`, URL-encoded URNs inside compound keys).
Where LinkedIn does not document a detail, the choice is marked *assumption*
so it can be corrected here; the sandbox (`portal.sandbox.linkedin`) emulates
the same choices.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from . import http
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
ACCOUNT_BILLING_ADMIN = P(
    "ACCOUNT_BILLING_ADMIN",
    _l("Billing admin"),
    _l(
        "Everything an account manager does, plus the payment method and invoices. An ad "
        "account has only one billing admin: giving this role moves billing away from you."
    ),
)
ACCOUNT_MANAGER = P(
    "ACCOUNT_MANAGER",
    _l("Account manager"),
    _l("Create and run campaigns, see reports, and manage who can access the ad account."),
)
CAMPAIGN_MANAGER = P(
    "CAMPAIGN_MANAGER",
    _l("Campaign manager"),
    _l("Create, edit and run campaigns, and see their reports."),
)
CREATIVE_MANAGER = P(
    "CREATIVE_MANAGER",
    _l("Creative manager"),
    _l("Create and edit ads and see reports; no campaign settings or budgets."),
)
VIEWER = P("VIEWER", _l("Viewer"), _l("See campaigns and reports; change nothing."))

ADMINISTRATOR = P(
    "ADMINISTRATOR", _l("Super admin"), _l("Full control of the Page, including its admins.")
)
CONTENT_ADMINISTRATOR = P(
    "CONTENT_ADMINISTRATOR",
    _l("Content admin"),
    _l("Post as the Page, and manage its content, comments and events."),
)
ANALYST = P("ANALYST", _l("Analyst"), _l("See the Page's analytics; change nothing."))
CURATOR = P(
    "CURATOR",
    _l("Curator"),
    _l("Recommend content for employees to share, and see its analytics."),
)
DIRECT_SPONSORED_CONTENT_POSTER = P(
    "DIRECT_SPONSORED_CONTENT_POSTER",
    _l("Sponsored Content poster"),
    _l("Run ads that appear as posted by the Page, from Campaign Manager."),
)
LEAD_GEN_FORMS_MANAGER = P(
    "LEAD_GEN_FORMS_MANAGER",
    _l("Lead gen forms manager"),
    _l("Download the leads collected by the Page's lead gen forms."),
)

# Ad account roles, weakest first: one role per person, a stronger one covers the weaker.
ACCOUNT_ROLE_ORDER = (
    "VIEWER",
    "CREATIVE_MANAGER",
    "CAMPAIGN_MANAGER",
    "ACCOUNT_MANAGER",
    "ACCOUNT_BILLING_ADMIN",
)
# Roles that may add people to an ad account / a Page.
ACCOUNT_ADMIN_ROLES = frozenset({"ACCOUNT_MANAGER", "ACCOUNT_BILLING_ADMIN"})
PAGE_ADMIN_ROLE = "ADMINISTRATOR"

ACCOUNT_URN = "urn:li:sponsoredAccount:"
ORGANIZATION_URN = "urn:li:organization:"
PERSON_URN = "urn:li:person:"

# Links to LinkedIn's own pages, shown with fixes.
CAMPAIGN_MANAGER_URL = "https://www.linkedin.com/campaignmanager/"
HELP_ACCOUNT_ROLES = "https://www.linkedin.com/help/lms/answer/a425731"
HELP_PAGE_ADMINS = "https://www.linkedin.com/help/linkedin/answer/a541981"
HELP_CREATE_PAGE = "https://www.linkedin.com/help/linkedin/answer/a543852"

MAX_PAGES = 50


class LinkedInConnector(Connector):
    id = "linkedin"
    name = "LinkedIn"
    grants_to_business = False
    real_urls = {
        "api": "https://api.linkedin.com/rest",
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
    api_version = "202510"
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
        me = self._call("GET", "/me", agency_token)
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

    @staticmethod
    def _strongest_account_role(roles: list[str] | tuple[str, ...]) -> str:
        known = [r for r in roles if r in ACCOUNT_ROLE_ORDER]
        return max(known, key=ACCOUNT_ROLE_ORDER.index) if known else ACCOUNT_ROLE_ORDER[0]

    @staticmethod
    def _covers(have: str | None, needed: str) -> bool:
        if have not in ACCOUNT_ROLE_ORDER:
            return False
        return ACCOUNT_ROLE_ORDER.index(have) >= ACCOUNT_ROLE_ORDER.index(needed)

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
        if asset_type == "AD_ACCOUNT":
            have = self._account_roles(agency_token).get(str(asset_id))
            if not have:
                return VerifyResult(
                    "missing",
                    message=_("The agency's person has no role on this LinkedIn ad account."),
                )
            needed = self._strongest_account_role(permissions)
            if self._covers(have, needed):
                return VerifyResult("verified", permissions=(have,))
            return VerifyResult(
                "insufficient",
                permissions=(have,),
                message=_(
                    "The agency's person is %(have)s on this ad account; "
                    "the request asked for %(needed)s.",
                    have=self._label(asset_type, have),
                    needed=self._label(asset_type, needed),
                ),
            )
        if asset_type == "ORGANIZATION":
            roles = self._page_roles(agency_token).get(str(asset_id), set())
            if not roles:
                return VerifyResult(
                    "missing",
                    message=_("The agency's person has no role on this LinkedIn Page."),
                )
            have = tuple(sorted(roles))
            lacking = [p for p in permissions if p not in roles]
            if not lacking or PAGE_ADMIN_ROLE in roles:
                return VerifyResult("verified", permissions=have)
            return VerifyResult(
                "insufficient",
                permissions=have,
                message=_(
                    "The agency's person has a role on this Page but is missing: %(missing)s.",
                    missing=", ".join(self._label(asset_type, p) for p in lacking),
                ),
            )
        return VerifyResult("missing", message=_("LinkedIn has no such kind of asset."))

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
        """The agency's person gives up their role (*assumption*: LinkedIn lets a
        member remove their own role, as the Campaign Manager and Page tools do)."""
        person_urn = str(agency_identity.get("person_urn") or "")
        if asset_type == "AD_ACCOUNT":
            manual_fix = _(
                "Remove the agency's person in Campaign Manager: Account settings → Manage "
                "access, then remove them."
            )
            paths = [
                "/adAccountUsers/" + self._key(account=ACCOUNT_URN + str(asset_id), user=person_urn)
            ]
            method, body = "DELETE", None
        elif asset_type == "ORGANIZATION":
            manual_fix = _(
                "Remove the agency's person in your Page's admin view: Settings → Manage "
                "admins, then remove them."
            )
            roles = sorted(self._page_roles(agency_token).get(str(asset_id), set()))
            paths = [
                "/organizationAcls/"
                + self._key(
                    organization=ORGANIZATION_URN + str(asset_id),
                    role=role,
                    roleAssignee=person_urn,
                )
                for role in roles
            ]
            method, body = "PUT", {"state": "REVOKED"}
        else:
            raise PlatformError(
                _("LinkedIn has no such kind of asset."),
                _("Remove the agency in LinkedIn's own settings."),
                code="revoke_unsupported",
            )
        if not person_urn.startswith(PERSON_URN):
            raise PlatformError(
                _("Latchkey does not know which LinkedIn person holds this access."),
                manual_fix,
                code="revoke_unsupported",
            )
        for path in paths:
            try:
                self._call(method, path, agency_token, json=body)
            except http.PlatformHTTPError as exc:
                if exc.status == 404:
                    continue  # already gone: removal is done either way
                if exc.retryable:
                    raise
                raise PlatformError(
                    _("LinkedIn did not remove the agency's access."),
                    manual_fix,
                    status=exc.status,
                    code="revoke_refused",
                    detail=exc.detail,
                ) from None
        return True
