"""The emulated Meta's data: persona worlds, error codes, task rules.

A world is one Facebook user as a persona sees it: the user, the business
portfolio they belong to (with their role in it and their two-factor status),
and the portfolio's ad accounts, Pages, pixels (datasets), catalogs and
Instagram accounts. Access shared with another business sits between two
worlds and is stored as its own record:

- `agency_access` (key: "<asset node id>:<agency business id>"): {asset_type,
  owner_business, agency_business, permitted_tasks, access_status, name,
  account_id?};
- `business` and `asset` (key: their id; ad accounts by "act_<id>"): which
  world owns them;
- `page_token` (key: SHA-256 of the token): a Page access token, {world_id,
  page_id, scopes}.

Fields and numbers marked *sandbox assumption* are not documented by Meta;
the connector reads them when present and falls back to the wording of the
error message.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from flask_babel import lazy_gettext as _l

from .. import core

PLATFORM = "meta"
GRAPH_VERSION = "v25.0"

# Meta's error body is {"error": {"message", "type", "code", "error_subcode",
# "fbtrace_id"}}. Codes are Meta's own; subcodes marked (*) are the sandbox's.
UNKNOWN_ERROR = 1
SERVICE_ERROR = 2  # "An unexpected error has occurred. Please retry your request later."
INVALID_PARAMETER = 100
PERMISSION_ERROR = 200
APP_ID_INVALID = 101
INVALID_TOKEN = 190
SUBCODE_EXPIRED = 463
SUBCODE_INVALID = 467
SUBCODE_UNSUPPORTED_REQUEST = 33
SUBCODE_CODE_USED = 36009
SUBCODE_CODE_INVALID = 36007
AD_ACCOUNT_THROTTLED = 80004
SUBCODE_THROTTLED = 2446079
SUBCODE_NOT_ADMIN = 1690061  # (*) the person is not an admin of the asset's business
SUBCODE_TWO_FACTOR = 1690062  # (*) the business requires two-factor authentication
SUBCODE_NO_ACCESS = 1690063  # (*) the partner has no access to remove
SUBCODE_SAME_BUSINESS = 1690064  # (*) a business cannot be its own partner
SUBCODE_BUSINESS_UNKNOWN = 1690065  # (*) no such business

ASSET_TYPES = ("AD_ACCOUNT", "PAGE", "PIXEL", "CATALOG", "INSTAGRAM_ACCOUNT")

TASKS_BY_ASSET_TYPE: dict[str, frozenset[str]] = {
    "AD_ACCOUNT": frozenset({"MANAGE", "ADVERTISE", "ANALYZE", "DRAFT"}),
    "PAGE": frozenset(
        {"MANAGE", "CREATE_CONTENT", "MODERATE", "MESSAGING", "ADVERTISE", "ANALYZE"}
    ),
    "PIXEL": frozenset({"ANALYZE", "UPLOAD", "ADVERTISE"}),
    "CATALOG": frozenset({"MANAGE", "ADVERTISE"}),
    "INSTAGRAM_ACCOUNT": frozenset(
        {"ADVERTISE", "ANALYZE", "CONTENT", "MESSAGES", "COMMUNITY_ACTIVITY"}
    ),
}

# *Sandbox assumption*: a task brings the narrower ones with it, as in Meta's
# role ladders (Manage > Advertise > Analyze; a Page's Full control > Content >
# Moderate > Ads > Insights). Stored access holds the whole ladder.
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

# The Business edges that list a portfolio's own assets and its clients' assets.
OWNED_EDGES = {
    "owned_ad_accounts": "AD_ACCOUNT",
    "owned_pages": "PAGE",
    "owned_pixels": "PIXEL",
    "owned_product_catalogs": "CATALOG",
    "owned_instagram_assets": "INSTAGRAM_ACCOUNT",
}
CLIENT_EDGES = {
    "client_ad_accounts": "AD_ACCOUNT",
    "client_pages": "PAGE",
    "client_pixels": "PIXEL",
    "client_product_catalogs": "CATALOG",
    "client_instagram_assets": "INSTAGRAM_ACCOUNT",
}
# Access awaiting the client's approval, as the agency's portfolio sees it.
PENDING_EDGES = {
    "pending_client_ad_accounts": "AD_ACCOUNT",
    "pending_client_pages": "PAGE",
}
# The permission each edge needs, as Graph API checks it.
EDGE_SCOPES = {
    "AD_ACCOUNT": "ads_management",
    "PAGE": "pages_show_list",
    "PIXEL": "business_management",
    "CATALOG": "catalog_management",
    "INSTAGRAM_ACCOUNT": "business_management",
}

# The permission sharing each asset type with a partner needs.
SHARE_SCOPES = {
    "AD_ACCOUNT": "ads_management",
    "PAGE": "pages_manage_metadata",
    "PIXEL": "business_management",
    "CATALOG": "catalog_management",
    "INSTAGRAM_ACCOUNT": "business_management",
}

SCOPE_LABELS = {
    "public_profile": _l("See your name and profile picture"),
    "business_management": _l(
        "See your business portfolios and share their assets with partners you approve"
    ),
    "ads_management": _l("See your ad accounts and manage who can use them"),
    "ads_read": _l("See your ad accounts and their results"),
    "pages_show_list": _l("See the Facebook Pages you manage"),
    "pages_manage_metadata": _l("Manage the settings of your Pages, including partner access"),
    "catalog_management": _l("See and manage your product catalogs"),
    "instagram_basic": _l("See your Instagram accounts linked to your Pages"),
}

PERSONA_DESCRIPTIONS = {
    "business": _l(
        "A business portfolio (you are its admin) with 2 ad accounts, a Facebook Page, a pixel "
        "that fired recently, a catalog and an Instagram account."
    ),
    "personal": _l(
        "A personal Facebook profile with its own ad account but no business portfolio: "
        "nothing can be shared with a partner yet."
    ),
    "not_admin": _l(
        "An employee of a business portfolio, not an admin: sees its assets, cannot share them."
    ),
    "two_factor_off": _l(
        "An admin of a portfolio that requires two-factor authentication, without it turned on: "
        "sharing is refused."
    ),
    "rate_limited": _l(
        "A portfolio whose API calls are throttled: 3 calls go through, then 429 with "
        "Retry-After: 2 seconds, then 3 more."
    ),
    "fails_mid_grant": _l(
        "A portfolio where Meta fails once (500) while sharing the first asset; trying again works."
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
_MARKETS = (("USD", "America/New_York", "United States"), ("EUR", "Europe/Paris", "Europe"))


def _iso(timestamp: float) -> str:
    """Graph API's datetime format, e.g. 2025-11-03T09:12:44+0000."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def _handle(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())[:24] or "brand"


def build_world(persona_id: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """A new Meta world for a persona.

    Options: `name` (the business or person), `ad_accounts` (how many,
    default 2), `pixel_fired` (False: the pixel exists but never fired).
    """
    now = time.time()
    name = str(options.get("name") or _DEFAULT_NAMES[persona_id])
    user = {
        "id": core.new_id(16),
        "name": "Ada Lovelace" if persona_id == "personal" else f"{name} Admin",
        # *Sandbox assumption*: the person's own two-factor status; Graph API
        # shows it as the business user's `two_fac_status`.
        "two_factor_enabled": persona_id != "two_factor_off",
    }
    world: dict[str, Any] = {
        "user": user,
        "business": None,
        "personal_ad_accounts": [],
        "ad_accounts": [],
        "pages": [],
        "pixels": [],
        "catalogs": [],
        "instagram_accounts": [],
        "rate_limit": core.rate_limit_state() if persona_id == "rate_limited" else None,
        # "Fails mid-grant": the next share (POST .../agencies) answers 500 once.
        "fail_next_grant": persona_id == "fails_mid_grant",
    }
    if persona_id == "personal":
        account_id = core.new_id(15)
        world["personal_ad_accounts"].append(
            {
                "id": f"act_{account_id}",
                "account_id": account_id,
                "name": f"{name}'s ad account",
                "currency": "USD",
                "timezone_name": "America/New_York",
                "account_status": 1,
            }
        )
        return world

    admin = persona_id != "not_admin"
    world["business"] = {
        "id": core.new_id(16),
        "name": name,
        "verification_status": "verified",
        # Meta's Business.two_factor_type: none, admin_required or all_required.
        "two_factor_type": "admin_required" if persona_id == "two_factor_off" else "none",
        "created_time": _iso(now - 86400 * 400),
        # The person's business user in this portfolio (BusinessUser.role).
        "business_user_id": core.new_id(16),
        "role": "ADMIN" if admin else "EMPLOYEE",
    }
    count = int(options.get("ad_accounts", 2))
    for i in range(count):
        currency, timezone, market = _MARKETS[i % len(_MARKETS)]
        label = market if count <= len(_MARKETS) else f"{market} {i + 1}"
        account_id = core.new_id(15)
        world["ad_accounts"].append(
            {
                "id": f"act_{account_id}",
                "account_id": account_id,
                "name": f"{name} - {label}",
                "currency": currency,
                "timezone_name": timezone,
                "account_status": 1,
            }
        )
    world["pages"].append(
        {"id": core.new_id(15), "name": name, "category": "Shopping & retail", "fan_count": 4200}
    )
    fired = options.get("pixel_fired", True)
    world["pixels"].append(
        {
            "id": core.new_id(15),
            "name": f"{name} website pixel",
            "creation_time": _iso(now - 86400 * 300),
            "last_fired_time": _iso(now - 3 * 3600) if fired else None,
        }
    )
    world["catalogs"].append(
        {
            "id": core.new_id(16),
            "name": f"{name} product catalog",
            "vertical": "commerce",
            "product_count": 128,
        }
    )
    # An InstagramBusinessAsset node has only these three fields.
    world["instagram_accounts"].append(
        {"id": core.new_id(17), "ig_user_id": core.new_id(17), "ig_username": _handle(name)}
    )
    return world


def owned_assets(world: Mapping[str, Any]) -> list[dict[str, Any]]:
    """(node id, type, name, node) for every asset of the world's portfolio."""
    if not world.get("business"):
        return []
    found = [("AD_ACCOUNT", a, a["name"]) for a in world["ad_accounts"]]
    found += [("PAGE", p, p["name"]) for p in world["pages"]]
    found += [("PIXEL", p, p["name"]) for p in world["pixels"]]
    found += [("CATALOG", c, c["name"]) for c in world["catalogs"]]
    found += [
        ("INSTAGRAM_ACCOUNT", i, "@" + graph_fields("INSTAGRAM_ACCOUNT", i)["ig_username"])
        for i in world["instagram_accounts"]
    ]
    return [
        {"node_id": node["id"], "asset_type": kind, "name": label, "node": node}
        for kind, node, label in found
    ]


def graph_fields(asset_type: str, node: Mapping[str, Any]) -> dict[str, Any]:
    """An asset as its Graph API node holds it (worlds made before the sandbox
    followed the node specs kept an Instagram account's `username`)."""
    if asset_type == "INSTAGRAM_ACCOUNT":
        return {
            "id": node["id"],
            "ig_user_id": node.get("ig_user_id"),
            "ig_username": node.get("ig_username") or node.get("username"),
        }
    return dict(node)


def assets_of_type(world: Mapping[str, Any], asset_type: str) -> list[dict[str, Any]]:
    key = {
        "AD_ACCOUNT": "ad_accounts",
        "PAGE": "pages",
        "PIXEL": "pixels",
        "CATALOG": "catalogs",
        "INSTAGRAM_ACCOUNT": "instagram_accounts",
    }[asset_type]
    return list(world.get(key) or [])


def index_world(world_id: str, world: Mapping[str, Any]) -> Iterable[tuple[str, str, dict]]:
    business = world.get("business")
    if not business:
        return []
    entries: list[tuple[str, str, dict]] = [
        ("business", business["id"], {"name": business["name"]})
    ]
    for asset in owned_assets(world):
        entries.append(
            (
                "asset",
                asset["node_id"],
                {
                    "business_id": business["id"],
                    "asset_type": asset["asset_type"],
                    "name": asset["name"],
                },
            )
        )
    return entries


def agency_identity(world: Mapping[str, Any]) -> dict[str, Any]:
    business = world.get("business")
    if not business:
        raise ValueError("this sandbox world has no Meta business portfolio")
    return {
        "business_id": business["id"],
        "name": business["name"],
        "user_id": world["user"]["id"],
        "user_name": world["user"]["name"],
    }


def access_key(node_id: str, agency_business: str) -> str:
    return f"{node_id}:{agency_business}"


def with_implied(asset_type: str, tasks: Iterable[str]) -> list[str]:
    ladder = IMPLIED_TASKS.get(asset_type, {})
    result = set(tasks)
    for task in list(result):
        result |= ladder.get(task, frozenset())
    return sorted(result)
