"""Meta (Facebook and Instagram) Graph API connector, v25.0.

Grants go business to business and need only the client's token: signed in
with Facebook Login, the client shares each chosen asset (ad account, Page,
pixel/dataset, catalog, Instagram account) with the agency's business
portfolio through `POST /{asset}/agencies` with the tasks asked for. The
agency's own token (its connection) verifies from its side, under
`GET /{agency business}/client_*`, and removes access with
`DELETE /{asset}/agencies?business=...`.

Every call carries `appsecret_proof` (HMAC-SHA256 of the token with the app
secret), which Meta requires of apps that turn on "Require App Secret".

Meta answers most errors with HTTP 400 and says what happened in its error
code (`190` token, `10`/`2xx` permission, `4`/`17`/`32`/`613`/`80000-80014`
throttling, `1`/`2` or `is_transient` temporary trouble), so errors are read
by code as well as by HTTP status. Where Meta does not document a detail, the
choice is marked *assumption* so it can be corrected here, in one place: the
sandbox (`portal.sandbox.meta`) emulates the same choices.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from typing import Any

from flask import current_app, g, has_request_context
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

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

GRAPH_VERSION = "v25.0"
P = Permission

# -- ad accounts (Meta's ad account tasks)
AD_MANAGE = P(
    "MANAGE",
    _l("Manage ad account"),
    _l("Full control: campaigns, reports, account settings and who can use the account."),
)
AD_ADVERTISE = P(
    "ADVERTISE",
    _l("Advertise"),
    _l("Create, edit and optimise campaigns and ads, and see their results."),
)
AD_ANALYZE = P("ANALYZE", _l("Analyse"), _l("See campaign results and reports; change nothing."))
AD_DRAFT = P("DRAFT", _l("Draft ads"), _l("Prepare ads as drafts for you to review and publish."))
# -- Pages (Meta's Page tasks)
PAGE_MANAGE = P(
    "MANAGE", _l("Full control"), _l("Everything on the Page, including who can manage it.")
)
PAGE_CREATE_CONTENT = P(
    "CREATE_CONTENT", _l("Content"), _l("Create, edit and schedule posts and stories as the Page.")
)
PAGE_MODERATE = P(
    "MODERATE", _l("Community activity"), _l("Reply to and moderate comments on the Page.")
)
PAGE_MESSAGING = P("MESSAGING", _l("Messages"), _l("Read and answer the Page's messages."))
PAGE_ADVERTISE = P("ADVERTISE", _l("Ads"), _l("Run ads for the Page and boost its posts."))
PAGE_ANALYZE = P("ANALYZE", _l("Insights"), _l("See how the Page and its posts perform."))
# -- pixels / datasets
PIXEL_ANALYZE = P("ANALYZE", _l("View"), _l("See the pixel's events and whether it fires."))
PIXEL_UPLOAD = P(
    "UPLOAD", _l("Upload events"), _l("Send conversion events (Conversions API) to the dataset.")
)
PIXEL_ADVERTISE = P(
    "ADVERTISE", _l("Use in ads"), _l("Use the pixel's events to measure and optimise ads.")
)
# -- catalogs
CATALOG_MANAGE = P(
    "MANAGE", _l("Manage catalog"), _l("Create and fix product feeds, and see diagnostics.")
)
CATALOG_ADVERTISE = P(
    "ADVERTISE", _l("Advertise"), _l("Use the catalog's products in ads (dynamic ads, shops).")
)
# -- Instagram accounts
IG_ADVERTISE = P("ADVERTISE", _l("Ads"), _l("Run ads with the Instagram account."))
IG_ANALYZE = P("ANALYZE", _l("Insights"), _l("See how the account and its posts perform."))
IG_CONTENT = P("CONTENT", _l("Content"), _l("Create and publish posts, reels and stories."))
IG_MESSAGES = P("MESSAGES", _l("Messages"), _l("Read and answer direct messages."))
IG_COMMUNITY = P(
    "COMMUNITY_ACTIVITY", _l("Community activity"), _l("Reply to and moderate comments.")
)

# *Assumption*: a task brings the narrower ones with it, as in Meta's role
# ladders (ad account: Manage > Advertise > Analyse; Page: Full control >
# Content > Community activity > Ads > Insights). Latchkey asks for the whole
# ladder and counts a broader task as covering a narrower one.
IMPLIED_TASKS: dict[str, dict[str, frozenset[str]]] = {
    "AD_ACCOUNT": {
        "MANAGE": frozenset({"ADVERTISE", "ANALYZE", "DRAFT"}),
        "ADVERTISE": frozenset({"ANALYZE", "DRAFT"}),
    },
    "PAGE": {
        "MANAGE": frozenset({"CREATE_CONTENT", "MODERATE", "MESSAGING", "ADVERTISE", "ANALYZE"}),
        "CREATE_CONTENT": frozenset({"MODERATE", "MESSAGING", "ADVERTISE", "ANALYZE"}),
        "MODERATE": frozenset({"MESSAGING", "ADVERTISE", "ANALYZE"}),
        "ADVERTISE": frozenset({"ANALYZE"}),
    },
    "PIXEL": {"ADVERTISE": frozenset({"ANALYZE"})},
    "CATALOG": {"MANAGE": frozenset({"ADVERTISE"})},
    "INSTAGRAM_ACCOUNT": {},
}

# Where each asset type lives on the Graph API.
OWNED_EDGES = {
    "AD_ACCOUNT": "owned_ad_accounts",
    "PAGE": "owned_pages",
    "PIXEL": "owned_pixels",
    "CATALOG": "owned_product_catalogs",
    "INSTAGRAM_ACCOUNT": "owned_instagram_assets",
}
CLIENT_EDGES = {
    "AD_ACCOUNT": "client_ad_accounts",
    "PAGE": "client_pages",
    "PIXEL": "client_pixels",
    "CATALOG": "client_product_catalogs",
    "INSTAGRAM_ACCOUNT": "client_instagram_assets",
}
ASSET_FIELDS = {
    "AD_ACCOUNT": "id,account_id,name,currency,timezone_name,account_status",
    "PAGE": "id,name,category",
    "PIXEL": "id,name,last_fired_time",
    "CATALOG": "id,name,vertical,product_count",
    "INSTAGRAM_ACCOUNT": "id,username",
}
# *Assumption* (platforms.md): client assets carry `permitted_tasks`; the
# sandbox adds `access_status` (CONFIRMED or PENDING) as /agencies shows it.
CLIENT_FIELDS = "id,permitted_tasks,access_status"
MEMBERSHIP_FIELDS = "id,role,two_fac_status,business{id,name,two_factor_type,verification_status}"

REQUIRED_SCOPE = "business_management"
TWO_FACTOR_REQUIRED_TYPES = frozenset({"admin_required", "all_required"})
# *Assumption*: BusinessUser.two_fac_status values that mean "turned on".
TWO_FACTOR_ON = frozenset({"enabled", "two_fac_enabled", "on"})
# Meta's own error codes.
TOKEN_INVALID = 190
THROTTLE_CODES = frozenset({4, 17, 32, 341, 613}) | frozenset(range(80000, 80015))
TEMPORARY_CODES = frozenset({1, 2})
PERMISSION_CODES = frozenset({10}) | frozenset(range(200, 300))
UNSUPPORTED_REQUEST_SUBCODE = 33
# *Assumption*: Meta does not publish subcodes for these refusals; these are
# the sandbox's, and the wording of the message is the fallback.
NOT_ADMIN_SUBCODE = 1690061
TWO_FACTOR_SUBCODE = 1690062
NO_ACCESS_SUBCODE = 1690063
SAME_BUSINESS_SUBCODE = 1690064
BUSINESS_UNKNOWN_SUBCODE = 1690065
PAGE_TOKEN_REQUIRED = 210

# Meta's own pages, shown with fixes and manual steps.
BUSINESS_HOME = "https://business.facebook.com/"
CREATE_PORTFOLIO_HELP = "https://www.facebook.com/business/help/1710077379203657"
BUSINESS_SETTINGS = "https://business.facebook.com/settings"
PEOPLE_HELP = "https://www.facebook.com/business/help/442345745885606"
PARTNERS_HELP = "https://www.facebook.com/business/help/1717412048538897"
TWO_FACTOR_HELP = "https://www.facebook.com/help/148233965247823"
ACCOUNTS_CENTER_SECURITY = "https://accountscenter.facebook.com/password_and_security"
BILLING_URL = "https://business.facebook.com/billing_hub/"
MAX_PAGES = 50


def _with_implied(asset_type: str, tasks: list[str]) -> list[str]:
    ladder = IMPLIED_TASKS.get(asset_type, {})
    result = set(tasks)
    for task in list(result):
        result |= ladder.get(task, frozenset())
    return sorted(result)


class MetaConnector(Connector):
    id = "meta"
    name = "Meta"
    exchanges_live_token = True  # long-lived tokens, no refresh token
    real_urls = {
        "api": f"https://graph.facebook.com/{GRAPH_VERSION}",
        "authorize": f"https://www.facebook.com/{GRAPH_VERSION}/dialog/oauth",
        "token": f"https://graph.facebook.com/{GRAPH_VERSION}/oauth/access_token",
    }
    asset_types = (
        AssetType(
            "AD_ACCOUNT",
            _l("Ad account"),
            (AD_MANAGE, AD_ADVERTISE, AD_ANALYZE, AD_DRAFT),
            _l("Meta Ads Manager: campaigns on Facebook and Instagram, and their results."),
        ),
        AssetType(
            "PAGE",
            _l("Facebook Page"),
            (
                PAGE_MANAGE,
                PAGE_CREATE_CONTENT,
                PAGE_MODERATE,
                PAGE_MESSAGING,
                PAGE_ADVERTISE,
                PAGE_ANALYZE,
            ),
            _l("Posts, messages, comments and insights of your Page."),
        ),
        AssetType(
            "PIXEL",
            _l("Pixel (dataset)"),
            (PIXEL_ANALYZE, PIXEL_UPLOAD, PIXEL_ADVERTISE),
            _l("The Meta pixel on your website and its conversion events."),
        ),
        AssetType(
            "CATALOG",
            _l("Catalog"),
            (CATALOG_MANAGE, CATALOG_ADVERTISE),
            _l("Product catalogs and feeds for shops and dynamic ads."),
        ),
        AssetType(
            "INSTAGRAM_ACCOUNT",
            _l("Instagram account"),
            (IG_CONTENT, IG_MESSAGES, IG_COMMUNITY, IG_ADVERTISE, IG_ANALYZE),
            _l("Posts, messages, comments, ads and insights of your Instagram account."),
        ),
    )
    # Seconds to wait for Meta before giving up on a call.
    timeout: float = http.DEFAULT_TIMEOUT
    # Items asked for per page of a list.
    page_size: int = 100
    # When Meta asks to wait a few seconds, the call waits and is sent again, so
    # work of several calls gets through a few calls at a time. Longer waits (or
    # more waiting than this per call) are passed on as a "rate_limited" error.
    rate_limit_patience: float = 8.0
    longest_rate_limit_wait: float = 5.0

    def oauth_endpoints(self) -> OAuthEndpoints:
        urls = self.endpoints()
        # Ask again for permissions the person unticked the last time.
        extra = {"auth_type": "rerequest"}
        # Facebook Login for Business: the configuration made in the app dashboard.
        config_id = current_app.config.get("META_LOGIN_CONFIG_ID")
        if config_id:
            extra["config_id"] = str(config_id)
        return OAuthEndpoints(
            authorize_url=urls["authorize"],
            token_url=urls["token"],
            scopes=(
                "business_management",
                "ads_management",
                "pages_show_list",
                "pages_manage_metadata",
                "catalog_management",
            ),
            scope_separator=",",
            # Meta takes client_id and client_secret as parameters.
            token_endpoint_auth_method="client_secret_post",  # noqa: S106 (a method name)
            extra_authorize_params=extra,
        )

    # ------------------------------------------------------------ HTTP

    def _proof(self, access_token: str) -> str:
        secret = credentials(self.id)["client_secret"]
        return hmac.new(secret.encode(), access_token.encode(), hashlib.sha256).hexdigest()

    def _call(
        self,
        method: str,
        path: str,
        token: Token | str,
        params: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None,
    ) -> Any:
        access_token = token if isinstance(token, str) else str(token.get("access_token") or "")
        query = dict(params or {})
        if access_token:
            query["appsecret_proof"] = self._proof(access_token)
        waited = 0.0
        while True:
            try:
                return http.call(
                    method,
                    self.api_base() + path,
                    token=access_token or None,
                    params=query,
                    data=data,
                    timeout=self.timeout,
                    platform=self.name,
                )
            except http.PlatformHTTPError as exc:
                error = self._translate(exc)
                delay = self._rate_limit_delay(error, waited)
                if delay is None:
                    raise error from None
            time.sleep(delay)
            waited += delay

    def _rate_limit_delay(self, error: PlatformError, waited: float) -> float | None:
        """Seconds to wait before sending the call again, or None to pass the error on."""
        if error.code != "rate_limited" or error.retry_after is None:
            return None
        delay = max(float(error.retry_after), 0.5)
        if delay > self.longest_rate_limit_wait or waited + delay > self.rate_limit_patience:
            return None
        return delay

    @staticmethod
    def _meta_error(exc: http.PlatformHTTPError) -> dict[str, Any]:
        body = exc.body if isinstance(exc.body, dict) else {}
        error = body.get("error")
        return error if isinstance(error, dict) else {}

    def _translate(self, exc: http.PlatformHTTPError) -> http.PlatformHTTPError:
        """Read Meta's error code where its HTTP status says less (Meta answers most with 400)."""
        error = self._meta_error(exc)
        code, subcode = error.get("code"), error.get("error_subcode")
        same = {
            "status": exc.status,
            "platform_code": exc.platform_code,
            "platform_message": exc.platform_message,
            "body": exc.body,
            "detail": exc.detail,
        }
        name = self.name
        if code == TOKEN_INVALID and exc.code != "token_expired":
            return http.PlatformHTTPError(
                _("Your %(platform)s sign-in has expired or was withdrawn.", platform=name),
                _(
                    "Sign in to %(platform)s again, then try once more. Nothing you "
                    "already granted is lost.",
                    platform=name,
                ),
                code="token_expired",
                **same,
            )
        if code in THROTTLE_CODES and exc.code != "rate_limited":
            wait = exc.retry_after
            return http.PlatformHTTPError(
                _("%(platform)s is receiving too many requests right now.", platform=name),
                _("Wait %(seconds)s seconds, then try again.", seconds=wait)
                if wait is not None
                else _("Wait a few minutes, then try again."),
                code="rate_limited",
                retry_after=wait,
                retryable=True,
                **same,
            )
        if (error.get("is_transient") or code in TEMPORARY_CODES) and exc.code not in (
            "platform_unavailable",
            "rate_limited",
        ):
            return http.PlatformHTTPError(
                _("%(platform)s had a problem on its side.", platform=name),
                _("Nothing you did caused this. Try again in a minute."),
                code="platform_unavailable",
                retry_after=exc.retry_after,
                retryable=True,
                **same,
            )
        if subcode == UNSUPPORTED_REQUEST_SUBCODE and exc.code != "not_found":
            return http.PlatformHTTPError(
                _("%(platform)s could not find this item.", platform=name),
                _(
                    "It may have been removed, or this account cannot see it. Check "
                    "that you signed in to %(platform)s with the account that owns it.",
                    platform=name,
                ),
                code="not_found",
                **same,
            )
        if code in PERMISSION_CODES and exc.code != "forbidden" and subcode is None:
            return http.PlatformHTTPError(
                _(
                    "%(platform)s refused: this account does not have the permission needed.",
                    platform=name,
                ),
                _(
                    "Sign in to %(platform)s with an account that manages these assets "
                    "(an admin of the business), and accept every permission asked for.",
                    platform=name,
                ),
                code="forbidden",
                **same,
            )
        return exc

    def _paged(
        self, path: str, token: Token, params: dict[str, Any] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every node of a list, following the `after` cursor from page to page."""
        query = {**(params or {}), "limit": self.page_size}
        for _page in range(MAX_PAGES):
            body = self._call("GET", path, token, params=query)
            data = body.get("data") if isinstance(body, dict) else None
            yield from (node for node in data or [] if isinstance(node, dict))
            paging = body.get("paging") if isinstance(body, dict) else None
            after = ((paging or {}).get("cursors") or {}).get("after")
            if not (paging or {}).get("next") or not after:
                return
            query["after"] = after

    def refresh_token(self, token: Token) -> Token:
        """A new long-lived token for one that still works (Meta has no refresh tokens).

        Meta's documented way is `grant_type=fb_exchange_token`; an expired
        token cannot be exchanged, and the agency then connects Meta again.
        """
        current = token.get("access_token")
        if not current:
            raise PlatformError(
                _("The Meta connection has expired."),
                _("Connect Meta again in Connections."),
                code="no_refresh_token",
            )
        creds = credentials(self.id)
        try:
            # Meta documents a GET; its token endpoint takes the same parameters as a
            # form POST, which keeps the token out of every URL (and access log).
            body = http.call(
                "POST",
                self.oauth_endpoints().token_url,
                data={
                    "grant_type": "fb_exchange_token",
                    "client_id": creds["client_id"],
                    "client_secret": creds["client_secret"],
                    "fb_exchange_token": current,
                },
                timeout=self.timeout,
                platform=self.name,
            )
        except http.PlatformHTTPError as exc:
            translated = self._translate(exc)
            if translated.code == "token_expired" or translated.status in (400, 401):
                raise PlatformError(
                    _("The Meta connection has expired."),
                    _("Connect Meta again in Connections."),
                    status=translated.status,
                    code="invalid_grant",
                    detail=translated.detail,
                ) from None
            raise translated from None
        if not isinstance(body, dict) or not body.get("access_token"):
            raise PlatformError(
                _("Meta did not return a new access token."),
                _("Connect Meta again in Connections."),
                code="no_token",
            )
        new = {"access_token": body["access_token"], "token_type": "bearer"}
        if body.get("expires_in"):
            new["expires_in"] = int(body["expires_in"])
            new["expires_at"] = int(time.time()) + int(body["expires_in"])
        if token.get("refresh_token"):
            new["refresh_token"] = token["refresh_token"]
        return new

    # ------------------------------------------------------- who is who

    def _memberships(self, token: Token) -> list[dict[str, Any]]:
        """The person's place in each business portfolio: role, 2FA, the portfolio."""
        return [
            m
            for m in self._paged("/me/business_users", token, {"fields": MEMBERSHIP_FIELDS})
            if (m.get("business") or {}).get("id")
        ]

    @staticmethod
    def _is_admin(membership: dict[str, Any]) -> bool:
        return str(membership.get("role") or "").upper() == "ADMIN"

    @staticmethod
    def _two_factor_blocks(membership: dict[str, Any]) -> bool:
        """The portfolio requires 2FA of its admins and this person has not turned it on."""
        business = membership.get("business") or {}
        required = str(business.get("two_factor_type") or "").lower() in TWO_FACTOR_REQUIRED_TYPES
        status = membership.get("two_fac_status")
        if not required or status is None:
            return False
        return str(status).lower() not in TWO_FACTOR_ON

    @staticmethod
    def _configured_business_id() -> str | None:
        """The Meta business id the agency typed in Connections → receiving identities."""
        if not has_request_context():
            return None
        agency = g.get("agency")
        identities = getattr(agency, "identities", None) or {}
        value = (identities.get("meta") or {}).get("business_id")
        return str(value) if value else None

    def agency_identity(self, agency_token: Token) -> dict[str, Any]:
        user = self._call("GET", "/me", agency_token, params={"fields": "id,name"})
        memberships = self._memberships(agency_token)
        wanted = self._configured_business_id()
        if wanted:
            chosen = next((m for m in memberships if m["business"]["id"] == wanted), None)
            if chosen is None:
                raise PlatformError(
                    _(
                        "This Facebook account is not in the Meta business portfolio %(id)s "
                        "set in your receiving identities.",
                        id=wanted,
                    ),
                    _(
                        "Sign in with a Facebook account that is an admin of that portfolio, "
                        "or correct the Meta business id under Receiving identities."
                    ),
                    code="wrong_business",
                )
        else:
            chosen = next((m for m in memberships if self._is_admin(m)), None)
            chosen = chosen or (memberships[0] if memberships else None)
        if chosen is None:
            raise PlatformError(
                _("This Facebook account has no Meta business portfolio."),
                _(
                    "Create your agency's business portfolio in Meta Business Suite "
                    "(%(url)s), then connect Meta again.",
                    url=BUSINESS_HOME,
                ),
                code="no_business",
            )
        business = chosen["business"]
        if not self._is_admin(chosen):
            raise PlatformError(
                _(
                    "This Facebook account is not an admin of %(business)s.",
                    business=business.get("name") or business["id"],
                ),
                _(
                    "Latchkey needs an admin of the agency's portfolio to check and remove "
                    "access. Ask an admin to connect Meta, or to make you an admin in "
                    "Business settings → People (%(url)s).",
                    url=BUSINESS_SETTINGS,
                ),
                code="not_admin",
            )
        return {
            "business_id": str(business["id"]),
            "name": business.get("name") or str(business["id"]),
            "user_id": str(user.get("id") or ""),
            "user_name": user.get("name"),
        }

    # -------------------------------------------------------- preflight

    def _granted_scopes(self, token: Token) -> set[str]:
        body = self._call("GET", "/me/permissions", token)
        return {
            str(p.get("permission"))
            for p in (body.get("data") if isinstance(body, dict) else None) or []
            if isinstance(p, dict) and p.get("status") == "granted"
        }

    def preflight(self, client_token: Token) -> list[Problem]:
        granted = self._granted_scopes(client_token)
        if REQUIRED_SCOPE not in granted:
            return [
                Problem(
                    "permission_declined",
                    _("Latchkey was not allowed to manage your business assets on Meta"),
                    _(
                        "Sharing goes through your business portfolio, so Meta must let "
                        "Latchkey manage it. Press Connect Meta again and, when Facebook asks, "
                        "keep “Manage your business” and every other permission ticked."
                    ),
                    help_url=PARTNERS_HELP,
                )
            ]
        problems: list[Problem] = []
        missing = [s for s in self.oauth_endpoints().scopes if s not in granted]
        if missing:
            problems.append(
                Problem(
                    "permission_partly_declined",
                    _("Some permissions were not allowed on Meta"),
                    _(
                        "Without them Latchkey cannot see all your assets (%(missing)s). "
                        "Press Connect Meta again and keep every permission ticked.",
                        missing=", ".join(missing),
                    ),
                    blocking=False,
                    help_url=PARTNERS_HELP,
                )
            )
        memberships = self._memberships(client_token)
        if not memberships:
            return [*problems, self._no_portfolio_problem(client_token, granted)]
        admin = [m for m in memberships if self._is_admin(m)]
        if not admin:
            business = memberships[0]["business"]
            name = business.get("name") or _("this business portfolio")
            problems.append(
                Problem(
                    "not_admin",
                    _("You are not an admin of %(business)s on Meta", business=name),
                    _(
                        "Only an admin of the business portfolio can share its assets with a "
                        "partner. Ask an admin of %(business)s to open this link, or to make "
                        "you an admin in Business settings → People (%(url)s), then connect "
                        "Meta again.",
                        business=name,
                        url=BUSINESS_SETTINGS,
                    ),
                    help_url=PEOPLE_HELP,
                )
            )
            return problems
        blocked = [m for m in admin if self._two_factor_blocks(m)]
        if blocked:
            names = ", ".join(m["business"].get("name") or m["business"]["id"] for m in blocked)
            problems.append(self._two_factor_problem(names, blocking=len(blocked) == len(admin)))
        return problems

    def _no_portfolio_problem(self, token: Token, granted: set[str]) -> Problem:
        personal: list[str] = []
        if "ads_management" in granted:
            personal = [
                a.get("name") or a.get("id")
                for a in self._paged("/me/adaccounts", token, {"fields": "id,name,business"})
                if not a.get("business")
            ]
        fix = _(
            "Meta shares assets between business portfolios, never from a personal profile. "
            "Create a free business portfolio in Meta Business Suite (%(url)s → Create a "
            "business portfolio), add your Page and ad account to it, then come back to this "
            "page and press Check again.",
            url=BUSINESS_HOME,
        )
        if personal:
            fix += " " + ngettext(
                "Your ad account %(accounts)s is personal: in Business settings → Accounts → "
                "Ad accounts, choose Add → Add an ad account and enter its id.",
                "Your ad accounts %(accounts)s are personal: in Business settings → Accounts → "
                "Ad accounts, choose Add → Add an ad account and enter each id.",
                len(personal),
                accounts=", ".join(str(p) for p in personal),
            )
        return Problem(
            "personal_account",
            _("Your Facebook profile has no business portfolio"),
            fix,
            help_url=CREATE_PORTFOLIO_HELP,
        )

    @staticmethod
    def _two_factor_problem(business_names: str, blocking: bool = True) -> Problem:
        return Problem(
            "two_factor_off",
            _("%(business)s requires two-factor authentication", business=business_names),
            _(
                "Meta only lets admins with two-factor authentication share the portfolio's "
                "assets. Turn it on in Accounts Center → Password and security → Two-factor "
                "authentication (%(url)s), then press Retry (or Check again).",
                url=ACCOUNTS_CENTER_SECURITY,
            ),
            blocking=blocking,
            help_url=TWO_FACTOR_HELP,
        )

    # ----------------------------------------------------------- assets

    def list_assets(self, client_token: Token, asset_type_ids: list[str]) -> dict[str, list[Asset]]:
        wanted = [t for t in asset_type_ids if t in OWNED_EDGES]
        result: dict[str, list[Asset]] = {t: [] for t in asset_type_ids}
        if not wanted:
            return result
        memberships = self._memberships(client_token)
        # The portfolios this person can share from; with none, what they can see.
        portfolios = [m["business"] for m in memberships if self._is_admin(m)] or [
            m["business"] for m in memberships
        ]
        for type_id in wanted:
            for business in portfolios:
                for node in self._paged(
                    f"/{business['id']}/{OWNED_EDGES[type_id]}",
                    client_token,
                    {"fields": ASSET_FIELDS[type_id]},
                ):
                    result[type_id].append(self._asset(type_id, node, business))
        return result

    @staticmethod
    def _asset(type_id: str, node: dict[str, Any], business: dict[str, Any]) -> Asset:
        details: dict[str, Any] = {
            "business_id": str(business["id"]),
            "business_name": business.get("name"),
        }
        if type_id == "AD_ACCOUNT":
            account_id = str(node.get("account_id") or str(node["id"]).removeprefix("act_"))
            details.update(
                currency=node.get("currency"),
                timezone=node.get("timezone_name"),
                account_status=node.get("account_status"),
            )
            return Asset(account_id, node.get("name") or f"act_{account_id}", type_id, details)
        if type_id == "PAGE":
            details["category"] = node.get("category")
        elif type_id == "PIXEL":
            details["last_fired_time"] = node.get("last_fired_time")
        elif type_id == "CATALOG":
            details.update(vertical=node.get("vertical"), product_count=node.get("product_count"))
        if type_id == "INSTAGRAM_ACCOUNT":
            name = f"@{node['username']}" if node.get("username") else str(node["id"])
        else:
            name = node.get("name") or str(node["id"])
        return Asset(str(node["id"]), name, type_id, details)

    @staticmethod
    def _node_id(asset_type: str, asset_id: str) -> str:
        if asset_type == "AD_ACCOUNT":
            return asset_id if str(asset_id).startswith("act_") else f"act_{asset_id}"
        return str(asset_id)

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
        if asset_type is None:
            return GrantResult(
                "failed",
                error=_("Meta has no asset of this kind."),
                fix=_("Ask the agency to send a corrected request."),
                external={"error_code": "invalid_asset_type"},
            )
        unknown = [p for p in permissions if asset_type.permission(p) is None]
        if unknown or not permissions:
            return GrantResult(
                "failed",
                error=_(
                    "The access asked for does not exist on a Meta %(type)s.",
                    type=asset_type.name,
                ),
                fix=_("Ask the agency to send a corrected request."),
                external={"error_code": "invalid_permission", "permissions": unknown},
            )
        agency_business = str(agency_identity.get("business_id") or "")
        if not agency_business:
            return GrantResult(
                "failed",
                error=_("The agency has not connected its Meta business portfolio to Latchkey."),
                fix=_("Let the agency know; once it connects Meta, open this link again."),
                external={"error_code": "agency_not_connected"},
            )
        client_business = str(asset.details.get("business_id") or "")
        node_id = self._node_id(asset.type, asset.id)
        tasks = _with_implied(asset.type, list(permissions))
        external: dict[str, Any] = {
            "agency_business_id": agency_business,
            "client_business_id": client_business or None,
            "node_id": node_id,
            "permitted_tasks": tasks,
            "method": "agencies",
        }
        if client_business and client_business == agency_business:
            return GrantResult(
                "failed",
                error=_("You signed in with the agency's own Meta business portfolio."),
                fix=_("Sign in to Facebook with your own account and try again."),
                external={**external, "error_code": "same_business"},
            )
        try:
            token: Token | str = client_token
            if asset.type == "PAGE":
                token = self._page_token(client_token, node_id)
            body = self._call(
                "POST",
                f"/{node_id}/agencies",
                token,
                data={"business": agency_business, "permitted_tasks": json.dumps(tasks)},
            )
            if not (isinstance(body, dict) and body.get("success") is True):
                raise PlatformError(
                    _("Meta did not confirm that this asset was shared."),
                    _("Press Retry. If it keeps failing, tell the agency."),
                    code="share_refused",
                    retryable=True,
                    detail=f"unexpected answer to POST /{node_id}/agencies",
                )
        except http.PlatformHTTPError as exc:
            failure = self._sharing_refusal(exc)
            return self._failed(failure, external)
        except PlatformError as exc:
            return self._failed(exc, external)
        return GrantResult("granted", external=external)

    @staticmethod
    def _failed(exc: PlatformError, external: dict[str, Any]) -> GrantResult:
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

    def _page_token(self, client_token: Token, page_id: str) -> str:
        """A Page is shared with the Page's own token, which its managers can get."""
        node = self._call("GET", f"/{page_id}", client_token, params={"fields": "access_token"})
        page_token = node.get("access_token") if isinstance(node, dict) else None
        if not page_token:
            raise PlatformError(
                _("Meta did not let Latchkey act for this Page."),
                _(
                    "Press Connect Meta again and, when Facebook asks which Pages Latchkey may "
                    "use, tick this Page. You need full control of the Page."
                ),
                code="page_token_missing",
            )
        return str(page_token)

    def _sharing_refusal(self, exc: http.PlatformHTTPError) -> PlatformError:
        """Explain Meta's refusals of a share in the client's terms."""
        error = self._meta_error(exc)
        subcode = error.get("error_subcode")
        said = (exc.platform_message or "").lower()
        if subcode == TWO_FACTOR_SUBCODE or "two-factor" in said:
            problem = self._two_factor_problem(_("Your business portfolio"))
            return PlatformError(
                problem.title,
                problem.fix,
                status=exc.status,
                code="two_factor_off",
                detail=exc.detail,
            )
        if subcode == NOT_ADMIN_SUBCODE or (exc.status == 403 and "admin" in said):
            return PlatformError(
                _("Only an admin of your Meta business portfolio can share its assets."),
                _(
                    "Ask an admin of the portfolio to open this link and finish this step, or "
                    "to make you an admin in Business settings → People (%(url)s). Then press "
                    "Retry.",
                    url=BUSINESS_SETTINGS,
                ),
                status=exc.status,
                code="not_admin",
                detail=exc.detail,
            )
        if subcode == SAME_BUSINESS_SUBCODE:
            return PlatformError(
                _("You signed in with the agency's own Meta business portfolio."),
                _("Sign in to Facebook with your own account and try again."),
                status=exc.status,
                code="same_business",
                detail=exc.detail,
            )
        if subcode == BUSINESS_UNKNOWN_SUBCODE:
            return PlatformError(
                _("Meta does not know the agency's business portfolio."),
                _("Let the agency know: its Meta connection in Latchkey needs to be renewed."),
                status=exc.status,
                code="agency_business_unknown",
                detail=exc.detail,
            )
        if error.get("code") == PAGE_TOKEN_REQUIRED:
            return PlatformError(
                _("Meta did not let Latchkey act for this Page."),
                _(
                    "Press Connect Meta again and, when Facebook asks which Pages Latchkey may "
                    "use, tick this Page."
                ),
                status=exc.status,
                code="page_token_missing",
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
        agency_business = str(
            agency_identity.get("business_id") or (external or {}).get("agency_business_id") or ""
        )
        edge = CLIENT_EDGES.get(asset_type)
        if not agency_business or edge is None:
            return VerifyResult(
                "missing",
                message=_("Latchkey does not know which Meta business portfolio should see this."),
            )
        fields = CLIENT_FIELDS + (",account_id" if asset_type == "AD_ACCOUNT" else "")
        node_id = self._node_id(asset_type, asset_id)
        seen = None
        for node in self._paged(f"/{agency_business}/{edge}", agency_token, {"fields": fields}):
            if str(node.get("id")) == node_id or (
                asset_type == "AD_ACCOUNT" and str(node.get("account_id")) == str(asset_id)
            ):
                seen = node
                break
        type_name = self._type_name(asset_type)
        if seen is None:
            return VerifyResult(
                "missing",
                message=_(
                    "The agency's business portfolio does not see this %(type)s on Meta.",
                    type=type_name,
                ),
            )
        if str(seen.get("access_status") or "").upper() == "PENDING":
            return VerifyResult(
                "pending",
                message=_(
                    "Meta shows this %(type)s as waiting for approval: an admin of the client's "
                    "business portfolio must approve the agency in Business settings → "
                    "Partners.",
                    type=type_name,
                ),
            )
        if "permitted_tasks" not in seen:
            # *Assumption*: without the tasks, the asset being listed is the access.
            return VerifyResult("verified", permissions=())
        have = tuple(sorted(str(t) for t in seen.get("permitted_tasks") or []))
        covered = set(_with_implied(asset_type, list(have)))
        lacking = [p for p in permissions if p not in covered]
        if not lacking:
            return VerifyResult("verified", permissions=have)
        labels = ", ".join(self._label(asset_type, p) for p in lacking)
        return VerifyResult(
            "insufficient",
            permissions=have,
            message=_("The agency sees this asset but is missing: %(missing)s.", missing=labels),
        )

    def _type_name(self, asset_type: str) -> str:
        found = self.asset_type(asset_type)
        return str(found.name) if found else asset_type

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
        """End the agency business's access to the client's asset, from the agency's side."""
        agency_business = str(
            (external or {}).get("agency_business_id") or agency_identity.get("business_id") or ""
        )
        if not agency_business or asset_type not in CLIENT_EDGES:
            raise PlatformError(
                _("Latchkey does not know which Meta business portfolio holds this access."),
                _(
                    "Remove the partner in Meta Business settings → Partners (%(url)s).",
                    url=BUSINESS_SETTINGS,
                ),
                code="revoke_unsupported",
            )
        node_id = self._node_id(asset_type, asset_id)
        try:
            body = self._call(
                "DELETE",
                f"/{node_id}/agencies",
                agency_token,
                params={"business": agency_business},
            )
        except http.PlatformHTTPError as exc:
            error = self._meta_error(exc)
            said = (exc.platform_message or "").lower()
            # Already gone: removal is done either way (jobs may run twice).
            if error.get("error_subcode") == NO_ACCESS_SUBCODE:
                return True
            if "has no access" in said:
                return True
            if exc.code in ("rate_limited", "platform_unavailable", "token_expired"):
                raise
            raise PlatformError(
                _("Meta did not remove the agency's access."),
                _(
                    "Remove the partner's access in Meta Business settings → Partners "
                    "(%(url)s), or ask an admin of the agency's portfolio to connect Meta "
                    "again and retry.",
                    url=BUSINESS_SETTINGS,
                ),
                status=exc.status,
                code="revoke_refused",
                detail=exc.detail,
            ) from None
        if not (isinstance(body, dict) and body.get("success") is True):
            raise PlatformError(
                _("Meta did not confirm that the agency's access was removed."),
                _("Try again in a minute, or remove it in Meta Business settings → Partners."),
                code="revoke_refused",
                retryable=True,
            )
        return True

    # ----------------------------------------------------- manual steps

    def manual_steps(
        self,
        asset_type_id: str,
        permissions: list[str],
        agency_identity: dict[str, Any] | None = None,
    ) -> list[ManualStep]:
        if asset_type_id == "AD_ACCOUNT" and "MANAGE" in permissions:
            return [
                ManualStep(
                    _l("Keep billing in your name"),
                    (
                        _l(
                            "Billing stays yours: keep your own payment method on the ad account "
                            "(Meta Billing & payments). If there is none yet, add it yourself; "
                            "the agency never needs your card details."
                        ),
                        _l(
                            "The agency asked to manage the ad account: it can also change the "
                            "account's settings. If campaigns and reports are enough, ask it "
                            "for Advertise instead."
                        ),
                        _l(
                            "You can check or remove the agency's access at any time in "
                            "Business settings → Partners."
                        ),
                    ),
                    link=BILLING_URL,
                    verifiable=True,
                )
            ]
        return []
