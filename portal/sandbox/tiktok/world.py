"""The emulated TikTok for Business's data: persona worlds, return codes, roles.

A world is one TikTok for Business user as a persona sees it: the user, the
Business Center they belong to (with their role in it: ADMIN or STANDARD),
the advertiser accounts (ad accounts) and catalogs the Business Center owns.
Partnerships sit between two worlds' Business Centers and are stored as
their own records:

- `partnership` (key: "<owner bc>:<partner bc>"): what the owner shares with
  the partner, {assets: {asset_id: {asset_type, role, name}}};
- `business` (key: bc_id) and `asset` (key: asset id): which world owns them.

TikTok answers every call with HTTP 200 and a body
`{"code", "message", "request_id", "data"}`; `code` 0 is success. Fields and
behaviour marked *sandbox assumption* are not documented by TikTok; the
connector (`portal.platforms.tiktok`) reads them when present and copes
without them.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterable, Mapping
from typing import Any

from flask_babel import lazy_gettext as _l

from .. import core

PLATFORM = "tiktok"

# TikTok's return codes (the `code` field of every answer).
OK = 0
NO_PERMISSION = 40001  # no permission to operate on this object
INVALID_PARAMETERS = 40002
RATE_LIMITED = 40100  # requests made too frequently
INVALID_APP = 40101  # the app_id and secret do not match
ACCESS_TOKEN_EMPTY = 40104
ACCESS_TOKEN_INVALID = 40105  # incorrect or revoked
INVALID_AUTH_CODE = 40110
SYSTEM_ERROR = 50000
NOT_FOUND = 40400  # *sandbox assumption*: TikTok answers unknown paths with HTTP 404

BC_ADMIN = "ADMIN"
BC_STANDARD = "STANDARD"

# Asset-level roles a Business Center can give a partner, weakest first.
ROLES_BY_ASSET_TYPE: dict[str, tuple[str, ...]] = {
    "ADVERTISER": ("ANALYST", "OPERATOR", "ADMIN"),
    "CATALOG": ("AD_PROMOTE", "ADMIN"),
}
ROLE_FIELD = {"ADVERTISER": "advertiser_role", "CATALOG": "catalog_role"}
# The asset types TikTok's description of /bc/partner/add/ marks valid.
PARTNER_ADD_ASSET_TYPES = frozenset({"ADVERTISER"})
# The fields of /bc/get/'s `bc_info` (its documentation page).
BC_INFO_FIELDS = (
    "bc_id",
    "name",
    "company",
    "currency",
    "registered_area",
    "status",
    "timezone",
    "type",
)

# TikTok has no per-request OAuth scopes: an app's permissions are chosen
# when the app is created. These are the sandbox's own labels for the
# permissions its app holds, shown on the consent page (*sandbox choice*:
# they are not TikTok names, and no API call checks them).
SCOPE_LABELS = {
    "business_center.read": _l("See your Business Centers and your role in them"),
    "business_center.asset": _l("See the ad accounts and catalogs of your Business Center"),
    "business_center.partner": _l(
        "Share your Business Center's assets with partners you approve, and see what is shared"
    ),
}

PERSONA_DESCRIPTIONS = {
    "business": _l(
        "A Business Center (you are its admin) with 2 ad accounts and a product catalog."
    ),
    "personal": _l(
        "A TikTok for Business login with an ad account but no Business Center: nothing "
        "can be shared with a partner."
    ),
    "not_admin": _l(
        "A Standard member of a Business Center: sees its ad accounts, cannot add partners."
    ),
    "two_factor_off": _l(
        "A Business Center admin without 2-step verification, in a Business Center whose "
        "security settings require it: sharing with a partner is refused."
    ),
    "rate_limited": _l(
        "A Business Center whose API calls are throttled: 3 calls go through, then "
        "“requests made too frequently” for 2 seconds, then 3 more."
    ),
    "fails_mid_grant": _l(
        "A Business Center where TikTok fails once (system error) while sharing with the "
        "agency; trying again works."
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
_MARKETS = (
    ("US", "USD", "America/New_York", "United States"),
    ("FR", "EUR", "Europe/Paris", "Europe"),
)


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", name.lower())[:20] or "tiktoker"


def build_world(persona_id: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """A new TikTok for Business world for a persona.

    Options: `name` (the business or person), `ad_accounts` (how many, default 2).
    """
    name = str(options.get("name") or _DEFAULT_NAMES[persona_id])
    now = int(time.time())
    user = {
        "core_user_id": core.new_id(19),
        "display_name": name if persona_id == "personal" else f"{name} admin",
        "email": f"ads@{_slug(name)}.example",
        # *Sandbox assumption*: whether the login has 2-step verification on.
        "two_step_verification": persona_id != "two_factor_off",
    }
    world: dict[str, Any] = {
        "user": user,
        "business_center": None,
        "advertisers": [],
        "catalogs": [],
        "rate_limit": core.rate_limit_state() if persona_id == "rate_limited" else None,
        # "Fails mid-grant": the next share with a partner answers a system error once.
        "fail_next_grant": persona_id == "fails_mid_grant",
    }
    count = int(options.get("ad_accounts", 2))
    if persona_id == "personal":
        # An ad account of its own, outside any Business Center.
        country, currency, timezone, market = _MARKETS[0]
        world["advertisers"].append(
            {
                "advertiser_id": core.new_id(19),
                "advertiser_name": f"{name} - {market}",
                "currency": currency,
                "timezone": timezone,
                "country": country,
                "status": "STATUS_ENABLE",
                "owner_bc_id": None,
            }
        )
        return world
    bc_id = core.new_id(19)
    world["business_center"] = {
        "bc_id": bc_id,
        "name": name,
        "company": f"{name} Ltd",
        "currency": "USD",
        "registered_area": "US",
        "status": "ENABLE",
        "timezone": "Etc/GMT",
        "type": "NORMAL",
        "user_role": BC_STANDARD if persona_id == "not_admin" else BC_ADMIN,
        # *Sandbox assumption*: the Business Center's security setting that makes
        # members turn on 2-step verification before sensitive actions.
        "requires_two_step_verification": persona_id == "two_factor_off",
        "create_time": now - 86400 * 300,
    }
    for i in range(count):
        country, currency, timezone, market = _MARKETS[i % len(_MARKETS)]
        label = market if count <= len(_MARKETS) else f"{market} {i + 1}"
        world["advertisers"].append(
            {
                "advertiser_id": core.new_id(19),
                "advertiser_name": f"{name} - {label}",
                "currency": currency,
                "timezone": timezone,
                "country": country,
                "status": "STATUS_ENABLE",
                "owner_bc_id": bc_id,
            }
        )
    world["catalogs"].append(
        {
            "catalog_id": core.new_id(19),
            "catalog_name": f"{name} product catalog",
            "owner_bc_id": bc_id,
        }
    )
    return world


def owned_assets(world: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The Business Center's own assets, as `/bc/asset/get/` lists them."""
    bc = world.get("business_center")
    if not bc:
        return []
    assets = [
        {
            "asset_id": a["advertiser_id"],
            "asset_type": "ADVERTISER",
            "asset_name": a["advertiser_name"],
        }
        for a in world["advertisers"]
        if a.get("owner_bc_id") == bc["bc_id"]
    ]
    assets += [
        {"asset_id": c["catalog_id"], "asset_type": "CATALOG", "asset_name": c["catalog_name"]}
        for c in world["catalogs"]
    ]
    return assets


def index_world(world_id: str, world: Mapping[str, Any]) -> Iterable[tuple[str, str, dict]]:
    bc = world.get("business_center")
    if not bc:
        return []
    entries: list[tuple[str, str, dict]] = [("business", bc["bc_id"], {"name": bc["name"]})]
    for asset in owned_assets(world):
        entries.append(
            (
                "asset",
                asset["asset_id"],
                {
                    "bc_id": bc["bc_id"],
                    "asset_type": asset["asset_type"],
                    "name": asset["asset_name"],
                },
            )
        )
    return entries


def agency_identity(world: Mapping[str, Any]) -> dict[str, Any]:
    bc = world.get("business_center")
    if not bc:
        raise ValueError("this sandbox world has no TikTok Business Center")
    return {"business_id": bc["bc_id"], "name": bc["name"], "user_role": bc["user_role"]}


def partnership_key(owner_bc: str, partner_bc: str) -> str:
    return f"{owner_bc}:{partner_bc}"


def request_id() -> str:
    return time.strftime("%Y%m%d%H%M%S") + secrets.token_hex(8).upper()
