"""Google connector: one Google sign-in, six products.

The client signs in once with Google (accounts.google.com, offline access,
every product's scope) and shares, product by product:

- Google Ads (`ads.py`): the agency's manager account links to the ad
  account; the agency's token starts the link, the client's accepts it.
- Google Analytics 4 (`analytics.py`): an access binding for the agency's
  e-mail on the account or property.
- Tag Manager (`tagmanager.py`): a user permission on the account and its
  containers.
- Merchant Center (`merchant.py`): a user with access rights, pending until
  the agency accepts (done with the agency's token during verification).
- Business Profile (`business_profile.py`): an invitation to manage the
  location, accepted with the agency's token during verification.
- Search Console (`search_console.py`): no API adds people, so the client
  follows steps and the agency verifies from its own `sites` list.

Each product is a module on its own; this connector dispatches by asset type.
The agency's identity (its Google e-mail and Google Ads manager account) comes
from its own Google connection (`agency_identity`); each product reads the
keys it needs (`email`, `manager_id`) from the identity dict it is given.
Where Google does not document a detail, the choice is marked *assumption*
in the product's module; the sandbox (`portal.sandbox.google`) emulates the
same choices.
"""

from __future__ import annotations

import contextlib
from typing import Any

from flask_babel import gettext as _

from .. import http
from ..base import (
    Asset,
    Connector,
    GrantResult,
    ManualStep,
    OAuthEndpoints,
    PlatformError,
    Problem,
    Token,
    VerifyResult,
)
from .ads import API_URL as ADS_API_URL
from .ads import GoogleAds
from .analytics import GoogleAnalytics
from .api import GoogleApi
from .business_profile import BusinessProfile
from .common import Product, failed, invalid_permissions
from .merchant import MerchantCenter
from .search_console import SearchConsole
from .tagmanager import TagManager

IDENTITY_SCOPES = ("openid", "email", "profile")
SWITCH_ACCOUNT_HELP = "https://support.google.com/accounts/answer/13533235"


class GoogleConnector(Connector):
    id = "google"
    name = "Google"
    manual_steps_name_the_agency = True  # Search Console: the e-mail to add
    # Google Ads goes to the agency's manager account; every other product to a person.
    grants_to_business = False
    needs_agency_connection = True
    real_urls = {
        # Who signed in: the OAuth2 API's userinfo, the one Google describes in a
        # discovery document (oauth2 v2); it answers `id` where OpenID says `sub`.
        "api": "https://www.googleapis.com/oauth2/v2",
        "authorize": "https://accounts.google.com/o/oauth2/v2/auth",
        "token": "https://oauth2.googleapis.com/token",
        "ads": ADS_API_URL,
        "analytics": "https://analyticsadmin.googleapis.com/v1alpha",
        "tagmanager": "https://tagmanager.googleapis.com/tagmanager/v2",
        "merchant": "https://merchantapi.googleapis.com/accounts/v1",
        "business_accounts": "https://mybusinessaccountmanagement.googleapis.com/v1",
        "business_info": "https://mybusinessbusinessinformation.googleapis.com/v1",
        # Search Console API (searchconsole v1), which serves the webmasters v3 paths.
        "search_console": "https://searchconsole.googleapis.com/webmasters/v3",
        "search_console_ui": "https://search.google.com/search-console",
    }
    # Seconds to wait for Google before giving up on a call.
    timeout: float = http.DEFAULT_TIMEOUT

    def __init__(self) -> None:
        self.ads = GoogleAds(self)
        self.analytics = GoogleAnalytics(self)
        self.tagmanager = TagManager(self)
        self.merchant = MerchantCenter(self)
        self.business_profile = BusinessProfile(self)
        self.search_console = SearchConsole(self)
        self.products: tuple[Product, ...] = (
            self.ads,
            self.analytics,
            self.tagmanager,
            self.merchant,
            self.business_profile,
            self.search_console,
        )
        self.asset_types = tuple(t for p in self.products for t in p.asset_types)
        self.openid = GoogleApi(self, "Google", "api")

    def product_for(self, asset_type_id: str) -> Product | None:
        return next((p for p in self.products if p.owns(asset_type_id)), None)

    def oauth_endpoints(self) -> OAuthEndpoints:
        urls = self.endpoints()
        return OAuthEndpoints(
            authorize_url=urls["authorize"],
            token_url=urls["token"],
            scopes=IDENTITY_SCOPES + tuple(s for p in self.products for s in p.scopes),
            scope_separator=" ",
            # Google documents the client secret in the token request's body.
            token_endpoint_auth_method="client_secret_post",  # noqa: S106 (a method name)
            # offline: a refresh token; consent: a new one at every sign-in.
            extra_authorize_params={
                "access_type": "offline",
                "prompt": "consent",
                "include_granted_scopes": "true",
            },
        )

    # ------------------------------------------------------- who is who

    def userinfo(self, token: Token) -> dict[str, Any]:
        body = self.openid.call("GET", "/userinfo", token)
        return body if isinstance(body, dict) else {}

    def agency_identity(self, agency_token: Token) -> dict[str, Any]:
        """The agency's Google e-mail and, when it has one, its Google Ads manager account."""
        user = self.userinfo(agency_token)
        email = str(user.get("email") or "").lower()
        if not email:
            raise PlatformError(
                _("Google did not tell Latchkey which Google account this is."),
                _("Connect Google again and allow Latchkey to see your e-mail address."),
                code="no_email",
            )
        managers: list[dict[str, str]] = []
        ads_note = None
        try:
            managers = self.ads.managers(agency_token)
        except PlatformError as exc:
            if exc.retryable:
                raise
            # Google Ads is optional for an agency: the other products still work.
            ads_note = f"{exc.message} {exc.fix}"
        display = user.get("name") or email
        manager = managers[0] if managers else {}
        identity: dict[str, Any] = {
            "email": email,
            "name": display if display == email else f"{display} ({email})",
            "sub": str(user.get("id") or ""),
            "account_id": email,
            "manager_id": manager.get("id", ""),
            "manager_name": manager.get("name", ""),
            "managers": managers[:10],
        }
        if manager:
            # The agency's business on Google: its Google Ads manager account.
            identity["business_id"] = manager["id"]
        if ads_note:
            identity["ads_note"] = ads_note[:300]
        return identity

    # -------------------------------------------------------- preflight

    def preflight(self, client_token: Token) -> list[Problem]:
        granted = set(str(client_token.get("scope") or "").split())
        problems: list[Problem] = []
        skipped: list[str] = []
        found = False
        for product in self.products:
            if granted and not set(product.scopes) <= granted:
                skipped.append(product.name)
                continue
            try:
                survey = product.survey(client_token)
            except PlatformError as exc:
                if exc.code != "scope_missing":
                    raise
                skipped.append(product.name)
                continue
            found = found or survey.found
            problems.extend(survey.problems)
        if skipped:
            problems.insert(0, self._scopes_problem(skipped, blocking=not found))
        elif not found:
            problems.insert(0, self._nothing_problem(client_token))
        return problems

    @staticmethod
    def _scopes_problem(products: list[str], blocking: bool) -> Problem:
        return Problem(
            "scopes_missing",
            _(
                "You did not allow Latchkey to use %(products)s",
                products=", ".join(products),
            ),
            _(
                "Google lets you untick what an app may do. If the agency asked for "
                "%(products)s, press Connect Google again and leave every box ticked: "
                "Latchkey only uses what this request needs.",
                products=", ".join(products),
            ),
            blocking=blocking,
            help_url="https://support.google.com/accounts/answer/14012355",
        )

    def _nothing_problem(self, client_token: Token) -> Problem:
        email = ""
        # The problem is clear without the address, if Google does not give it.
        with contextlib.suppress(PlatformError):
            email = str(self.userinfo(client_token).get("email") or "")
        title = (
            _(
                "The Google account %(email)s has nothing to share with the agency",
                email=email,
            )
            if email
            else _("This Google account has nothing to share with the agency")
        )
        return Problem(
            "no_google_products",
            title,
            _(
                "It has no Google Ads, Analytics, Tag Manager, Merchant Center, Business Profile "
                "or Search Console. You may have signed in with a personal account: press "
                "Connect Google again and choose the Google account that manages your "
                "business's Google products (often your work address)."
            ),
            help_url=SWITCH_ACCOUNT_HELP,
        )

    # ----------------------------------------------------------- assets

    def list_assets(self, client_token: Token, asset_type_ids: list[str]) -> dict[str, list[Asset]]:
        memo: dict[str, Any] = {}
        result: dict[str, list[Asset]] = {}
        for type_id in asset_type_ids:
            product = self.product_for(type_id)
            result[type_id] = product.list_assets(client_token, type_id, memo) if product else []
        return result

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
        product = self.product_for(asset.type)
        if asset_type is None or product is None:
            return GrantResult(
                "failed",
                error=_("Google has no such thing to share."),
                fix=_("Ask the agency to send a corrected request."),
                external={"error_code": "invalid_asset_type"},
            )
        if asset_type.manual:
            return product.grant(client_token, agency_token, agency_identity, asset, permissions)
        if not permissions or any(asset_type.permission(p) is None for p in permissions):
            return invalid_permissions(asset_type)
        if agency_token is None:
            return GrantResult(
                "failed",
                error=_("The agency has not connected its Google account to Latchkey yet."),
                fix=_("Let the agency know; once it connects Google, open this link again."),
                external={"error_code": "agency_not_connected"},
            )
        try:
            return product.grant(
                client_token, agency_token, agency_identity or {}, asset, list(permissions)
            )
        except PlatformError as exc:
            return failed(exc, {"product": product.key})

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
        product = self.product_for(asset_type)
        if product is None:
            return VerifyResult("missing", message=_("Google has no such thing to check."))
        return product.verify(
            agency_token, agency_identity or {}, asset_type, asset_id, list(permissions), external
        )

    def revoke(
        self,
        agency_token: Token,
        agency_identity: dict[str, Any],
        asset_type: str,
        asset_id: str,
        external: dict[str, Any],
    ) -> bool:
        product = self.product_for(asset_type)
        if product is None:
            return super().revoke(agency_token, agency_identity, asset_type, asset_id, external)
        return product.revoke(agency_token, agency_identity or {}, asset_type, asset_id, external)

    # ----------------------------------------------------- manual steps

    def manual_steps(
        self,
        asset_type_id: str,
        permissions: list[str],
        agency_identity: dict[str, Any] | None = None,
    ) -> list[ManualStep]:
        """Steps for the client; with `agency_identity`, they name the agency's e-mail."""
        product = self.product_for(asset_type_id)
        if product is None:
            return []
        return product.manual_steps(asset_type_id, list(permissions), agency_identity)

    def removal_steps(self, asset_type_id: str, agency_name: str) -> list[str]:
        """How the client removes the agency's access to one asset, in Google's own pages."""
        product = self.product_for(asset_type_id)
        return product.removal_steps(asset_type_id, agency_name) if product else []


__all__ = ["GoogleConnector"]
