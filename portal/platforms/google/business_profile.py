"""Google Business Profile: the agency's Google account invited as a location admin.

The client's token invites the agency's e-mail to manage a location
(Account Management API `POST /v1/locations/{id}/admins {admin, role}`); only
an owner of the location may. The invitation stays pending until the invitee
accepts it, and the API lets the invitee accept with their own token
(`accounts/{id}/invitations/{id}:accept`). So verification, with the agency's
token, finds the invitation among the agency's own (by the location's name
and address, the only identifying fields an invitation carries), accepts it,
then checks the agency's role in the location's admins.

*Assumption*: an admin may remove themselves (`DELETE .../admins/{own}`), as
the Business Profile pages let them; if Google refuses, the client is told
how to remove the agency.
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

SCOPE = "https://www.googleapis.com/auth/business.manage"
P = Permission
OWNER = P("OWNER", _l("Owner"), _l("Full control of the profile, including who manages it."))
MANAGER = P(
    "MANAGER",
    _l("Manager"),
    _l("Edit the profile, reply to reviews and post updates; cannot manage owners."),
)
SITE_MANAGER = P(
    "SITE_MANAGER",
    _l("Site manager"),
    _l("Edit most of the profile's information; cannot manage people."),
)
ROLE_ORDER = (SITE_MANAGER.id, MANAGER.id, OWNER.id, "PRIMARY_OWNER")
OWNER_ROLES = frozenset({OWNER.id, "PRIMARY_OWNER"})
BUSINESS_PROFILE_LOCATION = AssetType(
    "BUSINESS_PROFILE_LOCATION",
    _l("Business Profile"),
    (MANAGER, OWNER, SITE_MANAGER),
    _l("A business's listing on Google Search and Maps: details, reviews and posts."),
)
READ_MASK = "name,title,storefrontAddress"
PROFILES_URL = "https://business.google.com/locations"
PEOPLE_HELP = "https://support.google.com/business/answer/3403100"


def one_line(address: dict[str, Any] | None) -> str:
    """A postal address on one line, as an invitation shows it."""
    if not address:
        return ""
    parts = [
        *(address.get("addressLines") or ()),
        address.get("locality"),
        address.get("postalCode"),
    ]
    return ", ".join(str(p) for p in parts if p)


class BusinessProfile(Product):
    key = "business_profile"
    name = "Business Profile"
    url_name = "business_accounts"
    scopes = (SCOPE,)
    asset_types = (BUSINESS_PROFILE_LOCATION,)

    def accounts(self, token: Token) -> list[dict]:
        return list(self.api.pages("/accounts", token, "accounts"))

    def locations(self, token: Token, account: str, page_size: int | None = None) -> list[dict]:
        params: dict[str, Any] = {"readMask": READ_MASK}
        if page_size:
            params["pageSize"] = page_size
        return list(
            self.api.pages(
                f"/{account}/locations", token, "locations", params, url_name="business_info"
            )
        )

    def admins(self, token: Token, location_id: str) -> list[dict]:
        # One answer: Google describes no paging for a location's admins.
        body = self.api.call("GET", f"/locations/{location_id}/admins", token)
        return [a for a in (body or {}).get("admins") or () if isinstance(a, dict)]

    # ------------------------------------------------------- client side

    def survey(self, token: Token) -> Survey:
        accounts = self.accounts(token)
        owned = False
        managed: list[str] = []
        found = False
        for account in accounts:
            if account.get("type") == "PERSONAL":
                if self.locations(token, account["name"], page_size=1):
                    found = owned = True
                continue
            found = True
            if account.get("role") in OWNER_ROLES:
                owned = True
            else:
                managed.append(account.get("accountName") or account.get("name"))
        survey = Survey(found)
        if found and not owned and managed:
            survey.problems.append(
                Problem(
                    "not_owner_business_profile",
                    _(
                        "You manage %(profiles)s on Google but are not an owner",
                        profiles=", ".join(f"“{n}”" for n in managed),
                    ),
                    _(
                        "Only an owner can add people to a Business Profile. If the agency asked "
                        "for your Business Profile, ask an owner to open this link, or to make "
                        "you an owner (Business Profile → ⋮ → Business Profile settings → People "
                        "and access), then press Check again."
                    ),
                    blocking=False,
                    help_url=PEOPLE_HELP,
                )
            )
        return survey

    def list_assets(self, token: Token, asset_type_id: str, memo: dict[str, Any]) -> list[Asset]:
        assets: dict[str, Asset] = {}
        for account in self.accounts(token):
            for location in self.locations(token, account["name"]):
                location_id = id_from(location.get("name"))
                if not location_id or location_id in assets:
                    continue
                address = one_line(location.get("storefrontAddress"))
                assets[location_id] = Asset(
                    id=location_id,
                    name=location.get("title") or location_id,
                    type=BUSINESS_PROFILE_LOCATION.id,
                    details={
                        "address": address,
                        "account": account.get("accountName"),
                        "role": account.get("role"),
                    },
                )
        return list(assets.values())

    def grant(
        self,
        client_token: Token,
        agency_token: Token | None,
        identity: dict[str, Any],
        asset: Asset,
        permissions: list[str],
    ) -> GrantResult:
        role = strongest(ROLE_ORDER[:3], permissions)
        if role is None:
            return invalid_permissions(BUSINESS_PROFILE_LOCATION)
        external: dict[str, Any] = {
            "product": self.key,
            "location_id": asset.id,
            "location_name": asset.name,
            "address": (asset.details or {}).get("address") or "",
            "role": role,
        }
        try:
            email = require_email(identity)
            external["email"] = email
            admin = self._invite(client_token, asset, email, role)
        except PlatformError as exc:
            return failed(exc, external)
        if admin is None:
            external["method"] = "already_admin"
            return GrantResult("granted", external=external)
        external["admin"] = admin.get("name")
        if admin.get("pendingInvitation"):
            external["waiting_for"] = "agency_acceptance"
            return GrantResult("pending", external=external)
        return GrantResult("granted", external=external)

    def _invite(self, token: Token, asset: Asset, email: str, role: str) -> dict | None:
        """The agency's admin entry (pending), or None when it already manages the location."""
        path = f"/locations/{asset.id}/admins"
        try:
            return self.api.call("POST", path, token, json={"admin": email, "role": role})
        except PlatformError as exc:
            said = google_error(exc)
            if exc.status == 409 or said.status == "ALREADY_EXISTS":
                for admin in self.admins(token, asset.id):
                    if str(admin.get("admin") or "").lower() != email:
                        continue  # an accepted admin shows a name, not an e-mail
                    if covers(ROLE_ORDER, admin.get("role"), [role]):
                        return admin
                    return self.api.call(
                        "PATCH",
                        f"/{admin['name']}",
                        token,
                        params={"updateMask": "role"},
                        json={"role": role},
                    )
                return None
            if exc.status == 403 and exc.code == "forbidden":
                raise refusal(
                    exc,
                    _("Only an owner of “%(name)s” can add people to it.", name=asset.name),
                    _(
                        "Ask an owner of the Business Profile to open this link and finish this "
                        "step, or to make you an owner (People and access in the profile's "
                        "settings). Then press Retry."
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
        external = external or {}
        wanted = strongest(ROLE_ORDER, permissions) or MANAGER.id
        personal = self._personal_accounts(agency_token)
        mine = self._own_admin(agency_token, asset_id, personal)
        if mine is None:
            invitation = self._invitation(agency_token, personal, external)
            if invitation is None:
                if external.get("waiting_for"):
                    return VerifyResult(
                        "pending",
                        message=_(
                            "Google has not delivered the invitation to manage “%(name)s” to "
                            "%(email)s yet.",
                            name=external.get("location_name") or asset_id,
                            email=email,
                        ),
                    )
                return VerifyResult(
                    "missing",
                    message=_("%(email)s does not manage this Business Profile.", email=email),
                )
            try:
                self.api.call("POST", f"/{invitation['name']}:accept", agency_token, json={})
            except PlatformError as exc:
                if exc.status not in (400, 403, 404, 409):
                    raise
                return VerifyResult(
                    "pending",
                    message=_(
                        "The invitation to manage “%(name)s” waits for %(email)s to accept it "
                        "(business.google.com → Invitations).",
                        name=external.get("location_name") or asset_id,
                        email=email,
                    ),
                )
            mine = self._own_admin(agency_token, asset_id, personal)
            if mine is None:
                return VerifyResult(
                    "pending",
                    message=_("Business Profile has not confirmed the accepted invitation yet."),
                )
        have = str(mine.get("role") or "")
        if covers(ROLE_ORDER, have, [wanted]):
            return VerifyResult("verified", permissions=(have,))
        return VerifyResult(
            "insufficient",
            permissions=(have,),
            message=_(
                "The agency manages this Business Profile as %(have)s, not %(want)s.",
                have=self.label(asset_type, have),
                want=self.label(asset_type, wanted),
            ),
        )

    def _personal_accounts(self, token: Token) -> set[str]:
        return {a["name"] for a in self.accounts(token) if a.get("type") == "PERSONAL"}

    def _own_admin(self, token: Token, location_id: str, personal: set[str]) -> dict | None:
        """The agency's own (accepted) admin entry on the location, if it has one."""
        try:
            admins = self.admins(token, location_id)
        except PlatformError as exc:
            if exc.status in (403, 404) and exc.code != "scope_missing":
                return None
            raise
        for admin in admins:
            if admin.get("account") in personal and not admin.get("pendingInvitation"):
                return admin
        return None

    def _invitation(self, token: Token, personal: set[str], external: dict) -> dict | None:
        name = str(external.get("location_name") or "")
        address = str(external.get("address") or "")
        for account in sorted(personal):
            # One answer: Google describes no paging for invitations.
            body = self.api.call(
                "GET",
                f"/{account}/invitations",
                token,
                params={"filter": "target_type=LOCATIONS_ONLY"},
            )
            for invitation in (body or {}).get("invitations") or ():
                target = invitation.get("targetLocation") or {}
                if target.get("locationName") != name:
                    continue
                if address and target.get("address") and target.get("address") != address:
                    continue
                return invitation
        return None

    def revoke(
        self,
        agency_token: Token,
        identity: dict[str, Any],
        asset_type: str,
        asset_id: str,
        external: dict[str, Any],
    ) -> bool:
        require_email(identity)
        personal = self._personal_accounts(agency_token)
        mine = self._own_admin(agency_token, asset_id, personal)
        if mine is None:
            invitation = self._invitation(agency_token, personal, external or {})
            if invitation is not None:
                self.api.call("POST", f"/{invitation['name']}:decline", agency_token, json={})
            return True
        try:
            self.api.call("DELETE", f"/{mine['name']}", agency_token)
        except PlatformError as exc:
            if exc.status == 404:
                return True
            if exc.status != 403:
                raise
            raise PlatformError(
                _("Business Profile did not let the agency remove itself."),
                _(
                    "An owner removes the agency in the Business Profile: ⋮ → Business Profile "
                    "settings → People and access, then Remove."
                ),
                status=403,
                code="revoke_refused",
                detail=exc.detail,
            ) from None
        return True

    def removal_steps(self, asset_type_id: str, agency_name: str) -> list[str]:
        return [
            _("Open your Business Profiles (%(url)s) as an owner.", url=PROFILES_URL),
            _("Open the profile, then ⋮ → Business Profile settings → People and access."),
            _("Find %(agency)s and choose Remove.", agency=agency_name),
        ]


__all__ = ["BUSINESS_PROFILE_LOCATION", "BusinessProfile", "one_line"]
