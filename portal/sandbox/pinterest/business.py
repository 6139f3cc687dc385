"""The emulated Pinterest's Business Access: employers, assets, invites, partners.

The shapes are those of Pinterest's description
(`tests/platform_specs/pinterest/openapi.json`). Two kinds of refusal, as it
declares them: the invite endpoints (`POST /businesses/{id}/invites`, `PATCH
/businesses/invites`) answer 200 with one `{invite, exception}` per invite,
`exception` being `{code, message, invite_or_request_id,
users_or_partner_ids}`; the partner-assets endpoints declare no per-item
exception, so they refuse the whole request with `{code, message}` and an
HTTP error status. Which status and code: *sandbox choice* (listed in
`portal.sandbox.inventions`).
"""

from __future__ import annotations

import copy
import time
from typing import Any

from flask import request

from ...extensions import db
from .. import core
from . import world as w
from .api import ApiCall, _json_body, _page, api_route, error

# An invite stays open this long (*sandbox choice*: the description gives
# `invite_expiration` without a duration).
INVITE_TTL_MS = 30 * 24 * 3600 * 1000


def _own_business(business_id: str, world: dict[str, Any]) -> dict[str, Any]:
    business = world.get("business")
    if not business or business["id"] != business_id:
        raise error(403, w.NOT_PERMITTED, "You are not permitted to access that business.")
    return business


def _require_admin(business: dict[str, Any]) -> None:
    if business.get("role") not in w.ADMIN_ROLES:
        raise error(
            403,
            w.NOT_BUSINESS_ADMIN,
            "Only business admins can manage partners and share assets. "
            "Ask an admin of the business to do this.",
        )


def _fail_once(world_record, world: dict[str, Any]) -> None:
    """The "Fails mid-grant" persona: the first accept or share answers 500, once."""
    if world.get("fail_next_grant"):
        world["fail_next_grant"] = False
        core.set_data(world_record, world)
        db.session.commit()
        raise error(500, w.INTERNAL_ERROR, "Internal error. Please try again later.")


TWO_FACTOR_MESSAGE = (
    "Two-factor authentication is required to accept invites or share assets. "
    "Turn it on in Settings > Security and try again."
)


def _asset_problem(business_id: str, asset_id: str, permissions: Any) -> tuple[Any, Any]:
    """(asset index data, None) when the business may share it with these
    permissions, else (None, (HTTP status, code, message))."""
    entry = core.get_record(w.PLATFORM, "asset", str(asset_id))
    if entry is None or entry.data["business_id"] != business_id:
        return None, (
            403,
            w.ASSET_NOT_OWNED,
            f"Asset {asset_id} does not belong to business {business_id}.",
        )
    allowed = w.PERMISSIONS_BY_ASSET_TYPE[entry.data["asset_type"]]
    if (
        not isinstance(permissions, list)
        or not permissions
        or any(p not in allowed for p in permissions)
    ):
        return None, (
            400,
            w.PERMISSION_NOT_VALID,
            f"Permissions {permissions} are not valid for a {entry.data['asset_type']} asset.",
        )
    return entry.data, None


def _grant_access(
    owner: str, partner: str, asset_id: str, asset: dict[str, Any], permissions: list[str]
) -> None:
    record = core.get_record(
        w.PLATFORM, "partnership", w.partnership_key(owner, partner), lock=True
    )
    data = copy.deepcopy(record.data)
    data["status"] = "ACTIVE"
    data["assets"][asset_id] = {
        "asset_type": asset["asset_type"],
        "permissions": sorted(set(permissions)),
        "name": asset["name"],
    }
    core.set_data(record, data)


def _business_summary(business_id: str) -> dict[str, Any]:
    """A BusinessAccessUserSummary: {id, username, email}."""
    entry = core.get_record(w.PLATFORM, "business", business_id)
    return {"id": business_id, "username": entry.data["username"] if entry else None}


def _invite_base(invite: dict[str, Any], viewer_business: str) -> dict[str, Any]:
    """BaseInviteDataResponse, the invite as `PATCH /businesses/invites` answers it."""
    return {
        "id": invite["id"],
        "invite_data": {
            "invite_status": invite["status"],
            "invite_type": invite["invite_type"],
            "sent_at": invite["created_time"],
            "last_updated_time": invite.get("updated_time", invite["created_time"]),
            "invite_expiration": invite["created_time"] + INVITE_TTL_MS,
        },
        "is_received_invite": invite["owner_business"] == viewer_business,
        # The member or partner the invite/request was sent to.
        "user": _business_summary(invite["owner_business"]),
    }


def _invite_listed(invite: dict[str, Any], viewer_business: str) -> dict[str, Any]:
    """InviteResponse, the invite as `GET /businesses/{id}/invites` lists it."""
    return {
        **_invite_base(invite, viewer_business),
        "business_roles": [invite["business_role"]],
        "created_time": invite["created_time"],
        "created_by_business": _business_summary(invite["partner_business"]),
        "created_by_user": invite["created_by_user"],
    }


def _exception(code: int, message: str, **more: Any) -> dict[str, Any]:
    """One invite's refusal, as the invite endpoints declare it."""
    return {"invite": None, "exception": {"code": code, "message": message, **more}}


# ------------------------------------------------------------------ employers


@api_route("/businesses/employers", scope="biz_access:read")
def business_employers(call: ApiCall):
    """The businesses the user works for, with their role (UserBusinessRoleBinding)."""
    world = call.world()
    business = world.get("business")
    if not business:
        return _page([])
    employer = {
        "id": business["id"],
        "business_roles": [business["role"]],
        "user": {"id": business["id"], "username": business["username"]},
    }
    return _page([employer])


@api_route("/businesses/<business_id>/assets", scope="biz_access:read")
def business_assets(call: ApiCall, business_id: str):
    """GetBusinessAssetsResponse: asset_id, asset_type, and the group's or
    catalog's details (the description gives no permissions here)."""
    world = call.world()
    _own_business(business_id, world)
    asset_type = request.args.get("asset_type", "AD_ACCOUNT")
    if asset_type not in w.PERMISSIONS_BY_ASSET_TYPE:
        raise error(400, w.INVALID_PARAMETERS, f"Unknown asset_type {asset_type}.")
    groups = {g["id"]: g for g in world["asset_groups"]}
    catalogs = {c["id"]: c for c in world["catalogs"]}
    items = []
    for asset in w.owned_assets(world):
        if asset["asset_type"] != asset_type:
            continue
        item: dict[str, Any] = {"asset_id": asset["asset_id"], "asset_type": asset_type}
        if asset_type == "ASSET_GROUP":
            group = groups[asset["asset_id"]]
            item["asset_group_info"] = {
                "id": group["id"],
                "asset_group_name": group["name"],
                "asset_group_description": group["description"],
                "asset_group_types": group["asset_group_types"],
            }
        elif asset_type == "CATALOG":
            catalog = catalogs[asset["asset_id"]]
            item["catalog_info"] = {
                "id": catalog["id"],
                "name": catalog["name"],
                "catalog_type": catalog["catalog_type"],
            }
        items.append(item)
    return _page(items)


# -------------------------------------------------------------------- invites


@api_route("/businesses/<business_id>/invites", methods=("POST",), scope="biz_access:write")
def create_invites(call: ApiCall, business_id: str):
    world = call.world()
    business = _own_business(business_id, world)
    _require_admin(business)
    body = _json_body()
    if body.get("invite_type") != "PARTNER_REQUEST" or body.get("business_role") != "PARTNER":
        raise error(
            400,
            w.INVALID_PARAMETERS,
            'The sandbox supports invite_type "PARTNER_REQUEST" with business_role "PARTNER".',
        )
    partners = body.get("partners")
    if not isinstance(partners, list) or not 1 <= len(partners) <= 50:
        raise error(400, w.INVALID_PARAMETERS, "partners must list 1 to 50 business ids.")
    items = [_partner_request(business_id, str(p), world["user"]) for p in partners]
    db.session.commit()
    return {"items": items}


def _partner_request(requester: str, owner: str, user: dict[str, Any]) -> dict[str, Any]:
    """`requester` asks for access to `owner`'s assets: an invite, or why not."""
    who = {"users_or_partner_ids": [owner]}
    if owner == requester:
        return _exception(w.SAME_BUSINESS, "A business cannot be its own partner.", **who)
    if core.get_record(w.PLATFORM, "business", owner) is None:
        return _exception(w.BUSINESS_NOT_FOUND, f"Business {owner} not found.", **who)
    key = w.partnership_key(owner, requester)
    existing = core.get_record(w.PLATFORM, "partnership", key, lock=True)
    if existing is not None and existing.data["status"] == "ACTIVE":
        return _exception(
            w.ALREADY_PARTNERS,
            f"Business {requester} is already a partner of business {owner}.",
            **who,
        )
    if existing is not None and existing.data["status"] == "PENDING":
        return _exception(
            w.INVITE_ALREADY_PENDING,
            f"A partner request from business {requester} to business {owner} is already pending.",
            invite_or_request_id=existing.data["invite_id"],
            **who,
        )
    invite = {
        "id": core.new_id(18),
        "owner_business": owner,
        "partner_business": requester,
        "status": "PENDING",
        "invite_type": "PARTNER_REQUEST",
        "business_role": "PARTNER",
        "created_time": int(time.time() * 1000),
        "created_by_user": {"id": user["id"], "username": user["username"]},
    }
    core.put_record(w.PLATFORM, "invite", invite["id"], invite)
    state = {"status": "PENDING", "invite_id": invite["id"], "assets": {}}
    if existing is None:
        core.put_record(w.PLATFORM, "partnership", key, state)
    else:
        core.set_data(existing, state)
    return {"invite": {"id": invite["id"], "user": _business_summary(owner)}, "exception": None}


@api_route("/businesses/<business_id>/invites", scope="biz_access:read")
def list_invites(call: ApiCall, business_id: str):
    world = call.world()
    _own_business(business_id, world)
    # The description's default is is_member=true (membership invites).
    if request.args.get("is_member", "true").lower() == "true":
        return _page([])  # the sandbox has no member invites
    statuses = {s for v in request.args.getlist("invite_status") for s in v.split(",")} or None
    types = set(request.args.getlist("invite_type")) or None
    partnerships = core.records_where_key(
        w.PLATFORM, "partnership", suffix=":" + business_id
    ) + core.records_where_key(w.PLATFORM, "partnership", prefix=business_id + ":")
    items = []
    for partnership in partnerships:
        invite_record = core.get_record(w.PLATFORM, "invite", partnership.data["invite_id"])
        if invite_record is None:
            continue
        invite = invite_record.data
        if statuses and invite["status"] not in statuses:
            continue
        if types and invite["invite_type"] not in types:
            continue
        items.append(_invite_listed(invite, business_id))
    return _page(items)


@api_route("/businesses/invites", methods=("PATCH",), scope="biz_access:write")
def respond_to_invites(call: ApiCall):
    record = call.record(lock=True)
    world = copy.deepcopy(record.data)
    business = world.get("business")
    if not business:
        raise error(403, w.NOT_PERMITTED, "Only business accounts can accept partner invites.")
    invites = _json_body().get("invites")
    if not isinstance(invites, list) or not invites:
        raise error(400, w.INVALID_PARAMETERS, "invites must be a non-empty list.")
    _fail_once(record, world)
    _require_admin(business)
    items = [_respond(business["id"], entry, world) for entry in invites]
    db.session.commit()
    return {"items": items}


def _respond(business_id: str, entry: Any, world: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(entry, dict) or not isinstance(entry.get("action"), dict):
        return _exception(w.INVALID_PARAMETERS, "Each invite needs an invite_id and an action.")
    invite_id = str(entry.get("invite_id"))
    about = {"invite_or_request_id": invite_id}
    invite_record = core.get_record(w.PLATFORM, "invite", invite_id, lock=True)
    if invite_record is None or invite_record.data["owner_business"] != business_id:
        return _exception(w.INVITE_NOT_FOUND, f"Invite {invite_id} not found.", **about)
    invite = dict(invite_record.data)
    if invite["status"] != "PENDING":
        return _exception(w.INVITE_NOT_FOUND, f"Invite {invite_id} is no longer pending.", **about)
    action = entry["action"]
    partner = invite["partner_business"]
    key = w.partnership_key(business_id, partner)
    now = int(time.time() * 1000)
    if not action.get("accept_invite"):
        invite.update(status="DECLINED", updated_time=now)
        core.set_data(invite_record, invite)
        core.delete_records(w.PLATFORM, "partnership", [key])
        return {"invite": _invite_base(invite, business_id), "exception": None}
    if not world.get("two_factor_enabled", True):
        return _exception(w.TWO_FACTOR_REQUIRED, TWO_FACTOR_MESSAGE, **about)
    grants = action.get("asset_id_to_permissions") or {}
    if not isinstance(grants, dict):
        return _exception(
            w.INVALID_PARAMETERS, "asset_id_to_permissions must be an object.", **about
        )
    checked = []
    for asset_id, permissions in grants.items():
        asset, problem = _asset_problem(business_id, asset_id, permissions)
        if problem:
            return _exception(problem[1], problem[2], **about)
        checked.append((str(asset_id), asset, permissions))
    invite.update(status="ACCEPTED", updated_time=now)
    core.set_data(invite_record, invite)
    record = core.get_record(w.PLATFORM, "partnership", key, lock=True)
    core.set_data(record, {**record.data, "status": "ACTIVE"})
    for asset_id, asset, permissions in checked:
        _grant_access(business_id, partner, asset_id, asset, permissions)
    return {"invite": _invite_base(invite, business_id), "exception": None}


# ------------------------------------------------------------------- partners


@api_route(
    "/businesses/<business_id>/partners/assets", methods=("PATCH",), scope="biz_access:write"
)
def update_partner_assets(call: ApiCall, business_id: str):
    """UpdatePartnerAssetsResult per access. A refusal fails the whole request
    (*sandbox choice*: the description declares no per-item exception here)."""
    record = call.record(lock=True)
    world = copy.deepcopy(record.data)
    business = _own_business(business_id, world)
    accesses = _json_body().get("accesses")
    if not isinstance(accesses, list) or not 1 <= len(accesses) <= 50:
        raise error(400, w.INVALID_PARAMETERS, "accesses must list 1 to 50 accesses.")
    _fail_once(record, world)
    _require_admin(business)
    if not world.get("two_factor_enabled", True):
        raise error(403, w.TWO_FACTOR_REQUIRED, TWO_FACTOR_MESSAGE)
    checked = []
    for access in accesses:
        if not isinstance(access, dict):
            raise error(400, w.INVALID_PARAMETERS, "Each access must be an object.")
        partner, asset_id = str(access.get("partner_id")), str(access.get("asset_id"))
        partnership = core.get_record(
            w.PLATFORM, "partnership", w.partnership_key(business_id, partner)
        )
        if partnership is None or partnership.data["status"] != "ACTIVE":
            raise error(
                404, w.NOT_PARTNERS, f"Business {partner} is not a partner of {business_id}."
            )
        asset, problem = _asset_problem(business_id, asset_id, access.get("permissions"))
        if problem:
            raise error(*problem)
        checked.append((partner, asset_id, asset, access["permissions"]))
    items = []
    for partner, asset_id, asset, permissions in checked:
        _grant_access(business_id, partner, asset_id, asset, permissions)
        items.append(
            {
                "asset_id": asset_id,
                "asset_type": asset["asset_type"],
                "partner_id": partner,
                "permissions": sorted(set(permissions)),
            }
        )
    db.session.commit()
    return {"items": items}


@api_route(
    "/businesses/<business_id>/partners/assets", methods=("DELETE",), scope="biz_access:write"
)
def delete_partner_assets(call: ApiCall, business_id: str):
    """DeletePartnerAssetsResult per access ended. *Sandbox choice*: an access
    that does not exist is left out of the list (the description lists the
    "terminated asset access" and declares no per-item exception)."""
    world = call.world()
    business = _own_business(business_id, world)
    _require_admin(business)
    accesses = _json_body().get("accesses")
    if not isinstance(accesses, list) or not 1 <= len(accesses) <= 50:
        raise error(400, w.INVALID_PARAMETERS, "accesses must list 1 to 50 accesses.")
    items = []
    for access in accesses:
        if not isinstance(access, dict):
            raise error(400, w.INVALID_PARAMETERS, "Each access must be an object.")
        partner = str(access.get("partner_id"))
        asset_id = str(access.get("asset_id"))
        # INTERNAL: a partner's access to my asset; EXTERNAL: my access to a partner's asset.
        external = access.get("partner_type", "INTERNAL") == "EXTERNAL"
        owner, holder = (partner, business_id) if external else (business_id, partner)
        partnership = core.get_record(
            w.PLATFORM, "partnership", w.partnership_key(owner, holder), lock=True
        )
        removed = partnership.data["assets"].get(asset_id) if partnership else None
        if removed is None:
            continue
        data = copy.deepcopy(partnership.data)
        del data["assets"][asset_id]
        core.set_data(partnership, data)
        items.append(
            {
                "asset_id": asset_id,
                "asset_type": removed["asset_type"],
                "partner_id": partner,
                "permissions": removed["permissions"],
                "is_shared_partner": external,
            }
        )
    db.session.commit()
    return {"items": items}


@api_route("/businesses/<business_id>/partners/<partner_id>/assets", scope="biz_access:read")
def partner_assets(call: ApiCall, business_id: str, partner_id: str):
    world = call.world()
    _own_business(business_id, world)
    # INTERNAL: my assets the partner can use; EXTERNAL: the partner's assets I can use.
    external = request.args.get("partner_type", "INTERNAL") == "EXTERNAL"
    owner, holder = (partner_id, business_id) if external else (business_id, partner_id)
    partnership = core.get_record(w.PLATFORM, "partnership", w.partnership_key(owner, holder))
    if partnership is None or partnership.data["status"] != "ACTIVE":
        raise error(
            404,
            w.NOT_PARTNERS,
            f"Business {partner_id} is not a partner of business {business_id}.",
        )
    asset_type = request.args.get("asset_type", "AD_ACCOUNT")  # the description's default
    items = [
        {"asset_id": asset_id, "asset_type": a["asset_type"], "permissions": a["permissions"]}
        for asset_id, a in partnership.data["assets"].items()
        if a["asset_type"] == asset_type
    ]
    return _page(items)
