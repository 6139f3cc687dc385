"""Google Merchant Center: a user with access rights for the agency's Google account.

The client's token adds the agency's e-mail as a user of the Merchant Center
account with the access rights asked for (Merchant API
`POST /accounts/v1/accounts/{id}/users?userId=<email>`); only an account admin
may. The new user is PENDING until the invited person accepts. Merchant API
lets that person accept with their own token (`users/me:verifySelf`), so
verification does it with the agency's token, then checks the rights the
agency now has (`users/me`).

*Assumption*: the `content` scope covers Merchant API (platforms.md marks it
unconfirmed); Google documents it for every accounts method used here.
"""

from __future__ import annotations

from typing import Any

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
from .api import google_error
from .common import Product, Survey, failed, invalid_permissions, refusal, require_email

SCOPE = "https://www.googleapis.com/auth/content"
P = Permission
READ_ONLY = P("READ_ONLY", _l("Read only"), _l("See products, feeds and reports; change nothing."))
STANDARD = P(
    "STANDARD",
    _l("Standard"),
    _l("Manage products, feeds and most settings; cannot manage people."),
)
ADMIN = P("ADMIN", _l("Admin"), _l("Full control, including people and linked accounts."))
PERFORMANCE_REPORTING = P(
    "PERFORMANCE_REPORTING",
    _l("Performance and insights"),
    _l("See performance reports and insights, and receive their e-mails."),
)
MERCHANT_CENTER_ACCOUNT = AssetType(
    "MERCHANT_CENTER_ACCOUNT",
    _l("Merchant Center account"),
    (STANDARD, READ_ONLY, ADMIN, PERFORMANCE_REPORTING),
    _l("Products, feeds and diagnostics for Shopping ads and free listings."),
)
# What each access right also gives.
IMPLIES = {
    ADMIN.id: {STANDARD.id, READ_ONLY.id, PERFORMANCE_REPORTING.id},
    STANDARD.id: {READ_ONLY.id},
}
MERCHANT_URL = "https://merchants.google.com/"
PEOPLE_HELP = "https://support.google.com/merchants/answer/12160472"


def rights_cover(have: list[str] | tuple[str, ...], want: list[str]) -> bool:
    held = set(have)
    for right in have:
        held |= IMPLIES.get(right, set())
    return all(w in held for w in want)


class MerchantCenter(Product):
    key = "merchant"
    name = "Merchant Center"
    url_name = "merchant"
    scopes = (SCOPE,)
    asset_types = (MERCHANT_CENTER_ACCOUNT,)

    def accounts(self, token: Token) -> list[dict]:
        return list(self.api.pages("/accounts", token, "accounts"))

    # ------------------------------------------------------- client side

    def survey(self, token: Token) -> Survey:
        accounts = self.accounts(token)
        if not accounts:
            return Survey(False)
        names = []
        for account in accounts[:3]:
            me = self.api.call("GET", f"/accounts/{account.get('accountId')}/users/me", token)
            if ADMIN.id in ((me or {}).get("accessRights") or ()):
                return Survey(True)
            names.append(account.get("accountName") or str(account.get("accountId")))
        return Survey(
            True,
            [
                Problem(
                    "not_admin_merchant_center",
                    _(
                        "You are not an admin of %(accounts)s in Merchant Center",
                        accounts=", ".join(f"“{n}”" for n in names),
                    ),
                    _(
                        "Only an admin can add people in Merchant Center. If the agency asked "
                        "for Merchant Center, ask an admin to open this link, or to give you "
                        "Admin access (Settings → People and access), then press Check again."
                    ),
                    blocking=False,
                    help_url=PEOPLE_HELP,
                )
            ],
        )

    def list_assets(self, token: Token, asset_type_id: str, memo: dict[str, Any]) -> list[Asset]:
        return [
            Asset(
                id=str(account.get("accountId")),
                name=account.get("accountName") or str(account.get("accountId")),
                type=MERCHANT_CENTER_ACCOUNT.id,
                details={
                    "language": account.get("languageCode"),
                    "time_zone": (account.get("timeZone") or {}).get("id"),
                },
            )
            for account in self.accounts(token)
            if account.get("accountId")
        ]

    def grant(
        self,
        client_token: Token,
        agency_token: Token | None,
        identity: dict[str, Any],
        asset: Asset,
        permissions: list[str],
    ) -> GrantResult:
        wanted = [p for p in dict.fromkeys(permissions) if MERCHANT_CENTER_ACCOUNT.permission(p)]
        if not wanted or len(wanted) != len(set(permissions)):
            return invalid_permissions(MERCHANT_CENTER_ACCOUNT)
        external: dict[str, Any] = {
            "product": self.key,
            "account_id": asset.id,
            "access_rights": wanted,
        }
        try:
            email = require_email(identity)
            external["email"] = email
            user = self._add(client_token, asset, email, wanted)
        except PlatformError as exc:
            return failed(exc, external)
        external["user"] = user.get("name")
        external["state"] = user.get("state")
        if user.get("state") == "PENDING":
            external["waiting_for"] = "agency_acceptance"
            return GrantResult("pending", external=external)
        return GrantResult("granted", external=external)

    def _add(self, token: Token, asset: Asset, email: str, wanted: list[str]) -> dict:
        path = f"/accounts/{asset.id}/users"
        try:
            return self.api.call(
                "POST", path, token, params={"userId": email}, json={"accessRights": wanted}
            )
        except PlatformError as exc:
            said = google_error(exc)
            if exc.status == 409 or said.status == "ALREADY_EXISTS":
                existing = self.api.call("GET", f"{path}/{email}", token)
                have = list(existing.get("accessRights") or ())
                if rights_cover(have, wanted):
                    return existing
                return self.api.call(
                    "PATCH",
                    f"{path}/{email}",
                    token,
                    params={"updateMask": "accessRights"},
                    json={"accessRights": sorted(set(have) | set(wanted))},
                )
            if exc.status == 403 and exc.code == "forbidden":
                raise refusal(
                    exc,
                    _(
                        "Only an admin of “%(name)s” can add people in Merchant Center.",
                        name=asset.name,
                    ),
                    _(
                        "Ask an admin to open this link and finish this step, or to give you "
                        "Admin access (Settings → People and access). Then press Retry."
                    ),
                ) from None
            raise

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
        email = require_email(identity)
        me = self._me(agency_token, asset_id)
        if me is None:
            return VerifyResult(
                "missing",
                message=_("%(email)s is not a user of this Merchant Center account.", email=email),
            )
        if me.get("state") == "PENDING":
            try:
                me = self.api.call(
                    "PATCH", f"/accounts/{asset_id}/users/me:verifySelf", agency_token, json={}
                )
            except PlatformError as exc:
                if exc.status not in (400, 403, 404, 409):
                    raise
                return VerifyResult(
                    "pending",
                    message=_(
                        "Merchant Center invited %(email)s; the invitation waits for that "
                        "Google account to accept it (Merchant Center → the invitation banner, "
                        "or the invitation e-mail).",
                        email=email,
                    ),
                )
        have = tuple(me.get("accessRights") or ())
        if me.get("state") == "PENDING":
            return VerifyResult(
                "pending",
                permissions=have,
                message=_("Merchant Center has not confirmed %(email)s yet.", email=email),
            )
        if rights_cover(have, permissions):
            return VerifyResult("verified", permissions=have)
        missing = [p for p in permissions if not rights_cover(have, [p])]
        return VerifyResult(
            "insufficient",
            permissions=have,
            message=_(
                "The agency is a user of this Merchant Center account but is missing: %(missing)s.",
                missing=self.labels(asset_type, missing),
            ),
        )

    def _me(self, token: Token, account_id: str) -> dict | None:
        try:
            return self.api.call("GET", f"/accounts/{account_id}/users/me", token)
        except PlatformError as exc:
            if exc.status in (403, 404) and exc.code != "scope_missing":
                return None
            raise

    def revoke(
        self,
        agency_token: Token,
        identity: dict[str, Any],
        asset_type: str,
        asset_id: str,
        external: dict[str, Any],
    ) -> bool:
        email = require_email(identity)
        if self._me(agency_token, asset_id) is None:
            return True
        try:
            # "me" is the agency's own user (and keeps its address out of logs).
            self.api.call("DELETE", f"/accounts/{asset_id}/users/me", agency_token)
        except PlatformError as exc:
            if exc.status == 404:
                return True
            if exc.status not in (400, 403):
                raise
            raise PlatformError(
                _("Merchant Center only lets an admin remove people."),
                _(
                    "The client removes %(email)s in Merchant Center: Settings → People and "
                    "access, then Remove.",
                    email=email,
                ),
                status=exc.status,
                code="revoke_refused",
                detail=exc.detail,
            ) from None
        return True

    def removal_steps(self, asset_type_id: str, agency_name: str) -> list[str]:
        return [
            _("Open Merchant Center (%(url)s) as an admin of the account.", url=MERCHANT_URL),
            _("Open Settings (the gear) → People and access."),
            _("Open %(agency)s's e-mail address and choose Remove.", agency=agency_name),
        ]


__all__ = ["MERCHANT_CENTER_ACCOUNT", "MerchantCenter", "rights_cover"]
