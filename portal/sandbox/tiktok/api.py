"""The emulated TikTok API for Business v1.3, on the real paths and payload shapes.

Served at `/sandbox/tiktok/business-api.tiktok.com/open_api/v1.3/...`. Every
call needs the `Access-Token` header (TikTok does not use `Authorization:
Bearer`). Like TikTok, every answer is HTTP 200 with
`{"code", "message", "request_id", "data"}`; `code` 0 is success and any other
code is the error. Lists answer `data.list` with `data.page_info`.

The requests follow TikTok's SDK description (tiktok-business-api-sdk,
`yml_files/bc_*.yml`, kept in tests/platform_specs/tiktok/) and the answers'
`data` the endpoints' documentation pages (`documented.json` there). TikTok
has no per-request OAuth scopes: an app's permissions are set on the app, and
the sandbox's app has every permission these endpoints need.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from flask import jsonify, request

from ...extensions import csrf, db
from .. import core
from ..core import bp
from . import world as w

API = "/tiktok/business-api.tiktok.com/open_api/v1.3"
DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 50


def error(code: int, message: str, headers: dict[str, str] | None = None, status: int = 200):
    """A TikTok error: HTTP 200 (TikTok's way) with the return code in the body."""
    body = {"code": code, "message": message, "request_id": w.request_id(), "data": {}}
    return core.SandboxAPIError(status, body, headers)


def ok(data: dict[str, Any]):
    return jsonify({"code": w.OK, "message": "OK", "request_id": w.request_id(), "data": data})


@dataclass
class ApiCall:
    """One authenticated call: the token's world."""

    token: core.TokenInfo

    def record(self, *, lock: bool = False):
        return core.world(w.PLATFORM, self.token.world_id, lock=lock)

    def world(self) -> dict[str, Any]:
        return copy.deepcopy(self.record().data)


def _authenticate() -> ApiCall:
    secret = (request.headers.get("Access-Token") or "").strip()
    if not secret:
        raise error(
            w.ACCESS_TOKEN_EMPTY, "Access token is null. Put it in the Access-Token header."
        )
    try:
        info = core.authenticate(w.PLATFORM, f"Bearer {secret}")
    except core.TokenProblem:
        raise error(
            w.ACCESS_TOKEN_INVALID, "Access token is incorrect or has been revoked."
        ) from None
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
        # *Sandbox assumption*: TikTok documents return code 40100 for throttled
        # calls, not the HTTP status or a Retry-After header. The sandbox answers
        # HTTP 429 with Retry-After so that waiting as told is exercised; the
        # connector also understands 40100 in an HTTP 200 answer.
        raise error(
            w.RATE_LIMITED,
            "Requests made too frequently. Please retry in a few seconds.",
            {"Retry-After": str(wait)},
            status=429,
        )


def api_route(rule: str, methods: tuple[str, ...] = ("GET",)):
    """Register a sandbox API view: authenticated, rate-limited, and exempt from
    CSRF (API clients send tokens, not cookies)."""

    def decorate(fn: Callable[..., Any]):
        @wraps(fn)
        def view(**kwargs: Any):
            return fn(_authenticate(), **kwargs)

        csrf.exempt(view)
        bp.add_url_rule(
            API + rule, endpoint=f"tiktok_{fn.__name__}", view_func=view, methods=list(methods)
        )
        return view

    return decorate


# -------------------------------------------------------------------- helpers


def _page(items: list[Any]) -> dict[str, Any]:
    try:
        page = int(request.args.get("page", 1))
        size = int(request.args.get("page_size", DEFAULT_PAGE_SIZE))
    except ValueError:
        raise error(w.INVALID_PARAMETERS, "page and page_size must be numbers.") from None
    if page < 1 or not 1 <= size <= MAX_PAGE_SIZE:
        raise error(
            w.INVALID_PARAMETERS, f"page must be at least 1 and page_size 1 to {MAX_PAGE_SIZE}."
        )
    total_page = max(1, -(-len(items) // size))
    start = (page - 1) * size
    return {
        "list": items[start : start + size],
        "page_info": {
            "page": page,
            "page_size": size,
            "total_number": len(items),
            "total_page": total_page,
        },
    }


def _json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise error(w.INVALID_PARAMETERS, "The request body must be a JSON object.")
    return body


def _required(values: dict[str, Any], name: str) -> str:
    value = values.get(name)
    if value in (None, ""):
        raise error(w.INVALID_PARAMETERS, f"{name} is required.")
    return str(value)


def _own_bc(world: dict[str, Any], bc_id: str) -> dict[str, Any]:
    bc = world.get("business_center")
    if not bc or bc["bc_id"] != bc_id:
        raise error(w.NO_PERMISSION, f"No permission to operate Business Center {bc_id}.")
    return bc


def _require_admin(bc: dict[str, Any]) -> None:
    if bc["user_role"] != w.BC_ADMIN:
        raise error(
            w.NO_PERMISSION,
            "No permission to operate. Only Business Center admins can manage partners "
            "and share assets.",
        )


def _asset_type(values: dict[str, Any]) -> str:
    asset_type = _required(values, "asset_type")
    if asset_type not in w.ROLES_BY_ASSET_TYPE:
        raise error(
            w.INVALID_PARAMETERS,
            f"asset_type {asset_type} is not supported here: use ADVERTISER or CATALOG.",
        )
    return asset_type


def _stronger(asset_type: str, a: str | None, b: str) -> str:
    roles = w.ROLES_BY_ASSET_TYPE[asset_type]
    if a is None or a not in roles:
        return b
    return max(a, b, key=roles.index)


# -------------------------------------------------------------- Business Center


@api_route("/bc/get/")
def bc_get(call: ApiCall):
    bc = call.world().get("business_center")
    items = []
    wanted = request.args.get("bc_id")
    if bc and (not wanted or wanted == bc["bc_id"]):
        # The fields of `bc_info` that /bc/get/'s page lists; the world's others
        # (the role, the 2-step setting) are the sandbox's own. No finance role:
        # `ext_user_role` is left out.
        info = {k: bc[k] for k in w.BC_INFO_FIELDS if k in bc}
        items.append({"bc_info": info, "user_role": bc["user_role"]})
    return ok(_page(items))


@api_route("/bc/asset/get/")
def bc_asset_get(call: ApiCall):
    world = call.world()
    bc = _own_bc(world, _required(request.args, "bc_id"))
    asset_type = _asset_type(request.args)
    admin = bc["user_role"] == w.BC_ADMIN
    roles = w.ROLES_BY_ASSET_TYPE[asset_type]
    # Members see what is assigned to them: here, Standard members are analysts.
    role = roles[-1] if admin else roles[0]
    items = []
    for asset in w.owned_assets(world):
        if asset["asset_type"] != asset_type:
            continue
        item = dict(asset)
        item[w.ROLE_FIELD[asset_type]] = role
        if asset_type == "ADVERTISER":
            item["advertiser_account_type"] = "AUCTION"
            found = next(a for a in world["advertisers"] if a["advertiser_id"] == asset["asset_id"])
            item["advertiser_status"] = found["status"]
        items.append(item)
    return ok(_page(items))


# ---------------------------------------------------------------- partners


@api_route("/bc/partner/add/", methods=("POST",))
def bc_partner_add(call: ApiCall):
    record = call.record(lock=True)
    world = copy.deepcopy(record.data)
    body = _json_body()
    bc_id = _required(body, "bc_id")
    bc = _own_bc(world, bc_id)
    if world.get("fail_next_grant"):
        world["fail_next_grant"] = False
        core.set_data(record, world)
        db.session.commit()
        raise error(w.SYSTEM_ERROR, "System error. Please try again later.")
    _require_admin(bc)
    if bc.get("requires_two_step_verification") and not world["user"].get("two_step_verification"):
        raise error(
            w.NO_PERMISSION,
            "No permission to operate. This Business Center's security settings require "
            "2-step verification: turn it on in your TikTok for Business account settings "
            "(Security), then try again.",
        )
    partner_id = _required(body, "partner_id")
    if partner_id == bc_id:
        raise error(w.INVALID_PARAMETERS, "A Business Center cannot be its own partner.")
    if core.get_record(w.PLATFORM, "business", partner_id) is None:
        raise error(w.INVALID_PARAMETERS, f"Business Center {partner_id} does not exist.")
    asset_type = _asset_type(body)
    if asset_type not in w.PARTNER_ADD_ASSET_TYPES:
        # TikTok's description of /bc/partner/add/ marks every asset_type but
        # ADVERTISER not valid (x-open-enum is_valid: false), CATALOG included.
        raise error(
            w.INVALID_PARAMETERS,
            f"asset_type {asset_type} is not supported when adding a partner: use ADVERTISER.",
        )
    asset_ids = body.get("asset_ids")
    if not isinstance(asset_ids, list) or not asset_ids:
        raise error(w.INVALID_PARAMETERS, "asset_ids is required: list at least one asset.")
    field = w.ROLE_FIELD[asset_type]
    role = str(body.get(field) or "ANALYST")  # the description's default
    if role not in w.ROLES_BY_ASSET_TYPE[asset_type]:
        raise error(w.INVALID_PARAMETERS, f"{field} {role} is not valid for {asset_type}.")
    checked = []
    for asset_id in map(str, asset_ids):
        entry = core.get_record(w.PLATFORM, "asset", asset_id)
        if entry is None or entry.data["bc_id"] != bc_id or entry.data["asset_type"] != asset_type:
            raise error(
                w.INVALID_PARAMETERS,
                f"Asset {asset_id} is not a {asset_type} owned by Business Center {bc_id}.",
            )
        checked.append((asset_id, entry.data))
    share(bc_id, partner_id, asset_type, [(a, asset["name"]) for a, asset in checked], role)
    db.session.commit()
    return ok({})


def share(
    bc_id: str, partner_id: str, asset_type: str, assets: list[tuple[str, str]], role: str
) -> None:
    """Share assets ((id, name) pairs) of Business Center `bc_id` with a partner;
    the caller commits. Used by /bc/partner/add/ and the Business Center page."""
    key = w.partnership_key(bc_id, partner_id)
    partnership = core.get_record(w.PLATFORM, "partnership", key, lock=True)
    if partnership is None:
        partnership = core.put_record(w.PLATFORM, "partnership", key, {"assets": {}})
    data = copy.deepcopy(partnership.data)
    for asset_id, name in assets:
        current = (data["assets"].get(asset_id) or {}).get("role")
        # Sharing again never lowers a partner's role (TikTok: remove, then share again).
        data["assets"][asset_id] = {
            "asset_type": asset_type,
            "role": _stronger(asset_type, current, role),
            "name": name,
        }
    core.set_data(partnership, data)


@api_route("/bc/partner/get/")
def bc_partner_get(call: ApiCall):
    bc_id = _required(request.args, "bc_id")
    _own_bc(call.world(), bc_id)
    partners: dict[str, str] = {}
    for record in core.records_where_key(w.PLATFORM, "partnership", prefix=bc_id + ":"):
        partners[record.key.split(":", 1)[1]] = ""
    for record in core.records_where_key(w.PLATFORM, "partnership", suffix=":" + bc_id):
        partners[record.key.split(":", 1)[0]] = ""
    items = []
    for partner_id in partners:
        entry = core.get_record(w.PLATFORM, "business", partner_id)
        items.append({"bc_id": partner_id, "bc_name": entry.data["name"] if entry else ""})
    return ok(_page(items))


def _direction(bc_id: str, partner_id: str, share_type: str) -> str:
    """SHARED: what the partner shares with me; SHARING: what I share with the partner."""
    if share_type == "SHARED":
        return w.partnership_key(partner_id, bc_id)
    if share_type == "SHARING":
        return w.partnership_key(bc_id, partner_id)
    raise error(w.INVALID_PARAMETERS, "share_type must be SHARED or SHARING.")


@api_route("/bc/partner/asset/get/")
def bc_partner_asset_get(call: ApiCall):
    bc_id = _required(request.args, "bc_id")
    _own_bc(call.world(), bc_id)
    partner_id = _required(request.args, "partner_id")
    asset_type = _asset_type(request.args)
    key = _direction(bc_id, partner_id, _required(request.args, "share_type"))
    partnership = core.get_record(w.PLATFORM, "partnership", key)
    items = []
    for asset_id, access in (partnership.data["assets"] if partnership else {}).items():
        if access["asset_type"] != asset_type:
            continue
        item = {"asset_id": asset_id, "asset_type": asset_type, "asset_name": access["name"]}
        item[w.ROLE_FIELD[asset_type]] = access["role"]
        if asset_type == "ADVERTISER":
            item["advertiser_account_type"] = "AUCTION"
        items.append(item)
    return ok(_page(items))


@api_route("/bc/partner/asset/delete/", methods=("POST",))
def bc_partner_asset_delete(call: ApiCall):
    body = _json_body()
    bc_id = _required(body, "bc_id")
    _require_admin(_own_bc(call.world(), bc_id))
    partner_id = _required(body, "partner_id")
    asset_type = _asset_type(body)
    asset_ids = body.get("asset_ids")
    if not isinstance(asset_ids, list) or not asset_ids:
        raise error(w.INVALID_PARAMETERS, "asset_ids must list at least one asset.")
    # *Sandbox assumption*: either side of a partnership may end the sharing of an
    # asset: the owner stops sharing it, or the partner gives it back.
    keys = (w.partnership_key(bc_id, partner_id), w.partnership_key(partner_id, bc_id))
    removed = set()
    for key in keys:
        partnership = core.get_record(w.PLATFORM, "partnership", key, lock=True)
        if partnership is None:
            continue
        data = copy.deepcopy(partnership.data)
        for asset_id in map(str, asset_ids):
            access = data["assets"].get(asset_id)
            if access and access["asset_type"] == asset_type:
                del data["assets"][asset_id]
                removed.add(asset_id)
        core.set_data(partnership, data)
    db.session.commit()
    missing = [a for a in map(str, asset_ids) if a not in removed]
    if missing:
        raise error(
            w.INVALID_PARAMETERS,
            f"Assets {', '.join(missing)} are not shared between Business Centers "
            f"{bc_id} and {partner_id}.",
        )
    return ok({})


# ------------------------------------------------------------------ not found


def not_found(rest: str):
    raise error(w.NOT_FOUND, f"Not found: /open_api/v1.3/{rest}", status=404)


csrf.exempt(not_found)
bp.add_url_rule(
    API + "/<path:rest>",
    endpoint="tiktok_not_found",
    view_func=not_found,
    methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
)
