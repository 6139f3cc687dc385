"""Google Search Console: no API adds users, so the client follows steps.

The client signs in so Latchkey can list the properties they own
(Search Console API `GET /webmasters/v3/sites`), chooses one, then adds the
agency's Google account in Search Console themselves (Settings → Users and
permissions). Verification uses the agency's token: the property must be in
the agency's own `sites` list with at least the permission level asked for.

Google spells the permission level two ways: the Search Console API's
description (searchconsole v1) lists `SITE_OWNER`, `SITE_FULL_USER`, ...,
while the older webmasters v3 description, and the API's answers, say
`siteOwner`, `siteFullUser`, ... Both are read (`permission_level`); Latchkey
names the levels the second way.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..base import (
    Asset,
    AssetType,
    GrantResult,
    ManualStep,
    Permission,
    PlatformError,
    Problem,
    Token,
    VerifyResult,
)
from .common import Product, Survey, agency_email, covers, require_email, strongest

SCOPE = "https://www.googleapis.com/auth/webmasters.readonly"
P = Permission
OWNER = P(
    "siteOwner",
    _l("Owner"),
    _l("Full control of the property, including its users and settings."),
)
FULL = P(
    "siteFullUser",
    _l("Full"),
    _l("See all data and take some actions, such as asking Google to index a page."),
)
RESTRICTED = P("siteRestrictedUser", _l("Restricted"), _l("See most data; change nothing."))
LEVEL_ORDER = (RESTRICTED.id, FULL.id, OWNER.id)
UNVERIFIED = "siteUnverifiedUser"
# searchconsole v1's spelling -> webmasters v3's (Latchkey's permission ids).
SPELLINGS = {
    "SITE_OWNER": OWNER.id,
    "SITE_FULL_USER": FULL.id,
    "SITE_RESTRICTED_USER": RESTRICTED.id,
    "SITE_UNVERIFIED_USER": UNVERIFIED,
}
SEARCH_CONSOLE_PROPERTY = AssetType(
    "SEARCH_CONSOLE_PROPERTY",
    _l("Search Console property"),
    (FULL, RESTRICTED, OWNER),
    _l("How a website does in Google Search: queries, pages and indexing."),
    manual=True,
)
USERS_HELP = "https://support.google.com/webmasters/answer/7687615"


def site_name(site_url: str) -> str:
    """How people know a property: "sc-domain:example.com" is the whole domain."""
    if site_url.startswith("sc-domain:"):
        return _("%(domain)s (whole domain)", domain=site_url.removeprefix("sc-domain:"))
    return site_url


def permission_level(value: object) -> str:
    """A site's permission level in Latchkey's spelling, whichever way Google spelt it."""
    level = str(value or "")
    return SPELLINGS.get(level, level)


def same_site(a: str, b: str) -> bool:
    return a.rstrip("/").lower() == b.rstrip("/").lower()


class SearchConsole(Product):
    key = "search_console"
    name = "Search Console"
    url_name = "search_console"
    scopes = (SCOPE,)
    asset_types = (SEARCH_CONSOLE_PROPERTY,)

    def sites(self, token: Token) -> list[dict]:
        """The properties this Google account sees: [{"siteUrl", "permissionLevel"}]."""
        body = self.api.call("GET", "/sites", token)
        return [
            {
                "siteUrl": str(site.get("siteUrl") or ""),
                "permissionLevel": permission_level(site.get("permissionLevel")),
            }
            for site in (body or {}).get("siteEntry") or ()
            if isinstance(site, dict)
        ]

    def users_page(self, site_url: str | None = None) -> str:
        """Search Console's Users and permissions page (the sandbox's when it is on)."""
        url = self.connector.endpoints()["search_console_ui"] + "/users"
        return f"{url}?resource_id={quote(site_url, safe='')}" if site_url else url

    # ------------------------------------------------------- client side

    def survey(self, token: Token) -> Survey:
        sites = [s for s in self.sites(token) if s.get("permissionLevel") in LEVEL_ORDER]
        if not sites:
            return Survey(False)
        if any(s.get("permissionLevel") == OWNER.id for s in sites):
            return Survey(True)
        return Survey(
            True,
            [
                Problem(
                    "not_owner_search_console",
                    _("You are not an owner of your Search Console properties"),
                    _(
                        "Only an owner can add people in Search Console. If the agency asked for "
                        "Search Console, ask an owner of the property to do the steps on this "
                        "page, or to make you an owner (Settings → Users and permissions)."
                    ),
                    blocking=False,
                    help_url=USERS_HELP,
                )
            ],
        )

    def list_assets(self, token: Token, asset_type_id: str, memo: dict[str, Any]) -> list[Asset]:
        return [
            Asset(
                id=site["siteUrl"],
                name=site_name(site["siteUrl"]),
                type=SEARCH_CONSOLE_PROPERTY.id,
                details={"permission_level": site.get("permissionLevel")},
            )
            for site in self.sites(token)
            if site.get("siteUrl") and site.get("permissionLevel") in LEVEL_ORDER
        ]

    def grant(
        self,
        client_token: Token,
        agency_token: Token | None,
        identity: dict[str, Any],
        asset: Asset,
        permissions: list[str],
    ) -> GrantResult:
        return GrantResult(
            "failed",
            error=_("Search Console has no way for Latchkey to add people."),
            fix=_("Follow the steps shown on this page; the agency then checks the result."),
            external={"error_code": "manual_only"},
        )

    def manual_steps(
        self, asset_type_id: str, permissions: list[str], identity: dict[str, Any] | None
    ) -> list[ManualStep]:
        level = strongest(LEVEL_ORDER, permissions) or FULL.id
        email = agency_email(identity)
        who = email or _("the agency's Google account e-mail address (ask the agency for it)")
        open_step = _(
            "Open Search Console (search.google.com/search-console), signed in with a Google "
            "account that owns the property you chose, and pick that property at the top left."
        )
        back = _(
            "Come back here and press “I've done this”: the agency then checks from its side "
            "that it sees the property."
        )
        if level == OWNER.id:
            steps = (
                open_step,
                _("In the menu on the left, open Settings → Users and permissions."),
                _(
                    "Press ⋮ next to your own name, choose Manage property owners, then press "
                    "Add an owner."
                ),
                _("Type %(email)s and confirm with Continue.", email=who),
                back,
            )
        else:
            label = FULL.label if level == FULL.id else RESTRICTED.label
            steps = (
                open_step,
                _("In the menu on the left, open Settings → Users and permissions."),
                _("Press Add user and type %(email)s.", email=who),
                _("Choose the permission “%(level)s”, then press Add.", level=label),
                back,
            )
        return [
            ManualStep(
                _l("Add the agency in Search Console"),
                steps,
                link=self.users_page(),
                verifiable=True,
            )
        ]

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
        wanted = strongest(LEVEL_ORDER, permissions) or FULL.id
        entry = next(
            (s for s in self.sites(agency_token) if same_site(s["siteUrl"], asset_id)), None
        )
        have = (entry or {}).get("permissionLevel")
        if entry is None or have not in LEVEL_ORDER:
            return VerifyResult(
                "missing",
                message=_(
                    "%(email)s has not been added to %(site)s in Search Console yet.",
                    email=email,
                    site=site_name(asset_id),
                ),
            )
        if covers(LEVEL_ORDER, have, [wanted]):
            return VerifyResult("verified", permissions=(have,))
        return VerifyResult(
            "insufficient",
            permissions=(have,),
            message=_(
                "The agency was added with the permission “%(have)s”, not “%(want)s”.",
                have=self.label(asset_type, have),
                want=self.label(asset_type, wanted),
            ),
        )

    def revoke(
        self,
        agency_token: Token,
        identity: dict[str, Any],
        asset_type: str,
        asset_id: str,
        external: dict[str, Any],
    ) -> bool:
        raise PlatformError(
            _("Search Console has no way for Latchkey to remove people."),
            _(
                "An owner of %(site)s removes the agency in Search Console: Settings → Users and "
                "permissions, ⋮ next to the agency, then Remove access.",
                site=site_name(asset_id),
            ),
            code="revoke_unsupported",
        )

    def removal_steps(self, asset_type_id: str, agency_name: str) -> list[str]:
        return [
            _(
                "Open Search Console (search.google.com/search-console) as an owner of the "
                "property."
            ),
            _("Open Settings → Users and permissions."),
            _("Press ⋮ next to %(agency)s and choose Remove access.", agency=agency_name),
        ]


__all__ = ["SEARCH_CONSOLE_PROPERTY", "SearchConsole", "permission_level", "same_site", "site_name"]
