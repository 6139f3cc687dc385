"""Google Ads: the agency's manager account links to the client's ad account.

A manager link takes both sides. The agency's token starts it from its
manager account (`customers/{manager}/customerClientLinks:mutate`, a PENDING
CustomerClientLink); the client's token accepts it from the ad account
(`customers/{client}/customerManagerLinks:mutate`, the CustomerManagerLink set
ACTIVE). Verification asks the manager account, with the agency's token,
whether the ad account is now one of its clients (GAQL `customer_client`);
removal sets the link INACTIVE (or cancels a request never accepted).

Every call carries the `developer-token` header (GOOGLE_ADS_DEVELOPER_TOKEN)
and a `login-customer-id` naming the account the call acts through.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..base import (
    Asset,
    AssetType,
    GrantResult,
    Permission,
    PlatformError,
    Problem,
    Token,
    VerifyResult,
)
from ..versions import GOOGLE_ADS
from .ads_refusals import link_refusal
from .api import TWO_STEP_URL, google_error
from .common import Product, Survey, agency_not_connected, failed, manager_id, refusal

# The Google Ads API version, set in portal/platforms/versions.py with its
# sunset: Google retires each about a year after its release. Moving it takes
# its description too (tests/platform_specs/google/ads-<version>.json).
API_VERSION = GOOGLE_ADS.version
API_URL = f"https://googleads.googleapis.com/{API_VERSION}"
SCOPE = "https://www.googleapis.com/auth/adwords"
MANAGER_LINK = Permission(
    "MANAGER_LINK",
    _l("Manager account link"),
    _l(
        "The agency's Google Ads manager account manages this ad account: campaigns, "
        "reports and settings. Ownership and billing stay yours, and you can unlink it "
        "at any time."
    ),
)
ADS_ACCOUNT = AssetType(
    "ADS_ACCOUNT",
    _l("Google Ads account"),
    (MANAGER_LINK,),
    _l("Campaigns, keywords, conversions and reporting in Google Ads."),
)
ACCESS_HELP = "https://support.google.com/google-ads/answer/7459601"
ADS_URL = "https://ads.google.com/aw/accountaccess/managers"
DEVELOPER_TOKEN_VARIABLE = "GOOGLE_ADS_DEVELOPER_TOKEN"  # noqa: S105 (a variable name)
# A client with many accounts: ask about this many at most when listing.
MAX_CUSTOMERS = 100


def format_customer_id(customer_id: str) -> str:
    """1234567890 -> 123-456-7890, as Google Ads shows it."""
    digits = "".join(ch for ch in str(customer_id) if ch.isdigit())
    if len(digits) != 10:
        return str(customer_id)
    return f"{digits[:3]}-{digits[3:6]}-{digits[6:]}"


class GoogleAds(Product):
    key = "ads"
    name = "Google Ads"
    url_name = "ads"
    scopes = (SCOPE,)
    asset_types = (ADS_ACCOUNT,)

    # ------------------------------------------------------------ HTTP

    def developer_token(self) -> str:
        token = current_app.config.get(DEVELOPER_TOKEN_VARIABLE)
        if token:
            return token
        if current_app.config.get("LATCHKEY_SANDBOX"):
            return "sandbox-developer-token"
        raise PlatformError(
            _("Google Ads is not set up on this Latchkey server."),
            _(
                "An administrator must set %(variable)s to the developer token shown in "
                "the API Center of the agency's Google Ads manager account.",
                variable=DEVELOPER_TOKEN_VARIABLE,
            ),
            code="not_configured",
        )

    def _call(
        self,
        method: str,
        path: str,
        token: Token,
        *,
        login: str | None = None,
        json: Any = None,
        read: bool | None = None,
    ) -> Any:
        headers = {"developer-token": self.developer_token()}
        if login:
            headers["login-customer-id"] = login
        return self.api.call(method, path, token, json=json, headers=headers, read=read)

    def accessible(self, token: Token) -> list[str]:
        """The ids of the accounts this Google account reaches directly."""
        body = self._call("GET", "/customers:listAccessibleCustomers", token)
        names = body.get("resourceNames") if isinstance(body, dict) else None
        return [str(n).rsplit("/", 1)[-1] for n in names or ()][:MAX_CUSTOMERS]

    def search(self, token: Token, customer_id: str, query: str, login: str | None = None):
        """Every row a GAQL query returns for one account."""
        body: dict[str, Any] = {"query": query}
        rows: list[dict[str, Any]] = []
        for _page in range(20):
            answer = self._call(
                "POST",
                f"/customers/{customer_id}/googleAds:search",
                token,
                login=login or customer_id,
                json=body,
                read=True,
            )
            answer = answer if isinstance(answer, dict) else {}
            rows.extend(r for r in answer.get("results") or () if isinstance(r, dict))
            if not answer.get("nextPageToken"):
                break
            body = {"query": query, "pageToken": answer["nextPageToken"]}
        return rows

    def customer(self, token: Token, customer_id: str) -> dict[str, Any]:
        rows = self.search(
            token,
            customer_id,
            "SELECT customer.id, customer.descriptive_name, customer.currency_code, "
            "customer.time_zone, customer.manager, customer.test_account, customer.status "
            "FROM customer",
        )
        return (rows[0].get("customer") or {}) if rows else {}

    def managers(self, token: Token) -> list[dict[str, str]]:
        """The manager accounts this Google account reaches: [{"id", "name"}]."""
        found = []
        for customer_id in self.accessible(token):
            customer = self.customer(token, customer_id)
            if customer.get("manager"):
                found.append(
                    {
                        "id": str(customer.get("id") or customer_id),
                        "name": customer.get("descriptiveName") or format_customer_id(customer_id),
                    }
                )
        return found

    # ------------------------------------------------------- client side

    def survey(self, token: Token) -> Survey:
        ids = self.accessible(token)
        if not ids:
            return Survey(False)
        survey = Survey(True)
        try:
            self.customer(token, ids[0])
        except PlatformError as exc:
            if exc.code != "two_factor_off":
                raise
            survey.problems.append(_two_step_problem())
        return survey

    def list_assets(self, token: Token, asset_type_id: str, memo: dict[str, Any]) -> list[Asset]:
        assets: list[Asset] = []
        for customer_id in self.accessible(token):
            try:
                customer = self.customer(token, customer_id)
            except PlatformError as exc:
                if exc.code != "two_factor_off":
                    raise
                # Google Ads tells nothing more until 2-Step Verification is on; the
                # account is still listed so the rest can be shared, and its grant
                # explains what to do (so does preflight).
                assets.append(
                    Asset(
                        id=customer_id,
                        name=_("Google Ads account %(id)s", id=format_customer_id(customer_id)),
                        type=ADS_ACCOUNT.id,
                        details={
                            "customer_id": format_customer_id(customer_id),
                            "two_step_verification_required": True,
                        },
                    )
                )
                continue
            if customer.get("manager") or customer.get("status", "ENABLED") != "ENABLED":
                continue
            assets.append(
                Asset(
                    id=customer_id,
                    name=customer.get("descriptiveName") or format_customer_id(customer_id),
                    type=ADS_ACCOUNT.id,
                    details={
                        "customer_id": format_customer_id(customer_id),
                        "currency": customer.get("currencyCode"),
                        "time_zone": customer.get("timeZone"),
                        "test_account": bool(customer.get("testAccount")),
                    },
                )
            )
        return assets

    def grant(
        self,
        client_token: Token,
        agency_token: Token | None,
        identity: dict[str, Any],
        asset: Asset,
        permissions: list[str],
    ) -> GrantResult:
        manager = manager_id(identity)
        if agency_token is None:
            return agency_not_connected(self.name)
        if not manager:
            return GrantResult(
                "failed",
                error=_("The agency has no Google Ads manager account connected to Latchkey."),
                fix=_(
                    "Let the agency know: it connects Google with an account that can use "
                    "its Google Ads manager account (or enters the manager account id in "
                    "Connections). Then open this link again."
                ),
                external={"error_code": "no_manager_account"},
            )
        client = "".join(ch for ch in asset.id if ch.isdigit())
        external: dict[str, Any] = {
            "product": self.key,
            "manager_id": manager,
            "client_customer_id": client,
            "permissions": list(permissions),
        }
        if client == manager:
            return failed(
                PlatformError(
                    _("You chose the agency's own manager account."),
                    _("Sign in to Google with your own account and choose your ad account."),
                    code="same_account",
                ),
                external,
            )
        try:
            link_id = self._invite(agency_token, manager, client)
            if link_id is None:
                external["method"] = "already_linked"
            else:
                external["method"] = "manager_link"
                external["manager_link_id"] = link_id
                self._accept(client_token, client, manager, link_id)
        except PlatformError as exc:
            return failed(exc, external)
        return GrantResult("granted", external=external)

    def _invite(self, agency_token: Token, manager: str, client: str) -> str | None:
        """Agency side: the link request's id, or None when the link is already active."""
        try:
            body = self._call(
                "POST",
                f"/customers/{manager}/customerClientLinks:mutate",
                agency_token,
                login=manager,
                json={
                    "operation": {
                        "create": {"clientCustomer": f"customers/{client}", "status": "PENDING"}
                    }
                },
            )
        except PlatformError as exc:
            reason = google_error(exc).reason
            if reason == "ALREADY_MANAGED_BY_THIS_MANAGER":
                return None
            if reason == "ALREADY_INVITED_BY_THIS_MANAGER":
                pending = self._link(agency_token, manager, client, ("PENDING",))
                if pending is not None:
                    return pending[0]
            if reason in ("USER_PERMISSION_DENIED", "ACTION_NOT_PERMITTED"):
                raise refusal(
                    exc,
                    _(
                        "The agency's Google account cannot send link requests from its "
                        "manager account %(manager)s.",
                        manager=format_customer_id(manager),
                    ),
                    _(
                        "Let the agency know: it reconnects Google (Connections) with an "
                        "administrator of that manager account. Then press Retry."
                    ),
                    "agency_not_manager",
                ) from None
            raise link_refusal(exc) from None
        resource = ((body or {}).get("result") or {}).get("resourceName") or ""
        if "~" not in resource:
            raise PlatformError(
                _("Google Ads did not return the agency's link request."),
                _("Try again in a few minutes. If it keeps failing, let the agency know."),
                code="bad_response",
                retryable=True,
                detail=f"customerClientLinks:mutate answered {body!r:.200}",
            )
        return resource.rsplit("~", 1)[-1]

    def _accept(self, client_token: Token, client: str, manager: str, link_id: str) -> None:
        """Client side: accept the agency's request from the ad account."""
        try:
            self._call(
                "POST",
                f"/customers/{client}/customerManagerLinks:mutate",
                client_token,
                login=client,
                json={
                    "operations": [
                        {
                            "update": {
                                "resourceName": (
                                    f"customers/{client}/customerManagerLinks/{manager}~{link_id}"
                                ),
                                "status": "ACTIVE",
                            },
                            "updateMask": "status",
                        }
                    ]
                },
            )
        except PlatformError as exc:
            raise link_refusal(exc) from None

    def _link(
        self, agency_token: Token, manager: str, client: str, statuses: tuple[str, ...] = ()
    ) -> tuple[str, str] | None:
        """(manager link id, status) of the manager's link to `client`, preferring `statuses`."""
        rows = self.search(
            agency_token,
            manager,
            "SELECT customer_client_link.client_customer, "  # noqa: S608 (GAQL; client is digits)
            "customer_client_link.manager_link_id, "
            "customer_client_link.status FROM customer_client_link "
            f"WHERE customer_client_link.client_customer = 'customers/{client}'",
        )
        links = [
            (str(link.get("managerLinkId") or ""), str(link.get("status") or ""))
            for link in (row.get("customerClientLink") or {} for row in rows)
        ]
        for wanted in statuses or ("ACTIVE", "PENDING"):
            for link_id, status in links:
                if status == wanted:
                    return link_id, status
        return links[0] if links and not statuses else None

    # ------------------------------------------------------- agency side

    def verify(
        self,
        agency_token: Token,
        identity: dict[str, Any],
        asset_type: str,
        asset_id: str,
        permissions: list[str],
        external: dict[str, Any],
    ) -> VerifyResult:
        manager = manager_id(identity) or str((external or {}).get("manager_id") or "")
        if not manager:
            return VerifyResult(
                "missing",
                message=_("Latchkey does not know the agency's Google Ads manager account."),
            )
        client = "".join(ch for ch in asset_id if ch.isdigit())
        rows = self.search(
            agency_token,
            manager,
            "SELECT customer_client.client_customer, customer_client.level, "  # noqa: S608 (GAQL)
            "customer_client.status FROM customer_client "
            f"WHERE customer_client.client_customer = 'customers/{client}'",
        )
        if any(int((row.get("customerClient") or {}).get("level") or 0) >= 1 for row in rows):
            return VerifyResult("verified", permissions=(MANAGER_LINK.id,))
        link = self._link(agency_token, manager, client)
        status = link[1] if link else ""
        if status == "ACTIVE":
            return VerifyResult("verified", permissions=(MANAGER_LINK.id,))
        if status == "PENDING":
            return VerifyResult(
                "pending",
                message=_(
                    "The agency's link request waits for an administrator of Google Ads "
                    "account %(account)s to accept it (Google Ads → Admin → Access and "
                    "security → Managers).",
                    account=format_customer_id(client),
                ),
            )
        if status == "REFUSED":
            return VerifyResult(
                "missing",
                message=_("The agency's link request to this Google Ads account was declined."),
            )
        return VerifyResult(
            "missing",
            message=_("The agency's manager account does not manage this Google Ads account."),
        )

    def revoke(
        self,
        agency_token: Token,
        identity: dict[str, Any],
        asset_type: str,
        asset_id: str,
        external: dict[str, Any],
    ) -> bool:
        """End the link from the manager's side (or cancel a request never accepted)."""
        manager = manager_id(identity) or str((external or {}).get("manager_id") or "")
        if not manager:
            raise PlatformError(
                _("Latchkey does not know the agency's Google Ads manager account."),
                _(
                    "Unlink the manager account in Google Ads (Admin → Access and security → "
                    "Managers)."
                ),
                code="revoke_unsupported",
            )
        client = "".join(ch for ch in asset_id if ch.isdigit())
        link = self._link(agency_token, manager, client, ("ACTIVE", "PENDING"))
        if link is None:
            return True  # no link left: removal is done either way
        link_id, status = link
        if status == "ACTIVE":
            self._call(
                "POST",
                f"/customers/{client}/customerManagerLinks:mutate",
                agency_token,
                login=manager,
                json={
                    "operations": [
                        {
                            "update": {
                                "resourceName": (
                                    f"customers/{client}/customerManagerLinks/{manager}~{link_id}"
                                ),
                                "status": "INACTIVE",
                            },
                            "updateMask": "status",
                        }
                    ]
                },
            )
        else:
            self._call(
                "POST",
                f"/customers/{manager}/customerClientLinks:mutate",
                agency_token,
                login=manager,
                json={
                    "operation": {
                        "update": {
                            "resourceName": (
                                f"customers/{manager}/customerClientLinks/{client}~{link_id}"
                            ),
                            "status": "CANCELED",
                        },
                        "updateMask": "status",
                    }
                },
            )
        return True

    def removal_steps(self, asset_type_id: str, agency_name: str) -> list[str]:
        return [
            _(
                "Sign in to Google Ads (%(url)s) as an administrator of the ad account.",
                url=ADS_URL,
            ),
            _("Open Admin → Access and security, then the Managers tab."),
            _(
                "Find %(agency)s's manager account, open its menu and choose Unlink.",
                agency=agency_name,
            ),
        ]


def _two_step_problem() -> Problem:
    return Problem(
        "two_factor_off",
        _("Google Ads asks for 2-Step Verification on your Google account"),
        _(
            "Your Google Ads account only lets people with 2-Step Verification change who "
            "has access. Turn it on (%(url)s), then sign in to Google again on this page. "
            "Other Google products can be shared meanwhile.",
            url=TWO_STEP_URL,
        ),
        blocking=False,
        help_url="https://support.google.com/accounts/answer/185839",
    )


__all__ = [
    "ADS_ACCOUNT",
    "API_URL",
    "API_VERSION",
    "MANAGER_LINK",
    "GoogleAds",
    "format_customer_id",
]
