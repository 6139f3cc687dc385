"""The emulated Pinterest API v5, on the real paths and payload shapes.

Served at `/sandbox/pinterest/api.pinterest.com/v5/...`. Every call needs
`Authorization: Bearer <token>` with the scope the real endpoint needs; lists
answer `{"items": [...], "bookmark": ...}`; errors answer
`{"code": int, "message": str}` with the real HTTP status.
"""

from __future__ import annotations

import base64
import copy
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from flask import request

from ...extensions import csrf, db
from .. import core
from ..core import bp
from . import world as w

API = "/pinterest/api.pinterest.com/v5"
DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 250


def error(status: int, code: int, message: str, headers: dict[str, str] | None = None):
    return core.SandboxAPIError(status, {"code": code, "message": message}, headers)


@dataclass
class ApiCall:
    """One authenticated call: the token's world and scopes."""

    token: core.TokenInfo

    def record(self, *, lock: bool = False):
        return core.world(w.PLATFORM, self.token.world_id, lock=lock)

    def world(self) -> dict[str, Any]:
        return copy.deepcopy(self.record().data)

    def business(self, world: dict[str, Any] | None = None) -> dict[str, Any] | None:
        return (world or self.world()).get("business")


def _authenticate(scope: str | None) -> ApiCall:
    try:
        info = core.authenticate(w.PLATFORM, request.headers.get("Authorization"))
    except core.TokenProblem as problem:
        message = {
            "missing": "Authentication failed: no bearer token was sent.",
            "invalid": "Authentication failed.",
            "expired": "Authentication failed: the access token has expired.",
        }[problem.reason]
        raise error(401, w.AUTHENTICATION_FAILED, message) from None
    if scope and scope not in info.scopes:
        raise error(
            403,
            w.NOT_PERMITTED,
            f"You are not permitted to access that resource (missing scope {scope}).",
        )
    _charge_rate_limit(info.world_id)
    return ApiCall(info)


def _charge_rate_limit(world_id: str) -> None:
    if not core.world(w.PLATFORM, world_id).data.get("rate_limit"):
        return
    record = core.world(w.PLATFORM, world_id, lock=True)
    data = copy.deepcopy(record.data)
    wait = core.spend_call(data)
    core.set_data(record, data)
    db.session.commit()
    if wait is not None:
        raise error(
            429,
            w.RATE_LIMITED,
            "You have exceeded your rate limit. Try again later.",
            {"Retry-After": str(wait)},
        )


def api_route(rule: str, methods: tuple[str, ...] = ("GET",), scope: str | None = None):
    """Register a sandbox API view: authenticated, scope-checked, rate-limited,
    and exempt from CSRF (API clients send bearer tokens, not cookies)."""

    def decorate(fn: Callable[..., Any]):
        @wraps(fn)
        def view(**kwargs: Any):
            return fn(_authenticate(scope), **kwargs)

        csrf.exempt(view)
        bp.add_url_rule(
            API + rule, endpoint=f"pinterest_{fn.__name__}", view_func=view, methods=list(methods)
        )
        return view

    return decorate


# -------------------------------------------------------------------- helpers


def _page(items: list[Any]) -> dict[str, Any]:
    try:
        size = int(request.args.get("page_size", DEFAULT_PAGE_SIZE))
    except ValueError:
        raise error(400, w.INVALID_PARAMETERS, "page_size must be a number.") from None
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise error(400, w.INVALID_PARAMETERS, f"page_size must be 1 to {MAX_PAGE_SIZE}.")
    offset = 0
    bookmark = request.args.get("bookmark")
    if bookmark:
        try:
            offset = int(base64.urlsafe_b64decode(bookmark.encode()).decode())
        except (ValueError, UnicodeDecodeError):
            raise error(400, w.INVALID_PARAMETERS, "Invalid bookmark.") from None
    end = offset + size
    following = base64.urlsafe_b64encode(str(end).encode()).decode() if end < len(items) else None
    return {"items": items[offset:end], "bookmark": following}


def _json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise error(400, w.INVALID_PARAMETERS, "The request body must be a JSON object.")
    return body


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


def _require_safe_to_share(world_record, world: dict[str, Any], business: dict[str, Any]) -> None:
    """The checks Pinterest makes before a business shares assets."""
    if world.get("fail_next_grant"):
        world["fail_next_grant"] = False
        core.set_data(world_record, world)
        db.session.commit()
        raise error(500, w.INTERNAL_ERROR, "Internal error. Please try again later.")
    _require_admin(business)
    if not world["user"].get("two_factor_enabled", True):
        raise error(
            403,
            w.TWO_FACTOR_REQUIRED,
            "Two-factor authentication is required to accept invites or share assets. "
            "Turn it on in Settings > Security and try again.",
        )


def _asset_check(
    business_id: str, asset_id: str, permissions: Any
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(asset index data, None) when the business may share it with these
    permissions, else (None, exception)."""
    entry = core.get_record(w.PLATFORM, "asset", str(asset_id))
    if entry is None or entry.data["business_id"] != business_id:
        return None, {
            "code": w.ASSET_NOT_OWNED,
            "message": f"Asset {asset_id} does not belong to business {business_id}.",
        }
    allowed = w.PERMISSIONS_BY_ASSET_TYPE[entry.data["asset_type"]]
    if (
        not isinstance(permissions, list)
        or not permissions
        or any(p not in allowed for p in permissions)
    ):
        return None, {
            "code": w.PERMISSION_NOT_VALID,
            "message": f"Permissions {permissions} are not valid for a "
            f"{entry.data['asset_type']} asset.",
        }
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
    entry = core.get_record(w.PLATFORM, "business", business_id)
    return {"id": business_id, "username": entry.data["username"] if entry else None}


def _invite_response(invite: dict[str, Any], viewer_business: str) -> dict[str, Any]:
    return {
        "id": invite["id"],
        "invite_type": invite["invite_type"],
        "business_roles": [invite["business_role"]],
        "status": invite["status"],
        "created_time": invite["created_time"],
        "created_by_business": _business_summary(invite["partner_business"]),
        "created_by_user": invite["created_by_user"],
        "is_received_invite": invite["owner_business"] == viewer_business,
        "user": _business_summary(invite["owner_business"]),
    }


def _visible_ad_account(call: ApiCall, ad_account_id: str) -> dict[str, Any]:
    """The owner's world for an ad account this token may see (own or shared)."""
    entry = core.get_record(w.PLATFORM, "asset", ad_account_id)
    if entry is None or entry.data["asset_type"] != "AD_ACCOUNT":
        raise error(404, w.NOT_FOUND, f"Ad account {ad_account_id} not found.")
    if entry.data["world_id"] != call.token.world_id:
        business = call.business()
        shared = None
        if business:
            shared = core.get_record(
                w.PLATFORM,
                "partnership",
                w.partnership_key(entry.data["business_id"], business["id"]),
            )
        if shared is None or ad_account_id not in shared.data["assets"]:
            raise error(403, w.NOT_PERMITTED, "You are not permitted to access that ad account.")
    return core.world_data(w.PLATFORM, entry.data["world_id"])


# ----------------------------------------------------------------- user account


@api_route("/user_account", scope="user_accounts:read")
def user_account(call: ApiCall):
    world = call.world()
    user = dict(world["user"])
    user["board_count"] = len(world["boards"])
    return user


@api_route("/user_account/businesses", scope="user_accounts:read")
def user_account_businesses(call: ApiCall):
    business = call.business()
    return {"items": [business] if business else [], "bookmark": None}


# ---------------------------------------------------------------------- assets


@api_route("/ad_accounts", scope="ads:read")
def ad_accounts(call: ApiCall):
    world = call.world()
    items = [dict(a) for a in world["ad_accounts"]]
    include_shared = request.args.get("include_shared_accounts", "true").lower() != "false"
    business = world.get("business")
    if include_shared and business:
        suffix = ":" + business["id"]
        for partnership in core.records_where_key(w.PLATFORM, "partnership", suffix=suffix):
            for asset_id, access in partnership.data["assets"].items():
                if access["asset_type"] == "AD_ACCOUNT":
                    items.append(
                        {
                            "id": asset_id,
                            "name": access["name"],
                            "permissions": access["permissions"],
                        }
                    )
    return _page(items)


@api_route("/ad_accounts/<ad_account_id>/conversion_tags", scope="ads:read")
def conversion_tags(call: ApiCall, ad_account_id: str):
    owner = _visible_ad_account(call, ad_account_id)
    tags = [t for t in owner["conversion_tags"] if t["ad_account_id"] == ad_account_id]
    return {"items": tags, "bookmark": None}


@api_route("/ad_accounts/<ad_account_id>/conversion_tags/<tag_id>/page_visit", scope="ads:read")
def conversion_tag_page_visits(call: ApiCall, ad_account_id: str, tag_id: str):
    owner = _visible_ad_account(call, ad_account_id)
    tag = next(
        (
            t
            for t in owner["conversion_tags"]
            if t["id"] == tag_id and t["ad_account_id"] == ad_account_id
        ),
        None,
    )
    if tag is None:
        raise error(404, w.NOT_FOUND, f"Conversion tag {tag_id} not found.")
    # *Sandbox assumption*: the page visits the tag reported in the last 7 days.
    fired = tag.get("last_fired_time_ms")
    recent = fired is not None and time.time() * 1000 - fired <= w.TAG_RECENT_MS
    items = (
        [
            {
                "event_name": "page_visit",
                "event_time_ms": fired,
                "page_url": owner["user"]["website_url"] + "/",
            }
        ]
        if recent
        else []
    )
    return {"items": items, "bookmark": None}


@api_route("/boards", scope="boards:read")
def boards(call: ApiCall):
    return _page(call.world()["boards"])


@api_route("/catalogs", scope="catalogs:read")
def catalogs(call: ApiCall):
    return _page(call.world()["catalogs"])


@api_route("/businesses/<business_id>/assets", scope="biz_access:read")
def business_assets(call: ApiCall, business_id: str):
    world = call.world()
    business = _own_business(business_id, world)
    asset_type = request.args.get("asset_type", "AD_ACCOUNT")
    if asset_type not in w.PERMISSIONS_BY_ASSET_TYPE:
        raise error(400, w.INVALID_PARAMETERS, f"Unknown asset_type {asset_type}.")
    permissions = ["ADMIN"] if business.get("role") in w.ADMIN_ROLES else ["ANALYST"]
    groups = {g["id"]: g for g in world["asset_groups"]}
    items = []
    for asset in w.owned_assets(world):
        if asset["asset_type"] != asset_type:
            continue
        item = {
            "asset_id": asset["asset_id"],
            "asset_type": asset_type,
            "permissions": permissions,
        }
        if asset_type == "ASSET_GROUP":
            group = groups[asset["asset_id"]]
            item["asset_group_info"] = {
                "asset_group_name": group["name"],
                "asset_group_description": group["description"],
                "asset_group_types": group["asset_group_types"],
            }
        items.append(item)
    return _page(items)


# --------------------------------------------------------------- partnerships


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
    if not isinstance(partners, list) or not partners or len(partners) > 10:
        raise error(400, w.INVALID_PARAMETERS, "partners must list 1 to 10 business ids.")
    items = []
    for partner in partners:
        partner = str(partner)
        items.append(_partner_request(business_id, partner, world["user"]))
    db.session.commit()
    return {"items": items}


def _partner_request(requester: str, owner: str, user: dict[str, Any]) -> dict[str, Any]:
    """`requester` asks for access to `owner`'s assets: an invite, or why not."""
    if owner == requester:
        return _exception(w.SAME_BUSINESS, "A business cannot be its own partner.")
    if core.get_record(w.PLATFORM, "business", owner) is None:
        return _exception(w.BUSINESS_NOT_FOUND, f"Business {owner} not found.")
    key = w.partnership_key(owner, requester)
    existing = core.get_record(w.PLATFORM, "partnership", key, lock=True)
    if existing is not None and existing.data["status"] == "ACTIVE":
        return _exception(
            w.ALREADY_PARTNERS, f"Business {requester} is already a partner of business {owner}."
        )
    if existing is not None and existing.data["status"] == "PENDING":
        return _exception(
            w.INVITE_ALREADY_PENDING,
            f"A partner request from business {requester} to business {owner} is already pending.",
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


def _exception(code: int, message: str) -> dict[str, Any]:
    return {"invite": None, "exception": {"code": code, "message": message}}


@api_route("/businesses/<business_id>/invites", scope="biz_access:read")
def list_invites(call: ApiCall, business_id: str):
    world = call.world()
    _own_business(business_id, world)
    if request.args.get("is_member", "false").lower() == "true":
        return _page([])  # the sandbox has no member invites
    statuses = set(request.args.getlist("invite_status")) or None
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
        items.append(_invite_response(invite, business_id))
    return _page(items)


@api_route("/businesses/invites", methods=("PATCH",), scope="biz_access:write")
def respond_to_invites(call: ApiCall):
    record = call.record(lock=True)
    world = copy.deepcopy(record.data)
    business = world.get("business")
    if not business:
        raise error(403, w.NOT_PERMITTED, "Only business accounts can accept partner invites.")
    body = _json_body()
    invites = body.get("invites")
    if not isinstance(invites, list) or not invites:
        raise error(400, w.INVALID_PARAMETERS, "invites must be a non-empty list.")
    _require_safe_to_share(record, world, business)
    items = [_respond(business["id"], entry) for entry in invites]
    db.session.commit()
    return {"items": items}


def _respond(business_id: str, entry: Any) -> dict[str, Any]:
    if not isinstance(entry, dict) or not isinstance(entry.get("action"), dict):
        return _exception(w.INVALID_PARAMETERS, "Each invite needs an invite_id and an action.")
    invite_id = str(entry.get("invite_id"))
    invite_record = core.get_record(w.PLATFORM, "invite", invite_id, lock=True)
    if invite_record is None or invite_record.data["owner_business"] != business_id:
        return _exception(w.INVITE_NOT_FOUND, f"Invite {invite_id} not found.")
    invite = dict(invite_record.data)
    if invite["status"] != "PENDING":
        return _exception(w.INVITE_NOT_FOUND, f"Invite {invite_id} is no longer pending.")
    action = entry["action"]
    partner = invite["partner_business"]
    key = w.partnership_key(business_id, partner)
    if not action.get("accept_invite"):
        invite["status"] = "DECLINED"
        core.set_data(invite_record, invite)
        core.delete_records(w.PLATFORM, "partnership", [key])
        return {"invite": _invite_response(invite, business_id), "exception": None}
    grants = action.get("asset_id_to_permissions") or {}
    if not isinstance(grants, dict):
        return _exception(w.INVALID_PARAMETERS, "asset_id_to_permissions must be an object.")
    checked = []
    for asset_id, permissions in grants.items():
        asset, problem = _asset_check(business_id, asset_id, permissions)
        if problem:
            return {"invite": None, "exception": problem}
        checked.append((str(asset_id), asset, permissions))
    invite["status"] = "ACCEPTED"
    core.set_data(invite_record, invite)
    record = core.get_record(w.PLATFORM, "partnership", key, lock=True)
    core.set_data(record, {**record.data, "status": "ACTIVE"})
    for asset_id, asset, permissions in checked:
        _grant_access(business_id, partner, asset_id, asset, permissions)
    return {"invite": _invite_response(invite, business_id), "exception": None}


@api_route(
    "/businesses/<business_id>/partners/assets", methods=("PATCH",), scope="biz_access:write"
)
def update_partner_assets(call: ApiCall, business_id: str):
    record = call.record(lock=True)
    world = copy.deepcopy(record.data)
    business = _own_business(business_id, world)
    accesses = _json_body().get("accesses")
    if not isinstance(accesses, list) or not accesses:
        raise error(400, w.INVALID_PARAMETERS, "accesses must be a non-empty list.")
    _require_safe_to_share(record, world, business)
    items = []
    for access in accesses:
        if not isinstance(access, dict):
            items.append({"exception": {"code": w.INVALID_PARAMETERS, "message": "Bad access."}})
            continue
        partner = str(access.get("partner_id"))
        asset_id = str(access.get("asset_id"))
        partnership = core.get_record(
            w.PLATFORM, "partnership", w.partnership_key(business_id, partner)
        )
        if partnership is None or partnership.data["status"] != "ACTIVE":
            items.append(
                {
                    "asset_id": asset_id,
                    "partner_id": partner,
                    "exception": {
                        "code": w.NOT_PARTNERS,
                        "message": f"Business {partner} is not a partner of {business_id}.",
                    },
                }
            )
            continue
        asset, problem = _asset_check(business_id, asset_id, access.get("permissions"))
        if problem:
            items.append({"asset_id": asset_id, "partner_id": partner, "exception": problem})
            continue
        _grant_access(business_id, partner, asset_id, asset, access["permissions"])
        items.append(
            {
                "asset_id": asset_id,
                "asset_type": asset["asset_type"],
                "partner_id": partner,
                "permissions": sorted(set(access["permissions"])),
                "exception": None,
            }
        )
    db.session.commit()
    return {"items": items}


@api_route(
    "/businesses/<business_id>/partners/assets", methods=("DELETE",), scope="biz_access:write"
)
def delete_partner_assets(call: ApiCall, business_id: str):
    world = call.world()
    business = _own_business(business_id, world)
    _require_admin(business)
    accesses = _json_body().get("accesses")
    if not isinstance(accesses, list) or not accesses:
        raise error(400, w.INVALID_PARAMETERS, "accesses must be a non-empty list.")
    items = []
    for access in accesses:
        if not isinstance(access, dict):
            items.append({"exception": {"code": w.INVALID_PARAMETERS, "message": "Bad access."}})
            continue
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
            items.append(
                {
                    "asset_id": asset_id,
                    "partner_id": partner,
                    "exception": {
                        "code": w.ACCESS_NOT_FOUND,
                        "message": f"No access to asset {asset_id} found for this partner.",
                    },
                }
            )
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
                "exception": None,
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
            w.NOT_FOUND,
            f"Business {partner_id} is not a partner of business {business_id}.",
        )
    asset_type = request.args.get("asset_type")
    items = [
        {"asset_id": asset_id, "asset_type": a["asset_type"], "permissions": a["permissions"]}
        for asset_id, a in partnership.data["assets"].items()
        if asset_type is None or a["asset_type"] == asset_type
    ]
    return _page(items)


# ------------------------------------------------------------------ not found


def not_found(rest: str):
    raise error(404, w.NOT_FOUND, f"Resource not found: /v5/{rest}")


csrf.exempt(not_found)
bp.add_url_rule(
    API + "/<path:rest>",
    endpoint="pinterest_not_found",
    view_func=not_found,
    methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
)
