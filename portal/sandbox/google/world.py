"""The emulated Google's data: persona worlds and who may do what.

A world is one Google account (a person, with an e-mail address) and the
products it owns or belongs to: Google Ads accounts (one of them a manager
account), a Google Analytics account with two properties, a Tag Manager
account with two containers, a Merchant Center account, Business Profile
locations in a location group, and Search Console properties.

Who has access to what lives in records of its own, so a grant made by one
world (the client) is seen by another (the agency), and removing it removes
it for both. Keys put the resource first and the person's e-mail last, so a
resource's people and a person's resources are both one prefix/suffix query:

- `ga_binding` "<accounts|properties>/<id>|<email>": {name, user, roles};
- `gtm_permission` "<account id>|<email>": a Tag Manager UserPermission;
- `merchant_user` "<account id>|<email>": {state, accessRights};
- `gbp_admin` "<location id>|<email>": {admin_id, role, pending, account,
  invitation_id};
- `sc_user` "<site url>|<email>": {permissionLevel};
- `ads_link` "<client id>|<manager id>": {manager_link_id, status}.

Index records name each resource's owner world: `person` (by e-mail),
`business` (the world's manager account, the agency connection's key),
`ads_customer`, `ga_account`, `ga_property`, `gtm_account`, `gtm_container`,
`merchant_account`, `gbp_account`, `gbp_location`, `sc_site`.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Mapping
from typing import Any

from flask_babel import lazy_gettext as _l

from .. import core

PLATFORM = "google"

SCOPE_LABELS = {
    "openid": _l("Sign you in with your Google account"),
    "email": _l("See your e-mail address"),
    "profile": _l("See your name and profile picture"),
    "https://www.googleapis.com/auth/adwords": _l(
        "See, edit, create and delete your Google Ads accounts and data"
    ),
    "https://www.googleapis.com/auth/analytics.readonly": _l("See your Google Analytics data"),
    "https://www.googleapis.com/auth/analytics.manage.users": _l(
        "Manage who has access to your Google Analytics accounts"
    ),
    "https://www.googleapis.com/auth/analytics.manage.users.readonly": _l(
        "See who has access to your Google Analytics accounts"
    ),
    "https://www.googleapis.com/auth/tagmanager.readonly": _l(
        "See your Google Tag Manager containers"
    ),
    "https://www.googleapis.com/auth/tagmanager.manage.users": _l(
        "Manage who has access to your Google Tag Manager accounts"
    ),
    "https://www.googleapis.com/auth/content": _l(
        "Manage your product listings and accounts for Google Shopping"
    ),
    "https://www.googleapis.com/auth/business.manage": _l(
        "See, edit, create and delete your Google Business Profiles"
    ),
    "https://www.googleapis.com/auth/webmasters.readonly": _l(
        "See your Search Console data for your verified sites"
    ),
}

PERSONA_DESCRIPTIONS = {
    "business": _l(
        "A business's Google account: a Google Ads manager account and 2 ad accounts, "
        "Google Analytics (2 properties), Tag Manager (2 containers), Merchant Center, "
        "2 Business Profile locations and 2 Search Console properties, all as owner or admin."
    ),
    "personal": _l(
        "A personal Gmail account: no Google Ads, Analytics, Tag Manager, Merchant Center, "
        "Business Profile or Search Console."
    ),
    "not_admin": _l(
        "A team member who sees the business's products without admin rights: a standard "
        "Google Ads user, Analytics viewer, Tag Manager user, Merchant Center standard user, "
        "Business Profile manager and Search Console full user."
    ),
    "two_factor_off": _l(
        "A business whose Google Ads accounts require 2-Step Verification, which this "
        "Google account has not turned on: Google Ads refuses its calls."
    ),
    "rate_limited": _l(
        "A business whose API calls are throttled: 3 calls go through, then 429 with "
        "Retry-After: 2 seconds, then 3 more."
    ),
    "fails_mid_grant": _l(
        "A business where Google fails once (500) on the first change it is asked to make; "
        "trying again works."
    ),
}

_DEFAULT_NAMES = {
    "business": "Juniper Home Goods",
    "personal": "Ada Lovelace",
    "not_admin": "Harbor Coffee Roasters",
    "two_factor_off": "Fern & Field Studio",
    "rate_limited": "Cobalt Outdoor Co",
    "fails_mid_grant": "Saffron Kitchen",
}
_STREETS = (("12 Market Street", "Portland", "97205"), ("48 River Road", "Portland", "97209"))

GA_ROLES = (
    "predefinedRoles/viewer",
    "predefinedRoles/analyst",
    "predefinedRoles/editor",
    "predefinedRoles/admin",
)
GA_EXTRA_ROLES = ("predefinedRoles/no-cost-data", "predefinedRoles/no-revenue-data")
GTM_ACCOUNT_ACCESS = ("noAccess", "user", "admin")
GTM_CONTAINER_ACCESS = ("noAccess", "read", "edit", "approve", "publish")
MERCHANT_RIGHTS = ("READ_ONLY", "STANDARD", "ADMIN", "PERFORMANCE_REPORTING", "API_DEVELOPER")
GBP_ROLES = ("SITE_MANAGER", "MANAGER", "OWNER", "PRIMARY_OWNER")
GBP_OWNER_ROLES = frozenset({"OWNER", "PRIMARY_OWNER"})
SC_LEVELS = ("siteUnverifiedUser", "siteRestrictedUser", "siteFullUser", "siteOwner")


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", name.lower())[:20] or "google"


def key(resource: str, email: str) -> str:
    return f"{resource}|{email.lower()}"


def build_world(persona_id: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """A new Google world for a persona.

    Options: `name` (the business or person), `email` (the account's address),
    `retry_after` (the "Rate limited" wait, seconds).
    """
    name = str(options.get("name") or _DEFAULT_NAMES[persona_id])
    tag = secrets.token_hex(2)
    domain = f"{slug(name)}-{tag}.example"
    personal = persona_id == "personal"
    email = str(
        options.get("email")
        or (f"{slug(name)}.{tag}@gmail.example" if personal else f"team@{domain}")
    ).lower()
    world: dict[str, Any] = {
        "user": {
            "sub": core.new_id(21),
            "email": email,
            "email_verified": True,
            "name": name,
            "given_name": name.split(" ")[0],
            "picture": "",
            "locale": "en",
            # Google Ads refuses every call of an account that requires 2-Step
            # Verification from a person who has not turned it on.
            "two_step_verification": persona_id != "two_factor_off",
        },
        "domain": domain,
        "ads": [],
        "analytics": [],
        "tagmanager": [],
        "merchant": [],
        "business_profile": {
            "personal_account": {"id": core.new_id(21), "name": name},
            "groups": [],
        },
        "search_console": [],
        "rate_limit": None,
        # "Fails mid-grant": the next change this account asks for answers 500 once.
        "fail_next_grant": persona_id == "fails_mid_grant",
    }
    if persona_id == "rate_limited":
        world["rate_limit"] = core.rate_limit_state(
            retry_after=int(options.get("retry_after", core.RATE_LIMIT_RETRY_AFTER))
        )
    if personal:
        return world

    admin = persona_id != "not_admin"
    requires_2sv = persona_id == "two_factor_off"
    world["ads"] = [
        _customer(f"{name} Manager", "USD", manager=True, admin=admin, requires_2sv=requires_2sv),
        _customer(f"{name} - Search", "USD", admin=admin, requires_2sv=requires_2sv),
        _customer(f"{name} - Shopping", "EUR", admin=admin, requires_2sv=requires_2sv),
    ]
    world["analytics"] = [
        {
            "id": core.new_id(9),
            "display_name": name,
            "region_code": "US",
            "role": "predefinedRoles/admin" if admin else "predefinedRoles/viewer",
            "properties": [
                {"id": core.new_id(9), "display_name": f"www.{domain} - GA4"},
                {"id": core.new_id(9), "display_name": f"{name} app"},
            ],
        }
    ]
    world["tagmanager"] = [
        {
            "id": core.new_id(10),
            "name": name,
            "access": "admin" if admin else "user",
            "containers": [
                {
                    "id": core.new_id(8),
                    "name": f"www.{domain}",
                    "public_id": _gtm_public_id(),
                    "usage": ["web"],
                    "access": "publish" if admin else "read",
                },
                {
                    "id": core.new_id(8),
                    "name": f"{name} server",
                    "public_id": _gtm_public_id(),
                    "usage": ["server"],
                    "access": "publish" if admin else "read",
                },
            ],
        }
    ]
    world["merchant"] = [
        {
            "id": core.new_id(9),
            "name": f"{name} shop",
            "language": "en",
            "time_zone": "America/Los_Angeles",
            "rights": ["ADMIN"] if admin else ["STANDARD"],
        }
    ]
    world["business_profile"]["groups"] = [
        {
            "id": core.new_id(20),
            "name": name,
            "role": "OWNER" if admin else "MANAGER",
            "locations": [
                {
                    "id": core.new_id(19),
                    "title": f"{name} - {street.split(' ', 1)[1]}",
                    "address": {
                        "regionCode": "US",
                        "addressLines": [street],
                        "locality": city,
                        "postalCode": postcode,
                    },
                }
                for street, city, postcode in _STREETS
            ],
        }
    ]
    world["search_console"] = [
        {"site": f"https://www.{domain}/", "level": "siteOwner" if admin else "siteFullUser"},
        {"site": f"sc-domain:{domain}", "level": "siteOwner" if admin else "siteFullUser"},
    ]
    return world


def _customer(
    name: str, currency: str, *, manager: bool = False, admin: bool = True, requires_2sv=False
) -> dict[str, Any]:
    return {
        "id": core.new_id(10),
        "descriptive_name": name,
        "currency_code": currency,
        "time_zone": "America/Los_Angeles",
        "manager": manager,
        "test_account": False,
        "status": "ENABLED",
        "access_role": "ADMIN" if admin else "STANDARD",
        "requires_2sv": requires_2sv,
    }


def _gtm_public_id() -> str:
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "GTM-" + "".join(secrets.choice(alphabet) for _ in range(7))


def index_world(world_id: str, world: Mapping[str, Any]) -> Iterable[tuple[str, str, dict]]:
    """The world's index and its owner's own access, as records."""
    email = world["user"]["email"]
    entries: list[tuple[str, str, dict]] = [("person", email, {"name": world["user"]["name"]})]
    manager = next((c for c in world["ads"] if c["manager"]), None)
    if manager is not None:
        entries.append(("business", manager["id"], {"email": email}))
    for customer in world["ads"]:
        entries.append(("ads_customer", customer["id"], {"manager": customer["manager"]}))
    for account in world["analytics"]:
        entries.append(("ga_account", account["id"], {}))
        binding = {
            "name": f"accounts/{account['id']}/accessBindings/{core.new_id(12)}",
            "user": email,
            "roles": [account["role"]],
        }
        entries.append(("ga_binding", key(f"accounts/{account['id']}", email), binding))
        for prop in account["properties"]:
            entries.append(("ga_property", prop["id"], {"account_id": account["id"]}))
    for account in world["tagmanager"]:
        entries.append(("gtm_account", account["id"], {}))
        for container in account["containers"]:
            entries.append(("gtm_container", container["id"], {"account_id": account["id"]}))
        permission = {
            "permission_id": core.new_id(8),
            "account_access": account["access"],
            "container_access": {c["id"]: c["access"] for c in account["containers"]},
        }
        entries.append(("gtm_permission", key(account["id"], email), permission))
    for account in world["merchant"]:
        entries.append(("merchant_account", account["id"], {}))
        user = {"state": "VERIFIED", "access_rights": list(account["rights"])}
        entries.append(("merchant_user", key(account["id"], email), user))
    profile = world["business_profile"]
    entries.append(("gbp_account", profile["personal_account"]["id"], {"type": "PERSONAL"}))
    for group in profile["groups"]:
        entries.append(("gbp_account", group["id"], {"type": "LOCATION_GROUP"}))
        for location in group["locations"]:
            entries.append(("gbp_location", location["id"], {"account_id": group["id"]}))
            admin = {
                "admin_id": core.new_id(21),
                "role": "PRIMARY_OWNER" if group["role"] == "OWNER" else group["role"],
                "pending": False,
                "account": f"accounts/{profile['personal_account']['id']}",
                "invitation_id": None,
            }
            entries.append(("gbp_admin", key(location["id"], email), admin))
    for site in world["search_console"]:
        entries.append(("sc_site", site["site"], {}))
        entries.append(("sc_user", key(site["site"], email), {"permissionLevel": site["level"]}))
    return entries


def agency_identity(world: Mapping[str, Any]) -> dict[str, Any]:
    """What GoogleConnector.agency_identity finds for this world."""
    user = world["user"]
    managers = [
        {"id": c["id"], "name": c["descriptive_name"]} for c in world["ads"] if c["manager"]
    ]
    manager = managers[0] if managers else {}
    identity: dict[str, Any] = {
        "email": user["email"],
        "name": f"{user['name']} ({user['email']})",
        "sub": user["sub"],
        "account_id": user["email"],
        "manager_id": manager.get("id", ""),
        "manager_name": manager.get("name", ""),
        "managers": managers,
    }
    if manager:
        identity["business_id"] = manager["id"]
    return identity


__all__ = [
    "PERSONA_DESCRIPTIONS",
    "PLATFORM",
    "SCOPE_LABELS",
    "agency_identity",
    "build_world",
    "index_world",
    "key",
]
