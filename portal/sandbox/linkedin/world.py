"""The emulated LinkedIn's data: persona worlds, roles and error bodies.

A world is one LinkedIn member as a persona sees it: the member, the Company
Page (organization) they belong to and the Campaign Manager ad accounts
(sponsored accounts) of that company. Roles are stored as their own records,
so that a role given to a member of another world (the agency's person) is
seen from both sides:

- `account_user` (key: "<account id>:<person id>"): {role} on an ad account;
- `org_acl` (key: "<organization id>:<role>:<person id>"): {state} of a Page role;
- `person`, `ad_account`, `organization` (key: their id): which world owns them.

LinkedIn's errors are `{"status", "serviceErrorCode", "code", "message"}` with
the same HTTP status. Behaviour marked *sandbox assumption* is not documented
by LinkedIn; the connector (`portal.platforms.linkedin`) copes either way.
"""

from __future__ import annotations

import re
import secrets
import string
import time
from collections.abc import Iterable, Mapping
from typing import Any

from flask_babel import lazy_gettext as _l

from .. import core

PLATFORM = "linkedin"

ACCOUNT_ROLES = (
    "VIEWER",
    "CREATIVE_MANAGER",
    "CAMPAIGN_MANAGER",
    "ACCOUNT_MANAGER",
    "ACCOUNT_BILLING_ADMIN",
)
# Ad account roles that may manage the account's users.
ACCOUNT_ADMIN_ROLES = frozenset({"ACCOUNT_MANAGER", "ACCOUNT_BILLING_ADMIN"})
ORGANIZATION_ROLES = (
    "ADMINISTRATOR",
    "CONTENT_ADMINISTRATOR",
    "ANALYST",
    "CURATOR",
    "DIRECT_SPONSORED_CONTENT_POSTER",
    "LEAD_GEN_FORMS_MANAGER",
    "RECRUITING_POSTER",
)

ACCOUNT_URN = "urn:li:sponsoredAccount:"
ORGANIZATION_URN = "urn:li:organization:"
PERSON_URN = "urn:li:person:"

SCOPE_LABELS = {
    "r_basicprofile": _l("Use your name, headline and profile address"),
    "r_ads": _l("See your Campaign Manager ad accounts"),
    "rw_ads": _l("Manage your ad accounts, including who can access them"),
    "r_organization_admin": _l("See the Company Pages you administer"),
    "rw_organization_admin": _l("Manage your Company Pages, including their admins"),
}

PERSONA_DESCRIPTIONS = {
    "business": _l(
        "A member who is a super admin of the company's Page and manages its 2 Campaign "
        "Manager ad accounts (billing admin of the first)."
    ),
    "personal": _l(
        "A member with a personal profile only: no ad account, no Company Page to share."
    ),
    "not_admin": _l(
        "A member who is a viewer on the ad accounts and an analyst on the Page: sees them, "
        "cannot add people."
    ),
    "two_factor_off": _l(
        "A member without two-step verification. LinkedIn does not ask for it to add "
        "people to ad accounts or Pages, so this member can share like Business account."
    ),
    "rate_limited": _l(
        "A member whose API calls are throttled per resource, as LinkedIn does: 3 calls "
        "to each go through, then 429 with Retry-After: 2 seconds, then 3 more."
    ),
    "fails_mid_grant": _l(
        "A member for whom LinkedIn fails once (500) while adding the agency's person; "
        "trying again works."
    ),
}

_DEFAULT_COMPANIES = {
    "business": "Juniper Home Goods",
    "personal": None,
    "not_admin": "Harbor Coffee Roasters",
    "two_factor_off": "Fern & Field Studio",
    "rate_limited": "Cobalt Outdoor Co",
    "fails_mid_grant": "Saffron Kitchen",
}
_DEFAULT_MEMBERS = {
    "business": ("Maya", "Okafor"),
    "personal": ("Ada", "Lovelace"),
    "not_admin": ("Tom", "Becker"),
    "two_factor_off": ("Lena", "Moreau"),
    "rate_limited": ("Ravi", "Shah"),
    "fails_mid_grant": ("Inès", "Dupont"),
}
_MARKETS = (("USD", "United States"), ("EUR", "Europe"))
_ID_CHARS = string.ascii_letters + string.digits


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40] or "company"


def person_id() -> str:
    """A LinkedIn member id: ten letters and digits, as LinkedIn's look."""
    return "".join(secrets.choice(_ID_CHARS) for _ in range(10))


def build_world(persona_id: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """A new LinkedIn world for a persona.

    Options: `name` (the company), `member_name` ("First Last"), `ad_accounts`
    (how many, default 2).
    """
    company = options.get("name") or _DEFAULT_COMPANIES[persona_id]
    first, last = _DEFAULT_MEMBERS[persona_id]
    if options.get("member_name"):
        first, _sep, last = str(options["member_name"]).partition(" ")
    member = {
        "id": person_id(),
        "localizedFirstName": first,
        "localizedLastName": last,
        "vanityName": _slug(f"{first} {last}") + "-" + secrets.token_hex(2),
        "localizedHeadline": f"Marketing at {company}" if company else "Marketing enthusiast",
    }
    world: dict[str, Any] = {
        "member": member,
        "organization": None,
        "ad_accounts": [],
        # The member's own roles, as the index records them.
        "account_roles": {},
        "organization_roles": [],
        "rate_limit": core.rate_limit_state() if persona_id == "rate_limited" else None,
        # "Fails mid-grant": the next role change answers 500 once.
        "fail_next_grant": persona_id == "fails_mid_grant",
    }
    if persona_id == "personal":
        return world
    admin = persona_id != "not_admin"
    organization_id = core.new_id(8)
    world["organization"] = {
        "id": int(organization_id),
        "localizedName": str(company),
        "vanityName": _slug(str(company)),
        "localizedWebsite": f"https://{_slug(str(company)).replace('-', '')}.example",
    }
    world["organization_roles"] = ["ADMINISTRATOR"] if admin else ["ANALYST"]
    count = int(options.get("ad_accounts", 2))
    now = int(time.time() * 1000)
    for i in range(count):
        currency, market = _MARKETS[i % len(_MARKETS)]
        label = market if count <= len(_MARKETS) else f"{market} {i + 1}"
        account_id = core.new_id(9)
        world["ad_accounts"].append(
            {
                "id": int(account_id),
                "name": f"{company} - {label}",
                "currency": currency,
                "status": "ACTIVE",
                "type": "BUSINESS",
                "reference": ORGANIZATION_URN + organization_id,
                "test": False,
                "changeAuditStamps": {"created": {"time": now - 86400000 * 200}},
            }
        )
        # The first account's billing is this member's; a non-admin only views.
        owner_role = "ACCOUNT_BILLING_ADMIN" if i == 0 else "ACCOUNT_MANAGER"
        world["account_roles"][account_id] = owner_role if admin else "VIEWER"
    return world


def index_world(world_id: str, world: Mapping[str, Any]) -> Iterable[tuple[str, str, dict]]:
    member = world["member"]
    entries: list[tuple[str, str, dict]] = [
        (
            "person",
            member["id"],
            {"name": f"{member['localizedFirstName']} {member['localizedLastName']}".strip()},
        )
    ]
    organization = world.get("organization")
    if organization:
        org_id = str(organization["id"])
        entries.append(("organization", org_id, {"name": organization["localizedName"]}))
        for role in world.get("organization_roles") or []:
            entries.append(("org_acl", acl_key(org_id, role, member["id"]), {"state": "APPROVED"}))
    for account in world.get("ad_accounts") or []:
        account_id = str(account["id"])
        entries.append(("ad_account", account_id, {"name": account["name"]}))
        role = world["account_roles"].get(account_id)
        if role:
            entries.append(
                ("account_user", account_user_key(account_id, member["id"]), {"role": role})
            )
    return entries


def agency_identity(world: Mapping[str, Any]) -> dict[str, Any]:
    member = world["member"]
    return {
        "id": member["id"],
        "person_urn": PERSON_URN + member["id"],
        "name": f"{member['localizedFirstName']} {member['localizedLastName']}".strip(),
        "vanity_name": member["vanityName"],
    }


def account_user_key(account_id: str, person: str) -> str:
    return f"{account_id}:{person}"


def acl_key(organization_id: str, role: str, person: str) -> str:
    return f"{organization_id}:{role}:{person}"
