"""The agency's side on LinkedIn: verifying a person's role, and giving it up.

A mixin of `LinkedInConnector`: it reads the agency person's own roles
(`_account_roles`, `_page_roles`) and calls the API (`_call`, `_key`)
through the connector.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask_babel import gettext as _

from .. import http
from ..base import AssetType, PlatformError, Token, VerifyResult
from .roles import ACCOUNT_ROLE_ORDER, ACCOUNT_URN, ORGANIZATION_URN, PAGE_ADMIN_ROLE, PERSON_URN


class AgencySide:
    _account_roles: Callable[[Token], dict[str, str]]
    _page_roles: Callable[[Token], dict[str, set[str]]]
    _call: Callable[..., Any]
    _key: Callable[..., str]
    asset_type: Callable[[str], AssetType | None]

    @staticmethod
    def _strongest_account_role(roles: list[str] | tuple[str, ...]) -> str:
        known = [r for r in roles if r in ACCOUNT_ROLE_ORDER]
        return max(known, key=ACCOUNT_ROLE_ORDER.index) if known else ACCOUNT_ROLE_ORDER[0]

    @staticmethod
    def _covers(have: str | None, needed: str) -> bool:
        if have not in ACCOUNT_ROLE_ORDER:
            return False
        return ACCOUNT_ROLE_ORDER.index(have) >= ACCOUNT_ROLE_ORDER.index(needed)

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
            account = ACCOUNT_URN + str(asset_id)
            calls = [
                ("DELETE", "/adAccountUsers/" + self._key(account=account, user=person_urn), None)
            ]
        elif asset_type == "ORGANIZATION":
            manual_fix = _(
                "Remove the agency's person in your Page's admin view: Settings → Manage "
                "admins, then remove them."
            )
            organization = ORGANIZATION_URN + str(asset_id)
            roles = sorted(self._page_roles(agency_token).get(str(asset_id), set()))
            # organizationAcls documents PUT as its only write method (no DELETE, no
            # PARTIAL_UPDATE): the whole entity, its state REVOKED, removes the role.
            calls = [
                (
                    "PUT",
                    "/organizationAcls/"
                    + self._key(organization=organization, role=role, roleAssignee=person_urn),
                    {
                        "organization": organization,
                        "role": role,
                        "roleAssignee": person_urn,
                        "state": "REVOKED",
                    },
                )
                for role in roles
            ]
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
        for method, path, body in calls:
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
