"""The emulated Business Profile APIs: Account Management and Business Information (v1).

Account Management, at `/sandbox/google/mybusinessaccountmanagement.googleapis.com/v1/...`:

- `GET accounts`: the person's personal account and the location groups
  they belong to, with their `role`;
- `GET|POST locations/{id}/admins`: who manages a location (any admin may
  look) and inviting someone (owners only); an invitation is an admin with
  `pendingInvitation: true` until the invitee accepts;
- `PATCH|DELETE locations/{id}/admins/{id}`: owners only, except that
  *sandbox assumption* an admin may remove themselves (as the Business
  Profile pages let them);
- `GET accounts/{id}/invitations`, `POST accounts/{id}/invitations/{id}:accept`
  and `:decline`: the invitee's side, on their personal account. An
  invitation shows only the location's name and address.

Business Information, at `/sandbox/google/mybusinessbusinessinformation.googleapis.com/v1/...`:

- `GET accounts/{id}/locations?readMask=...`: a group's locations, or for a
  personal account the locations the person manages directly.
"""

from __future__ import annotations

from typing import Any

from flask import request

from ...extensions import db
from .. import core
from . import common
from . import world as w

ACCOUNTS_HOST = "mybusinessaccountmanagement.googleapis.com/v1"
INFO_HOST = "mybusinessbusinessinformation.googleapis.com/v1"
# The discovery documents list no scope for these methods: *sandbox choice*,
# the one scope Google's Business Profile pages name (business.manage).
SCOPES = ("https://www.googleapis.com/auth/business.manage",)
LOCATION_FIELDS = ("name", "title", "storefrontAddress")


def one_line(address: dict[str, Any] | None) -> str:
    if not address:
        return ""
    parts = [
        *(address.get("addressLines") or ()),
        address.get("locality"),
        address.get("postalCode"),
    ]
    return ", ".join(str(p) for p in parts if p)


def _location(location_id: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    found = common.owner_world("gbp_location", location_id)
    if found is None:
        return None
    for group in found[1]["business_profile"]["groups"]:
        for location in group["locations"]:
            if location["id"] == location_id:
                return location, group
    return None


def _admin(location_id: str, email: str):
    return core.get_record(w.PLATFORM, "gbp_admin", w.key(location_id, email))


def _caller_admin(call: common.ApiCall, location_id: str, *, owner: bool = False):
    if _location(location_id) is None:
        raise common.not_found(f"Location locations/{location_id} not found.")
    record = _admin(location_id, call.email)
    if record is None or record.data["pending"]:
        raise common.permission_denied()
    if owner and record.data["role"] not in w.GBP_OWNER_ROLES:
        raise common.permission_denied("Only owners of the location can manage its admins.")
    return record


def _person_name(email: str) -> str:
    person = core.get_record(w.PLATFORM, "person", email)
    return person.data["name"] if person else email


def _admin_out(location_id: str, record) -> dict[str, Any]:
    email = record.key.split("|", 1)[1]
    data = record.data
    out = {
        "name": f"locations/{location_id}/admins/{data['admin_id']}",
        # An e-mail while the invitation is pending, then the person's name.
        "admin": email if data["pending"] else _person_name(email),
        "role": data["role"],
        "pendingInvitation": bool(data["pending"]),
    }
    if data.get("account") and not data["pending"]:
        out["account"] = data["account"]
    return out


@common.api_route(f"{ACCOUNTS_HOST}/accounts", scopes=SCOPES)
def gbp_accounts(call: common.ApiCall):
    world = call.world()
    profile = world["business_profile"]
    accounts = [
        {
            "name": f"accounts/{profile['personal_account']['id']}",
            "accountName": profile["personal_account"]["name"],
            "type": "PERSONAL",
            "role": "PRIMARY_OWNER",
            "verificationState": "UNVERIFIED",
            "vettedState": "NOT_VETTED",
            "permissionLevel": "OWNER_LEVEL",
        }
    ]
    for group in profile["groups"]:
        accounts.append(
            {
                "name": f"accounts/{group['id']}",
                "accountName": group["name"],
                "type": "LOCATION_GROUP",
                "role": group["role"],
                "verificationState": "VERIFIED",
                "vettedState": "NOT_VETTED",
                "permissionLevel": (
                    "OWNER_LEVEL" if group["role"] in w.GBP_OWNER_ROLES else "MEMBER_LEVEL"
                ),
            }
        )
    return common.page(accounts, "accounts", default_size=20)


@common.api_route(f"{INFO_HOST}/accounts/<account_id>/locations", scopes=SCOPES)
def gbp_locations(call: common.ApiCall, account_id: str):
    mask = [f.strip() for f in (request.args.get("readMask") or "").split(",") if f.strip()]
    if not mask:
        raise common.bad_request("Request contains an invalid argument. (read_mask is required)")
    if any(f not in LOCATION_FIELDS for f in mask):
        raise common.bad_request(f"Invalid field mask: {','.join(mask)}.")
    world = call.world()
    profile = world["business_profile"]
    groups = {g["id"]: g for g in profile["groups"]}
    if account_id in groups:
        locations = list(groups[account_id]["locations"])
    elif account_id == profile["personal_account"]["id"]:
        locations = []
        for record in core.records_where_key(w.PLATFORM, "gbp_admin", suffix=f"|{call.email}"):
            found = _location(record.key.split("|", 1)[0])
            if found and not record.data["pending"] and found[1]["id"] not in groups:
                locations.append(found[0])
    else:
        raise common.permission_denied()
    out = []
    for location in locations:
        full = {
            "name": f"locations/{location['id']}",
            "title": location["title"],
            "storefrontAddress": location["address"],
        }
        out.append({k: v for k, v in full.items() if k in mask})
    return common.page(out, "locations", default_size=100)


@common.api_route(f"{ACCOUNTS_HOST}/locations/<location_id>/admins", scopes=SCOPES)
def gbp_list_admins(call: common.ApiCall, location_id: str):
    _caller_admin(call, location_id)
    records = core.records_where_key(w.PLATFORM, "gbp_admin", prefix=f"{location_id}|")
    return {"admins": [_admin_out(location_id, r) for r in records]}


@common.api_route(
    f"{ACCOUNTS_HOST}/locations/<location_id>/admins", methods=("POST",), scopes=SCOPES
)
def gbp_invite_admin(call: common.ApiCall, location_id: str):
    _caller_admin(call, location_id, owner=True)
    body = common.json_body()
    email = str(body.get("admin") or "").strip().lower()
    role = body.get("role")
    if "@" not in email:
        raise common.bad_request("admin must be the invitee's e-mail address.")
    if role not in ("OWNER", "MANAGER", "SITE_MANAGER"):
        raise common.bad_request(f"role must be OWNER, MANAGER or SITE_MANAGER, got {role!r}.")
    if _admin(location_id, email) is not None:
        raise common.error(409, f"{email} is already an admin of this location or invited.")
    call.fail_mid_grant()
    owner = core.get_record(w.PLATFORM, "gbp_location", location_id)
    record = core.put_record(
        w.PLATFORM,
        "gbp_admin",
        w.key(location_id, email),
        {
            "admin_id": core.new_id(21),
            "role": role,
            "pending": True,
            "account": None,
            "invitation_id": core.new_id(12),
            "world_id": owner.data["world_id"],
        },
    )
    db.session.commit()
    return _admin_out(location_id, record)


def _admin_by_id(location_id: str, admin_id: str):
    for record in core.records_where_key(w.PLATFORM, "gbp_admin", prefix=f"{location_id}|"):
        if record.data["admin_id"] == admin_id:
            return record
    raise common.not_found(f"Admin {admin_id} not found.")


@common.api_route(
    f"{ACCOUNTS_HOST}/locations/<location_id>/admins/<admin_id>",
    methods=("PATCH", "DELETE"),
    scopes=SCOPES,
)
def gbp_change_admin(call: common.ApiCall, location_id: str, admin_id: str):
    record = _admin_by_id(location_id, admin_id)
    self_removal = request.method == "DELETE" and record.key.endswith(f"|{call.email}")
    _caller_admin(call, location_id, owner=not self_removal)
    if request.method == "DELETE":
        if record.data["role"] == "PRIMARY_OWNER":
            raise common.error(
                400, "The primary owner cannot be removed.", status="FAILED_PRECONDITION"
            )
        db.session.delete(record)
        db.session.commit()
        return {}
    role = common.json_body().get("role")
    if role not in ("OWNER", "MANAGER", "SITE_MANAGER"):
        raise common.bad_request(f"role must be OWNER, MANAGER or SITE_MANAGER, got {role!r}.")
    core.set_data(record, {**record.data, "role": role})
    db.session.commit()
    return _admin_out(location_id, record)


def _personal(call: common.ApiCall, account_id: str) -> None:
    if account_id != call.world()["business_profile"]["personal_account"]["id"]:
        raise common.permission_denied()


@common.api_route(f"{ACCOUNTS_HOST}/accounts/<account_id>/invitations", scopes=SCOPES)
def gbp_invitations(call: common.ApiCall, account_id: str):
    _personal(call, account_id)
    wanted = (request.args.get("filter") or "").replace(" ", "")
    if wanted and wanted not in ("target_type=LOCATIONS_ONLY", "target_type=ALL"):
        if wanted == "target_type=ACCOUNTS_ONLY":
            return {}
        raise common.bad_request("Only filtering by target_type is supported.")
    invitations = []
    for record in core.records_where_key(w.PLATFORM, "gbp_admin", suffix=f"|{call.email}"):
        if not record.data["pending"]:
            continue
        found = _location(record.key.split("|", 1)[0])
        if found is None:
            continue
        location, _group = found
        invitations.append(
            {
                "name": f"accounts/{account_id}/invitations/{record.data['invitation_id']}",
                "role": record.data["role"],
                "targetType": "LOCATIONS_ONLY",
                "targetLocation": {
                    "locationName": location["title"],
                    "address": one_line(location["address"]),
                },
            }
        )
    return {"invitations": invitations} if invitations else {}


@common.api_route(
    f"{ACCOUNTS_HOST}/accounts/<account_id>/invitations/<invitation>",
    methods=("POST",),
    scopes=SCOPES,
)
def gbp_answer_invitation(call: common.ApiCall, account_id: str, invitation: str):
    _personal(call, account_id)
    invitation_id, _, verb = invitation.partition(":")
    if verb not in ("accept", "decline"):
        raise common.not_found()
    record = next(
        (
            r
            for r in core.records_where_key(w.PLATFORM, "gbp_admin", suffix=f"|{call.email}")
            if r.data["pending"] and r.data["invitation_id"] == invitation_id
        ),
        None,
    )
    if record is None:
        raise common.not_found(f"Invitation {invitation_id} not found.")
    if verb == "decline":
        db.session.delete(record)
    else:
        core.set_data(
            record, {**record.data, "pending": False, "account": f"accounts/{account_id}"}
        )
    db.session.commit()
    return {}


common.register_not_found(ACCOUNTS_HOST)
common.register_not_found(INFO_HOST)

__all__ = ["ACCOUNTS_HOST", "INFO_HOST", "one_line"]
