"""The emulated Pinterest API v5, on the real paths and payload shapes.

Served at `/sandbox/pinterest/api.pinterest.com/v5/...`. Every call needs
`Authorization: Bearer <token>` with the scope the real endpoint needs; lists
answer `{"items": [...], "bookmark": ...}` (where the description pages them);
errors answer `{"code": int, "message": str}` with the real HTTP status.
Business access (employers, invites, partners) is in `business.py`.
"""

from __future__ import annotations

import base64
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
def linked_businesses(call: ApiCall):
    """The linked business accounts: a bare list of {username, image_*_url}.
    *Sandbox choice*: a business world links its own business profile."""
    business = call.business()
    if not business:
        return jsonify([])
    images = {f"image_{size}_url": "" for size in ("small", "medium", "large", "xlarge")}
    return jsonify([{"username": business["username"], **images}])


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
    """Not paginated: the description's answer is {"items": [...]} only."""
    owner = _visible_ad_account(call, ad_account_id)
    tags = [t for t in owner["conversion_tags"] if t["ad_account_id"] == ad_account_id]
    if request.args.get("filter_deleted", "false").lower() == "true":
        tags = [t for t in tags if t.get("status") != "DELETED_DRAFT"]
    return {"items": tags}


@api_route("/ad_accounts/<ad_account_id>/conversion_tags/page_visit", scope="ads:read")
def page_visit_conversion_tags(call: ApiCall, ad_account_id: str):
    """The account's page-visit events: {ad_account_id, conversion_tag_id,
    conversion_event, created_time}. *Sandbox choice*: the description says
    "epoch format" for `created_time`; the sandbox answers seconds."""
    owner = _visible_ad_account(call, ad_account_id)
    events = [
        {**visit, "conversion_event": "PAGE_VISIT"}
        for visit in owner.get("page_visits", [])
        if visit["ad_account_id"] == ad_account_id
    ]
    events.sort(key=lambda e: e["created_time"], reverse=request.args.get("order") != "ASCENDING")
    return _page(events)


@api_route("/boards", scope="boards:read")
def boards(call: ApiCall):
    return _page(call.world()["boards"])


@api_route("/catalogs", scope="catalogs:read")
def catalogs(call: ApiCall):
    return _page(call.world()["catalogs"])


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
