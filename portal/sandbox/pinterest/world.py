"""The emulated Pinterest's data: persona worlds, error codes, permission rules.

A world is one Pinterest user as a persona sees it: the user account, the
business they belong to (with their role in it), ad accounts, boards, a
catalog, an asset group and a Pinterest Tag. Invites and partnerships sit
between two worlds' businesses and are stored as their own records:

- `invite` (key: invite id): {id, owner_business, partner_business, status,
  invite_type, business_role, created_time, created_by_user};
- `partnership` (key: "<owner business>:<partner business>"): the partner's
  access to the owner's assets, {status: PENDING|ACTIVE, invite_id,
  assets: {asset_id: {asset_type, permissions, name}}};
- `business` and `asset` (key: their id): which world owns them.

What the API serves follows Pinterest's published description
(`tests/platform_specs/pinterest/openapi.json`); world fields it does not
declare (`role`, `two_factor_enabled`, `rate_limit`, ...) stay inside the
sandbox. Where the description is silent and the sandbox had to choose, the
code says so (*sandbox choice*).
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from flask_babel import lazy_gettext as _l

from .. import core

PLATFORM = "pinterest"

# Pinterest's error body is {"code": int, "message": str}. The first codes are
# published in Pinterest's description (in its error examples: 1 "Invalid
# parameters.", 2 "Authentication failed.", 8 rate limit, 29 "You are not
# permitted to access that resource.", 404 "... not found.", 500). Pinterest
# publishes no business-access codes: the others are the sandbox's own, listed
# in `portal.sandbox.inventions.PINTEREST` (numbered apart from every published
# code); the connector keys on them and falls back to the wording of the message.
INVALID_PARAMETERS = 1
AUTHENTICATION_FAILED = 2
RATE_LIMITED = 8
NOT_PERMITTED = 29
NOT_FOUND = 404
INTERNAL_ERROR = 500
NOT_BUSINESS_ADMIN = 9001
TWO_FACTOR_REQUIRED = 9002
ALREADY_PARTNERS = 9003
INVITE_ALREADY_PENDING = 9004
BUSINESS_NOT_FOUND = 9005
INVITE_NOT_FOUND = 9006
ASSET_NOT_OWNED = 9007
PERMISSION_NOT_VALID = 9008
SAME_BUSINESS = 9009
NOT_PARTNERS = 9010

# Business roles, as `GET /businesses/employers` names them (EMPLOYEE, BIZ_ADMIN, PARTNER).
ADMIN_ROLES = frozenset({"BIZ_ADMIN"})

PERMISSIONS_BY_ASSET_TYPE: dict[str, frozenset[str]] = {
    "AD_ACCOUNT": frozenset(
        {
            "ADMIN",
            "ANALYST",
            "CAMPAIGN_MANAGER",
            "AUDIENCE_MANAGER",
            "FINANCE_MANAGER",
            "FINANCE_VIEW",
        }
    ),
    "PROFILE": frozenset({"ADMIN", "PROFILE_PUBLISHER", "ANALYST"}),
    "CATALOG": frozenset({"ADMIN", "CATALOGS_MANAGER", "CATALOGS_VIEWER"}),
    "ASSET_GROUP": frozenset(
        {"ADMIN", "ANALYST", "CAMPAIGN_MANAGER", "AUDIENCE_MANAGER", "FINANCE_VIEW"}
    ),
}

SCOPE_LABELS = {
    "user_accounts:read": _l("See your account type, profile and the businesses you belong to"),
    "biz_access:read": _l("See who has access to your business and its assets"),
    "biz_access:write": _l("Share your business's assets with partners you approve"),
    "ads:read": _l("See your ad accounts, campaigns and Pinterest Tags"),
    "boards:read": _l("See your boards"),
    "catalogs:read": _l("See your catalogs and product feeds"),
    "pins:read": _l("See your Pins"),
}

PERSONA_DESCRIPTIONS = {
    "business": _l(
        "A business (you are its admin) with 2 ad accounts, a profile with 3 boards, "
        "a catalog and a Pinterest Tag that fired recently."
    ),
    "personal": _l("A personal profile with 3 boards: no business account, no ad accounts."),
    "not_admin": _l(
        "A member of a business without admin rights: sees its assets, cannot share them."
    ),
    "two_factor_off": _l(
        "A business admin without two-factor authentication: accepting invitations fails."
    ),
    "rate_limited": _l(
        "A business whose API calls are throttled: 3 calls go through, then 429 with "
        "Retry-After: 2 seconds, then 3 more."
    ),
    "fails_mid_grant": _l(
        "A business where Pinterest fails once (500) while accepting the agency's "
        "invitation; trying again works."
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
_BOARD_NAMES = ("Spring collection", "Home inspiration", "Behind the scenes")
_AD_ACCOUNT_MARKETS = (("US", "USD", "United States"), ("FR", "EUR", "Europe"))


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", name.lower())[:20] or "pinner"


def _iso(timestamp: float) -> str:
    """A date-time as the description's `format: date-time` has it (RFC 3339)."""
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


def build_world(persona_id: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """A new Pinterest world for a persona.

    Options: `name` (the business or person), `ad_accounts` (how many, default
    2), `tag_fired` (False: the tag exists but never fired).
    """
    now = time.time()
    name = str(options.get("name") or _DEFAULT_NAMES[persona_id])
    username = f"{_slug(name)}_{secrets.token_hex(2)}"
    user = {
        "id": core.new_id(18),
        "username": username,
        "account_type": "PINNER" if persona_id == "personal" else "BUSINESS",
        "business_name": None if persona_id == "personal" else name,
        "website_url": f"https://{_slug(name)}.example",
        "profile_image": "",
        "follower_count": 1200,
        "following_count": 87,
        "pin_count": 342,
        "monthly_views": 48000,
    }
    boards = [
        {
            "id": core.new_id(18),
            "name": board,
            "description": f"{board} by {name}",
            "privacy": "PUBLIC",
            "owner": {"username": username},
            "created_at": _iso(now - 86400 * (90 - i)),
            "pin_count": 24 + i * 7,
            "follower_count": 150 + i * 40,
        }
        for i, board in enumerate(_BOARD_NAMES)
    ]
    world: dict[str, Any] = {
        "user": user,
        "business": None,
        "ad_accounts": [],
        "boards": boards,
        "catalogs": [],
        "asset_groups": [],
        "conversion_tags": [],
        # Page visits the tags reported: {ad_account_id, conversion_tag_id, created_time}.
        "page_visits": [],
        # Pinterest's user account has no two-factor field: the sandbox keeps the
        # setting beside it, and only refusals to accept or share show it.
        "two_factor_enabled": persona_id != "two_factor_off",
        "rate_limit": core.rate_limit_state() if persona_id == "rate_limited" else None,
        # "Fails mid-grant": the next accept/share call answers 500 once.
        "fail_next_grant": persona_id == "fails_mid_grant",
    }
    if persona_id == "personal":
        return world

    admin = persona_id != "not_admin"
    world["business"] = {
        "id": core.new_id(18),
        "name": name,
        "username": username,
        # The member's role, served as `business_roles` by GET /businesses/employers.
        "role": "BIZ_ADMIN" if admin else "EMPLOYEE",
    }
    count = int(options.get("ad_accounts", 2))
    for i in range(count):
        country, currency, market = _AD_ACCOUNT_MARKETS[i % len(_AD_ACCOUNT_MARKETS)]
        label = market if count <= len(_AD_ACCOUNT_MARKETS) else f"{market} {i + 1}"
        world["ad_accounts"].append(
            {
                "id": core.new_id(12),
                "name": f"{name} - {label}",
                "owner": {"username": username, "id": user["id"]},
                "country": country,
                "currency": currency,
                "permissions": ["OWNER"] if admin else ["ANALYST"],
                "created_time": int(now) - 86400 * 200,
                "updated_time": int(now) - 86400 * 3,
            }
        )
    world["catalogs"].append(
        {
            "id": core.new_id(19),
            "name": f"{name} product feed",
            "catalog_type": "RETAIL",
            "created_at": _iso(now - 86400 * 120),
            "updated_at": _iso(now - 86400),
        }
    )
    world["asset_groups"].append(
        {
            "id": core.new_id(13),
            "name": "All brand assets",
            "description": "Ad accounts and profile of the brand",
            "asset_group_types": ["BRAND"],
        }
    )
    if world["ad_accounts"]:
        fired = options.get("tag_fired", True)
        world["conversion_tags"].append(
            {
                "id": core.new_id(13),
                "ad_account_id": world["ad_accounts"][0]["id"],
                "name": f"{name} website tag",
                "status": "ACTIVE",
                "version": "3",
                "enhanced_match_status": "VALIDATING_IN_PROGRESS",
                "last_fired_time_ms": int(now * 1000) - 2 * 3600 * 1000 if fired else None,
                "code_snippet": "<!-- Pinterest Tag (sandbox) -->",
                "configs": {"aem_enabled": False, "md_frequency": 1.0},
            }
        )
        if fired:
            tag = world["conversion_tags"][0]
            world["page_visits"].append(
                {
                    "ad_account_id": tag["ad_account_id"],
                    "conversion_tag_id": tag["id"],
                    "created_time": int(now) - 2 * 3600,
                }
            )
    return world


def owned_assets(world: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The business's assets as Pinterest's business-access endpoints show them."""
    if not world.get("business"):
        return []
    user = world["user"]
    assets = [
        {"asset_id": a["id"], "asset_type": "AD_ACCOUNT", "name": a["name"]}
        for a in world["ad_accounts"]
    ]
    assets.append({"asset_id": user["id"], "asset_type": "PROFILE", "name": f"@{user['username']}"})
    assets += [
        {"asset_id": c["id"], "asset_type": "CATALOG", "name": c["name"]} for c in world["catalogs"]
    ]
    assets += [
        {"asset_id": g["id"], "asset_type": "ASSET_GROUP", "name": g["name"]}
        for g in world["asset_groups"]
    ]
    return assets


def index_world(world_id: str, world: Mapping[str, Any]) -> Iterable[tuple[str, str, dict]]:
    business = world.get("business")
    if not business:
        return []
    entries: list[tuple[str, str, dict]] = [
        ("business", business["id"], {"name": business["name"], "username": business["username"]})
    ]
    for asset in owned_assets(world):
        entries.append(
            (
                "asset",
                asset["asset_id"],
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
        raise ValueError("this sandbox world has no Pinterest business")
    return {
        "business_id": business["id"],
        "name": business["name"],
        "username": world["user"]["username"],
    }


def partnership_key(owner_business: str, partner_business: str) -> str:
    return f"{owner_business}:{partner_business}"
