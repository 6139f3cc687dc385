"""Pinterest API v5 connector.

Grants go business to business. The agency (with its own connected token)
sends a partner request to the client's business; the client (with the token
from signing in through the link) accepts it with the assets and permissions
asked for. Once the two businesses are partners, more assets are shared with
one call from the client's side. Verification and removal use the agency's
token only.

Every call follows Pinterest's published description (pinterest/api-description,
kept trimmed in `tests/platform_specs/pinterest/`, checked in the tests).
Where it is silent (error codes, the meaning of a field), the choice is said
where it is made, and the sandbox (`portal.sandbox.pinterest`) emulates it.
"""

from __future__ import annotations

import time
from typing import Any

from flask_babel import gettext as _

from .. import http
from ..base import (
    Asset,
    ManualStep,
    PlatformError,
    Problem,
    Token,
    VerifyResult,
)
from .sharing import BusinessAccess
from .steps import manual_steps
from .terms import (
    ASSET_TYPES,
    BUSINESS_ACCESS_HELP,
    BUSINESS_ACCESS_URL,
    CONVERT_URL,
    HELP_BUSINESS_ACCOUNT,
    TAG_RECENT_SECONDS,
)


class PinterestConnector(BusinessAccess):
    id = "pinterest"
    name = "Pinterest"
    real_urls = {
        "api": "https://api.pinterest.com/v5",
        "authorize": "https://www.pinterest.com/oauth/",
        "token": "https://api.pinterest.com/v5/oauth/token",
    }
    asset_types = ASSET_TYPES

    # ------------------------------------------------------- who is who

    def agency_identity(self, agency_token: Token) -> dict[str, Any]:
        user = self._user(agency_token)
        business = self._main_business(self._employers(agency_token))
        if business is None:
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
            "name": user.get("business_name")
            or self._business_label(business)
            or user.get("username"),
            "username": user.get("username"),
        }

    # -------------------------------------------------------- preflight

    def preflight(self, client_token: Token) -> list[Problem]:
        """Personal account, no business, no admin rights. Pinterest's account
        tells nothing of two-factor authentication: a refusal to accept the
        invitation says so at the grant step (`two_factor_off`)."""
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
        businesses = self._employers(client_token)
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
        business = self._main_business(businesses)
        if self._is_admin(business) is not False:
            return []
        label = self._business_label(business)
        return [
            Problem(
                "not_admin",
                _(
                    "You are not an admin of %(business)s on Pinterest",
                    business=label or _("this business"),
                ),
                _(
                    "Only a business admin can share its assets. Ask an admin of "
                    "%(business)s to open this link, or to make you an admin in Business "
                    "Access (%(access)s → Employees), then sign in again.",
                    business=label or _("the business"),
                    access=BUSINESS_ACCESS_URL,
                ),
                help_url=BUSINESS_ACCESS_HELP,
            )
        ]

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
        business = self._main_business(self._employers(token))
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
        """A tag on the ad account that reported a visit in the last 7 days: its
        `last_fired_time_ms`, else the account's page-visit events."""
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
        if any(_recent(tag.get("last_fired_time_ms"), 1000) for tag in tags):
            return VerifyResult("verified", permissions=("VERIFY_TAG",))
        tag_ids = {str(tag.get("id")) for tag in tags}
        try:
            # Newest first (by id): the first page holds the latest visits.
            visits = self._items(
                self._call(
                    "GET",
                    f"/ad_accounts/{ad_account_id}/conversion_tags/page_visit",
                    agency_token,
                    params={"order": "DESCENDING", "page_size": self.page_size},
                )
            )
            seen = any(
                str(v.get("conversion_tag_id")) in tag_ids and _recent(v.get("created_time"))
                for v in visits
            )
        except http.PlatformHTTPError as exc:
            if exc.status not in (403, 404):
                raise
            seen = False  # no page-visit events to read: the tag's own time said it all
        if seen:
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
        try:
            self._call(
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
        except http.PlatformHTTPError as exc:
            if exc.status not in (400, 403, 404, 409):
                raise
            raise PlatformError(
                _("Pinterest did not remove the agency's access."),
                _(
                    "Remove the agency in Pinterest Business Access (%(access)s → Partners).",
                    access=BUSINESS_ACCESS_URL,
                ),
                status=exc.status,
                code="revoke_refused",
                detail=exc.detail,
            ) from None
        # The answer lists the accesses it ended; one already gone is not an
        # error (jobs may run twice), so the list is not checked.
        return True

    # ----------------------------------------------------- manual steps

    def manual_steps(
        self,
        asset_type_id: str,
        permissions: list[str],
        agency_identity: dict[str, Any] | None = None,
    ) -> list[ManualStep]:
        return manual_steps(asset_type_id, permissions)


def _recent(timestamp: Any, per_second: int = 1) -> bool:
    """Within the last 7 days. `per_second`: 1000 for milliseconds. Pinterest
    gives page visits' `created_time` in "epoch format": seconds, or
    milliseconds when the number is that large."""
    if not isinstance(timestamp, (int, float)) or timestamp <= 0:
        return False
    if per_second == 1 and timestamp > 10**11:
        per_second = 1000
    return time.time() - timestamp / per_second <= TAG_RECENT_SECONDS
