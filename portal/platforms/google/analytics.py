"""Google Analytics 4: access bindings for the agency's Google account.

The client's token adds an access binding for the agency's e-mail on the
account or the property, with one predefined role
(`POST /v1alpha/{accounts|properties}/{id}/accessBindings {user, roles}`).
Access is immediate: no invitation to accept. Verification uses the agency's
token: the account or property must be in its `accountSummaries`; when the
agency may read the property's access bindings (it is an administrator) the
exact role is checked too, otherwise the role Google confirmed at the grant is
reported. Removal deletes the agency's binding, which Google only lets an
administrator do.

*Assumptions* (platforms.md marks them unconfirmed): `accountSummaries` is how
the agency sees what it was given, and a non-administrator listing access
bindings gets 403. A second binding for the same person is 409 ALREADY_EXISTS.
"""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..base import Asset, AssetType, GrantResult, Permission, PlatformError, Token, VerifyResult
from .api import google_error
from .common import (
    Product,
    Survey,
    covers,
    failed,
    id_from,
    invalid_permissions,
    refusal,
    require_email,
    strongest,
)

SCOPES = (
    "https://www.googleapis.com/auth/analytics.readonly",
    "https://www.googleapis.com/auth/analytics.manage.users",
)
P = Permission
VIEWER = P("predefinedRoles/viewer", _l("Viewer"), _l("See reports and settings; change nothing."))
ANALYST = P(
    "predefinedRoles/analyst",
    _l("Analyst"),
    _l("Also create and share explorations, audiences and annotations."),
)
EDITOR = P(
    "predefinedRoles/editor",
    _l("Editor"),
    _l("Also change settings, data streams, events and conversions."),
)
ADMIN = P(
    "predefinedRoles/admin", _l("Administrator"), _l("Full control, including who has access.")
)
ROLE_ORDER = (VIEWER.id, ANALYST.id, EDITOR.id, ADMIN.id)
ROLES = (VIEWER, ANALYST, EDITOR, ADMIN)

GA4_PROPERTY = AssetType(
    "GA4_PROPERTY",
    _l("Google Analytics property"),
    ROLES,
    _l("One website or app's GA4 reports, events and conversions."),
)
GA4_ACCOUNT = AssetType(
    "GA4_ACCOUNT",
    _l("Google Analytics account"),
    ROLES,
    _l("Every GA4 property in the account, present and future."),
)
PARENT = {GA4_PROPERTY.id: "properties", GA4_ACCOUNT.id: "accounts"}
ADMIN_URL = "https://analytics.google.com/analytics/web/#/admin"
USERS_HELP = "https://support.google.com/analytics/answer/9305788"


class GoogleAnalytics(Product):
    key = "analytics"
    name = "Google Analytics"
    url_name = "analytics"
    scopes = SCOPES
    asset_types = (GA4_PROPERTY, GA4_ACCOUNT)

    def summaries(self, token: Token, memo: dict[str, Any] | None = None) -> list[dict]:
        key = f"analytics:summaries:{id(token)}"
        if memo is not None and key in memo:
            return memo[key]
        found = list(self.api.pages("/accountSummaries", token, "accountSummaries"))
        if memo is not None:
            memo[key] = found
        return found

    # ------------------------------------------------------- client side

    def survey(self, token: Token) -> Survey:
        body = self.api.call("GET", "/accountSummaries", token, params={"pageSize": 1})
        return Survey(bool((body or {}).get("accountSummaries")))

    def list_assets(self, token: Token, asset_type_id: str, memo: dict[str, Any]) -> list[Asset]:
        assets = []
        for summary in self.summaries(token, memo):
            account_id = id_from(summary.get("account"))
            account_name = summary.get("displayName") or account_id
            if asset_type_id == GA4_ACCOUNT.id:
                assets.append(
                    Asset(
                        id=account_id,
                        name=account_name,
                        type=GA4_ACCOUNT.id,
                        details={"properties": len(summary.get("propertySummaries") or ())},
                    )
                )
                continue
            for prop in summary.get("propertySummaries") or ():
                property_id = id_from(prop.get("property"))
                assets.append(
                    Asset(
                        id=property_id,
                        name=prop.get("displayName") or property_id,
                        type=GA4_PROPERTY.id,
                        details={
                            "account": account_name,
                            "account_id": account_id,
                            "property_type": prop.get("propertyType"),
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
        asset_type = GA4_ACCOUNT if asset.type == GA4_ACCOUNT.id else GA4_PROPERTY
        role = strongest(ROLE_ORDER, permissions)
        if role is None:
            return invalid_permissions(asset_type)
        parent = f"{PARENT[asset_type.id]}/{asset.id}"
        external: dict[str, Any] = {"product": self.key, "parent": parent, "roles": [role]}
        try:
            email = require_email(identity)
            external["email"] = email
            binding = self._bind(client_token, parent, email, role, asset)
        except PlatformError as exc:
            return failed(exc, external)
        external["binding"] = binding.get("name")
        external["roles"] = list(binding.get("roles") or [role])
        return GrantResult("granted", external=external)

    def _bind(self, token: Token, parent: str, email: str, role: str, asset: Asset) -> dict:
        try:
            return self.api.call(
                "POST",
                f"/{parent}/accessBindings",
                token,
                json={"user": email, "roles": [role]},
            )
        except PlatformError as exc:
            said = google_error(exc)
            if exc.status == 409 or said.status == "ALREADY_EXISTS":
                return self._raise_existing(token, parent, email, role)
            if exc.status == 403 and exc.code == "forbidden":
                raise refusal(
                    exc,
                    _(
                        "Only an Administrator of “%(name)s” in Google Analytics can add people.",
                        name=asset.name,
                    ),
                    _(
                        "Ask an Administrator to open this link and finish this step, or to make "
                        "you an Administrator (Admin → Access management in Google Analytics). "
                        "Then press Retry."
                    ),
                ) from None
            raise

    def _raise_existing(self, token: Token, parent: str, email: str, role: str) -> dict:
        """The agency already has a binding here: keep it, or raise it to `role`."""
        existing = self._binding_of(token, parent, email)
        if existing is None:
            raise PlatformError(
                _("Google Analytics says the agency already has access, but does not show it."),
                _("Try again in a minute. If it keeps happening, let the agency know."),
                code="inconsistent",
                retryable=True,
            )
        have = strongest(ROLE_ORDER, existing.get("roles") or ())
        if covers(ROLE_ORDER, have, [role]):
            return existing
        others = [r for r in existing.get("roles") or () if r not in ROLE_ORDER]
        return self.api.call(
            "PATCH",
            f"/{existing['name']}",
            token,
            # `name` is output-only in the AccessBinding description: the path names it.
            json={"user": email, "roles": [role, *others]},
        )

    def _binding_of(self, token: Token, parent: str, email: str) -> dict | None:
        for binding in self.api.pages(f"/{parent}/accessBindings", token, "accessBindings"):
            if str(binding.get("user") or "").lower() == email:
                return binding
        return None

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
        wanted = strongest(ROLE_ORDER, permissions) or VIEWER.id
        account_id = self._account_seen(agency_token, asset_type, asset_id)
        if account_id is None:
            return VerifyResult(
                "missing",
                message=_(
                    "The agency's Google account (%(email)s) does not see this %(type)s in "
                    "Google Analytics.",
                    email=email,
                    type=_type_name(asset_type),
                ),
            )
        parents = [f"{PARENT.get(asset_type, 'properties')}/{asset_id}"]
        if asset_type != GA4_ACCOUNT.id:
            parents.append(f"accounts/{account_id}")  # a role on the account covers it
        read: list[str] = []
        for parent in parents:
            try:
                binding = self._binding_of(agency_token, parent, email)
            except PlatformError as exc:
                if exc.status != 403:
                    raise
                continue
            read.extend((binding or {}).get("roles") or ())
        # Only administrators may read access bindings: otherwise the roles are
        # the ones Google confirmed when the client granted them, and seeing
        # the asset at all takes at least Viewer.
        roles = tuple(dict.fromkeys(read)) or tuple((external or {}).get("roles") or ())
        roles = roles or (VIEWER.id,)
        have = strongest(ROLE_ORDER, roles)
        if covers(ROLE_ORDER, have, [wanted]):
            return VerifyResult("verified", permissions=roles)
        return VerifyResult(
            "insufficient",
            permissions=roles,
            message=_(
                "The agency sees this in Google Analytics as %(have)s, not %(want)s.",
                have=self.label(asset_type, have or ""),
                want=self.label(asset_type, wanted),
            ),
        )

    def _account_seen(self, token: Token, asset_type: str, asset_id: str) -> str | None:
        """The account holding what the agency sees, or None when it does not see it."""
        for summary in self.summaries(token):
            account_id = id_from(summary.get("account"))
            if asset_type == GA4_ACCOUNT.id:
                if account_id == asset_id:
                    return account_id
                continue
            for prop in summary.get("propertySummaries") or ():
                if id_from(prop.get("property")) == asset_id:
                    return account_id
        return None

    def revoke(
        self,
        agency_token: Token,
        identity: dict[str, Any],
        asset_type: str,
        asset_id: str,
        external: dict[str, Any],
    ) -> bool:
        email = require_email(identity)
        if self._account_seen(agency_token, asset_type, asset_id) is None:
            return True  # the agency no longer sees it: nothing left to remove
        parent = f"{PARENT.get(asset_type, 'properties')}/{asset_id}"
        try:
            binding = self._binding_of(agency_token, parent, email)
            if binding is None:
                return True  # nothing left to remove
            self.api.call("DELETE", f"/{binding['name']}", agency_token)
        except PlatformError as exc:
            if exc.status != 403:
                raise
            raise PlatformError(
                _("Google Analytics only lets an Administrator remove people."),
                _(
                    "The client removes %(email)s in Google Analytics: Admin → Access "
                    "management, then Remove access.",
                    email=email,
                ),
                status=403,
                code="revoke_refused",
                detail=exc.detail,
            ) from None
        return True

    def removal_steps(self, asset_type_id: str, agency_name: str) -> list[str]:
        where = (
            _("Account access management")
            if asset_type_id == GA4_ACCOUNT.id
            else _("Property access management")
        )
        return [
            _("Open Google Analytics (%(url)s) as an Administrator.", url=ADMIN_URL),
            _("Choose the account or property, then Admin → %(where)s.", where=where),
            _(
                "Find %(agency)s's e-mail address, open its menu (⋮) and choose Remove access.",
                agency=agency_name,
            ),
        ]


def _type_name(asset_type: str) -> str:
    return str(GA4_ACCOUNT.name if asset_type == GA4_ACCOUNT.id else GA4_PROPERTY.name).lower()


__all__ = ["GA4_ACCOUNT", "GA4_PROPERTY", "ROLE_ORDER", "GoogleAnalytics"]
