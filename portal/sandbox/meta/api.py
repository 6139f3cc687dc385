"""The emulated Graph API (v25.0), on the real paths and payload shapes.

Served at `/sandbox/meta/graph.facebook.com/v25.0/...`. A call authenticates
with `Authorization: Bearer <token>` (or an `access_token` parameter, as Graph
API allows), and may add `appsecret_proof` (checked when sent). Nodes answer
the fields asked for with `fields=` (nested `business{id,name}` included);
lists answer `{"data": [...], "paging": {"cursors": {...}, "next": ...}}`;
errors answer `{"error": {"message", "type", "code", "error_subcode",
"fbtrace_id"}}`.

Sharing follows Meta's business-to-business model: the client's token calls
`POST /{asset}/agencies` with `business=<agency business id>` and
`permitted_tasks`; the agency then sees the asset under
`GET /{agency business}/client_*`; `DELETE /{asset}/agencies?business=...`
ends it, from either side.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from flask import request

from ...extensions import csrf, db
from ...models.base import utcnow
from .. import core
from ..core import bp
from . import world as w
from .oauth import GRAPH, graph_error

DEFAULT_LIMIT = 25
MAX_LIMIT = 100
DEFAULT_FIELDS = ("id", "name")


# ---------------------------------------------------------------- authentication


@dataclass
class ApiCall:
    """One authenticated call: the token's world, its scopes, and its Page if a Page token."""

    world_id: str
    scopes: tuple[str, ...]
    page_id: str | None = None

    def world(self) -> dict[str, Any]:
        return core.world_data(w.PLATFORM, self.world_id)

    def business(self) -> dict[str, Any] | None:
        return self.world().get("business")


def _raw_token() -> str | None:
    header = request.headers.get("Authorization") or ""
    scheme, _, value = header.partition(" ")
    if scheme.lower() in ("bearer", "oauth") and value.strip():
        return value.strip()
    return request.values.get("access_token") or None


def _check_proof(raw: str) -> None:
    """`appsecret_proof` = HMAC-SHA256(app secret, token), checked when the caller sends it."""
    proof = request.values.get("appsecret_proof")
    if proof is None:
        return
    from ...platforms import credentials

    secret = credentials(w.PLATFORM)["client_secret"]
    expected = hmac.new(secret.encode(), raw.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(proof, expected):
        raise graph_error(
            400, w.INVALID_PARAMETER, "Invalid appsecret_proof provided in the API argument"
        )


def _authenticate(scope: str | None, *, page_token_ok: bool = False) -> ApiCall:
    raw = _raw_token()
    if not raw:
        raise graph_error(
            400,
            2500,
            "An active access token must be used to query information about the current user.",
        )
    _check_proof(raw)
    page = core.get_record(w.PLATFORM, "page_token", core.token_hash(raw))
    if page is not None and page.expires_at is not None and page.expires_at <= utcnow():
        page = None  # forgotten: answers as an unknown token
    if page is not None:
        if not page_token_ok:
            raise graph_error(
                400,
                w.INVALID_PARAMETER,
                "(#100) This call needs a user access token, not a Page access token.",
            )
        call = ApiCall(page.data["world_id"], tuple(page.data["scopes"]), page.data["page_id"])
    else:
        try:
            info = core.authenticate(w.PLATFORM, f"Bearer {raw}")
        except core.TokenProblem as problem:
            if problem.reason == "expired":
                raise graph_error(
                    401,
                    w.INVALID_TOKEN,
                    "Error validating access token: Session has expired on "
                    f"{datetime.now(UTC).strftime('%A, %d-%b-%y %H:%M:%S')} UTC.",
                    subcode=w.SUBCODE_EXPIRED,
                    headers={"WWW-Authenticate": 'OAuth "Facebook Platform" "invalid_token"'},
                ) from None
            raise graph_error(
                401,
                w.INVALID_TOKEN,
                "Invalid OAuth access token - Cannot parse access token",
                subcode=w.SUBCODE_INVALID,
                headers={"WWW-Authenticate": 'OAuth "Facebook Platform" "invalid_token"'},
            ) from None
        call = ApiCall(info.world_id, info.scopes)
    if scope and scope not in call.scopes:
        raise graph_error(
            403,
            w.PERMISSION_ERROR,
            f"(#200) Requires {scope} permission to manage the object",
        )
    _charge_rate_limit(call.world_id)
    return call


def _charge_rate_limit(world_id: str) -> None:
    if not core.world(w.PLATFORM, world_id).data.get("rate_limit"):
        return
    record = core.world(w.PLATFORM, world_id, lock=True)
    data = copy.deepcopy(record.data)
    wait = core.spend_call(data)
    core.set_data(record, data)
    db.session.commit()
    if wait is None:
        return
    business_id = (data.get("business") or {}).get("id") or world_id
    usage = {
        business_id: [
            {
                "type": "ads_management",
                "call_count": 100,
                "total_cputime": 25,
                "total_time": 25,
                "estimated_time_to_regain_access": max(1, round(wait / 60)),
            }
        ]
    }
    raise graph_error(
        429,
        w.AD_ACCOUNT_THROTTLED,
        "(#80004) There have been too many calls to this ad-account. Wait a bit and try again.",
        subcode=w.SUBCODE_THROTTLED,
        transient=True,
        headers={"Retry-After": str(wait), "X-Business-Use-Case-Usage": json.dumps(usage)},
    )


def graph_route(rule: str, methods: tuple[str, ...] = ("GET",), name: str | None = None):
    """Register a Graph API view (exempt from CSRF: API clients send tokens, not cookies)."""

    def decorate(fn: Callable[..., Any]):
        @wraps(fn)
        def view(**kwargs: Any):
            return fn(**kwargs)

        csrf.exempt(view)
        bp.add_url_rule(
            GRAPH + rule,
            endpoint=f"meta_{name or fn.__name__}",
            view_func=view,
            methods=list(methods),
        )
        return view

    return decorate


# ------------------------------------------------------------------ fields, paging


def parse_fields(text: str) -> dict[str, Any]:
    """`id,name,business{id,name}` -> {"id": None, "name": None, "business": {...}}."""

    def parse(i: int) -> tuple[dict[str, Any], int]:
        out: dict[str, Any] = {}
        name = ""
        while i < len(text):
            ch = text[i]
            if ch == ",":
                if name.strip():
                    out[_field_name(name)] = None
                name, i = "", i + 1
            elif ch == "{":
                sub, i = parse(i + 1)
                out[_field_name(name)] = sub
                name = ""
            elif ch == "}":
                if name.strip():
                    out[_field_name(name)] = None
                return out, i + 1
            else:
                name, i = name + ch, i + 1
        if name.strip():
            out[_field_name(name)] = None
        return out, i

    return parse(0)[0]


def _field_name(raw: str) -> str:
    # Modifiers such as `.limit(5)` are accepted and ignored.
    return raw.strip().split(".", 1)[0]


def select(node: dict[str, Any], spec: dict[str, Any] | None, node_type: str) -> dict[str, Any]:
    """The fields asked for (Graph API always answers `id`), strict about unknown ones."""
    if spec is None:
        spec = {f: None for f in DEFAULT_FIELDS if f in node}
    out: dict[str, Any] = {}
    for field, sub in spec.items():
        if field not in node:
            raise graph_error(
                400,
                w.INVALID_PARAMETER,
                f"(#100) Tried accessing nonexisting field ({field}) on node type ({node_type})",
            )
        value = node[field]
        if value is None:
            continue
        if isinstance(value, dict) and sub is not None:
            value = {k: v for k, v in value.items() if k in sub or k == "id"}
        out[field] = value
    if "id" in node:
        out.setdefault("id", node["id"])
        out = {"id": out.pop("id"), **out}
    return out


def requested_fields() -> dict[str, Any] | None:
    raw = request.args.get("fields")
    return parse_fields(raw) if raw else None


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(str(offset).encode()).decode().rstrip("=")


def _offset(cursor: str) -> int:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return int(base64.urlsafe_b64decode(padded.encode()).decode())
    except (ValueError, UnicodeDecodeError):
        raise graph_error(400, w.INVALID_PARAMETER, "(#100) Invalid cursor.") from None


def page_of(items: list[dict[str, Any]], node_type: str) -> dict[str, Any]:
    try:
        limit = int(request.args.get("limit", DEFAULT_LIMIT))
    except ValueError:
        raise graph_error(400, w.INVALID_PARAMETER, "(#100) limit must be a number.") from None
    limit = max(1, min(limit, MAX_LIMIT))
    after = request.args.get("after")
    start = _offset(after) + 1 if after else 0
    end = start + limit
    spec = requested_fields()
    chunk = [select(item, spec, node_type) for item in items[start:end]]
    body: dict[str, Any] = {"data": chunk}
    if chunk:
        body["paging"] = {"cursors": {"before": _cursor(start), "after": _cursor(end - 1)}}
        if end < len(items):
            query = {k: v for k, v in request.args.items() if k not in ("after", "access_token")}
            query["after"] = _cursor(min(end, len(items)) - 1)
            body["paging"]["next"] = f"{request.base_url}?{urlencode(query)}"
    return body


# -------------------------------------------------------------------- node shapes


def _business_node(business: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": business["id"],
        "name": business["name"],
        "verification_status": business.get("verification_status"),
        "two_factor_type": business.get("two_factor_type"),
        "created_time": business.get("created_time"),
    }


def _business_user_node(world: dict[str, Any]) -> dict[str, Any]:
    business = world["business"]
    return {
        "id": business["business_user_id"],
        "name": world["user"]["name"],
        "role": business["role"],
        # *Sandbox assumption*: the values of BusinessUser.two_fac_status.
        "two_fac_status": "enabled" if world["user"]["two_factor_enabled"] else "not_enabled",
        "business": _business_node(business),
    }


def _asset_node(asset_type: str, node: dict[str, Any], business: dict[str, Any] | None):
    shaped = dict(node)
    if asset_type == "AD_ACCOUNT":
        shaped["business"] = {"id": business["id"], "name": business["name"]} if business else None
    else:
        shaped["owner_business"] = (
            {"id": business["id"], "name": business["name"]} if business else None
        )
    if asset_type == "PAGE":
        shaped["access_token"] = None  # only on request, see node()
    return shaped


def _owner(node_id: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]] | None:
    """(index entry, owner world, node) for an asset node id, or None."""
    entry = core.get_record(w.PLATFORM, "asset", node_id)
    if entry is None:
        return None
    owner = core.world_data(w.PLATFORM, entry.data["world_id"])
    for candidate in w.assets_of_type(owner, entry.data["asset_type"]):
        if candidate["id"] == node_id:
            return dict(entry.data), owner, candidate
    return None


def unsupported(node_id: str, method: str = "get") -> core.SandboxAPIError:
    return graph_error(
        400,
        w.INVALID_PARAMETER,
        f"Unsupported {method} request. Object with ID '{node_id}' does not exist, cannot be "
        "loaded due to missing permissions, or does not support this operation.",
        subcode=w.SUBCODE_UNSUPPORTED_REQUEST,
        error_type="GraphMethodException",
    )


def _own_business(call: ApiCall, business_id: str) -> dict[str, Any]:
    world = call.world()
    business = world.get("business")
    if not business or business["id"] != business_id:
        raise unsupported(business_id)
    return world


# ---------------------------------------------------------------------------- me


@graph_route("/me", name="me")
def me():
    call = _authenticate(None, page_token_ok=True)
    world = call.world()
    if call.page_id:
        page = next((p for p in world["pages"] if p["id"] == call.page_id), None)
        return select(page or {"id": call.page_id}, requested_fields(), "Page")
    return select(
        {"id": world["user"]["id"], "name": world["user"]["name"]}, requested_fields(), "User"
    )


@graph_route("/me/permissions", name="me_permissions")
def me_permissions():
    call = _authenticate(None)
    granted = ["public_profile", *[s for s in call.scopes if s != "public_profile"]]
    return {"data": [{"permission": s, "status": "granted"} for s in granted]}


@graph_route("/me/businesses", name="me_businesses")
def me_businesses():
    call = _authenticate("business_management")
    business = call.business()
    return page_of([_business_node(business)] if business else [], "Business")


@graph_route("/me/business_users", name="me_business_users")
def me_business_users():
    call = _authenticate("business_management")
    world = call.world()
    return page_of([_business_user_node(world)] if world.get("business") else [], "BusinessUser")


@graph_route("/me/adaccounts", name="me_adaccounts")
def me_adaccounts():
    call = _authenticate(None)
    if "ads_management" not in call.scopes and "ads_read" not in call.scopes:
        raise graph_error(403, w.PERMISSION_ERROR, "(#200) Requires ads_management permission")
    world = call.world()
    business = world.get("business")
    items = [_asset_node("AD_ACCOUNT", a, None) for a in world["personal_ad_accounts"]]
    items += [_asset_node("AD_ACCOUNT", a, business) for a in world["ad_accounts"]]
    return page_of(items, "AdAccount")


# ------------------------------------------------------------ business and assets


@graph_route("/<node_id>", name="node")
def node(node_id: str):
    spec = requested_fields()
    wants_page_token = bool(spec and "access_token" in spec)
    call = _authenticate(None)
    world = call.world()
    business = world.get("business")
    if business and node_id == business["id"]:
        if "business_management" not in call.scopes:
            raise graph_error(
                403, w.PERMISSION_ERROR, "(#200) Requires business_management permission"
            )
        return select(_business_node(business), spec, "Business")
    found = _owner(node_id)
    if found is None:
        raise unsupported(node_id)
    entry, owner, asset = found
    owner_business = owner.get("business")
    own = entry["world_id"] == call.world_id
    shared = business is not None and (
        core.get_record(w.PLATFORM, "agency_access", w.access_key(node_id, business["id"]))
        is not None
    )
    if not (own or shared):
        raise unsupported(node_id)
    shaped = _asset_node(entry["asset_type"], asset, owner_business)
    if wants_page_token and entry["asset_type"] == "PAGE":
        if not own:
            raise graph_error(
                403, w.PERMISSION_ERROR, "(#200) Only people with a task on the Page get its token"
            )
        if "pages_show_list" not in call.scopes:
            raise graph_error(403, w.PERMISSION_ERROR, "(#200) Requires pages_show_list permission")
        shaped["access_token"] = _issue_page_token(call, node_id)
    return select(shaped, spec, _node_type(entry["asset_type"]))


def _node_type(asset_type: str) -> str:
    return {
        "AD_ACCOUNT": "AdAccount",
        "PAGE": "Page",
        "PIXEL": "AdsPixel",
        "CATALOG": "ProductCatalog",
        "INSTAGRAM_ACCOUNT": "InstagramUser",
    }[asset_type]


def _issue_page_token(call: ApiCall, page_id: str) -> str:
    """A Page access token. From a long-lived user token Meta's does not expire; the
    sandbox forgets it after 60 days so old worlds' records are purged."""
    raw = "EAAsbxP" + secrets.token_urlsafe(32)
    core.put_record(
        w.PLATFORM,
        "page_token",
        core.token_hash(raw),
        {"world_id": call.world_id, "page_id": page_id, "scopes": list(call.scopes)},
        expires_at=utcnow() + timedelta(days=60),
    )
    db.session.commit()
    return raw


@graph_route("/<business_id>/<edge>", name="business_edge")
def business_edge(business_id: str, edge: str):
    if edge in w.OWNED_EDGES:
        asset_type = w.OWNED_EDGES[edge]
        call = _authenticate("business_management")
        _require_scope(call, w.EDGE_SCOPES[asset_type])
        world = _own_business(call, business_id)
        nodes = [
            _asset_node(asset_type, node, world["business"])
            for node in w.assets_of_type(world, asset_type)
        ]
        return page_of(nodes, _node_type(asset_type))
    if edge in w.CLIENT_EDGES:
        asset_type = w.CLIENT_EDGES[edge]
        call = _authenticate("business_management")
        _own_business(call, business_id)
        return page_of(_client_assets(business_id, asset_type), _node_type(asset_type))
    raise graph_error(
        400,
        w.INVALID_PARAMETER,
        f"(#100) Unknown path components: /{edge}",
    )


def _require_scope(call: ApiCall, scope: str) -> None:
    if scope not in call.scopes:
        raise graph_error(403, w.PERMISSION_ERROR, f"(#200) Requires {scope} permission")


def _client_assets(agency_business: str, asset_type: str) -> list[dict[str, Any]]:
    """What other portfolios shared with `agency_business`, with the tasks given."""
    nodes = []
    for record in core.records_where_key(w.PLATFORM, "agency_access", suffix=":" + agency_business):
        access = record.data
        if access["asset_type"] != asset_type:
            continue
        found = _owner(access["node_id"])
        if found is None:
            continue
        _entry, owner, asset = found
        shaped = _asset_node(asset_type, asset, owner.get("business"))
        shaped.pop("access_token", None)
        # *Sandbox assumption*: client assets carry the tasks given and the
        # status of the access (platforms.md: "each node with permitted_tasks").
        shaped["permitted_tasks"] = list(access["permitted_tasks"])
        shaped["access_status"] = access["access_status"]
        nodes.append(shaped)
    return nodes


# ----------------------------------------------------------------------- sharing


def _tasks_param(raw: str | None) -> list[str] | None:
    """permitted_tasks as Graph API takes it: a JSON array (or comma-separated names)."""
    if not raw:
        return None
    raw = raw.strip()
    if raw.startswith("["):
        try:
            value = json.loads(raw)
        except ValueError:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return None
        return [v.strip().upper() for v in value]
    return [part.strip().upper() for part in raw.split(",") if part.strip()]


@graph_route("/<node_id>/agencies", methods=("GET", "POST", "DELETE"), name="agencies")
def agencies(node_id: str):
    found = _owner(node_id)
    is_page = found is not None and found[0]["asset_type"] == "PAGE"
    call = _authenticate("business_management", page_token_ok=is_page)
    if found is None:
        raise unsupported(node_id, request.method.lower())
    entry, owner, asset = found
    if request.method == "GET":
        return _list_agencies(call, node_id, entry)
    if request.method == "DELETE":
        return _remove_agency(call, node_id, entry)
    return _add_agency(call, node_id, entry, owner, asset)


def _list_agencies(call: ApiCall, node_id: str, entry: dict[str, Any]):
    if entry["world_id"] != call.world_id:
        raise unsupported(node_id)
    rows = []
    for record in core.records_where_key(w.PLATFORM, "agency_access", prefix=node_id + ":"):
        access = record.data
        business = core.get_record(w.PLATFORM, "business", access["agency_business"])
        rows.append(
            {
                "id": access["agency_business"],
                "name": business.data["name"] if business else None,
                "access_status": access["access_status"],
                "access_requested_time": access["created_time"],
                "access_updated_time": access["updated_time"],
                "permitted_tasks": list(access["permitted_tasks"]),
            }
        )
    return page_of(rows, "Business")


def _require_admin(world: dict[str, Any]) -> None:
    business = world["business"]
    if business["role"] != "ADMIN":
        raise graph_error(
            403,
            w.PERMISSION_ERROR,
            f"(#200) You must be an admin of the business portfolio {business['name']} to share "
            "its assets with a partner.",
            subcode=w.SUBCODE_NOT_ADMIN,
        )
    if business.get("two_factor_type") in ("admin_required", "all_required") and not world[
        "user"
    ].get("two_factor_enabled"):
        raise graph_error(
            403,
            w.PERMISSION_ERROR,
            f"(#200) {business['name']} requires two-factor authentication for this action. "
            "Turn it on in Accounts Center > Password and security > Two-factor authentication.",
            subcode=w.SUBCODE_TWO_FACTOR,
        )


def _add_agency(call, node_id: str, entry, owner, asset):
    if entry["world_id"] != call.world_id:
        raise unsupported(node_id, "post")
    if entry["asset_type"] == "PAGE" and call.page_id != node_id:
        raise graph_error(
            400, 210, "(#210) A page access token is required to request this resource."
        )
    record = core.world(w.PLATFORM, call.world_id, lock=True)
    world = copy.deepcopy(record.data)
    if world.get("fail_next_grant"):
        world["fail_next_grant"] = False
        core.set_data(record, world)
        db.session.commit()
        raise graph_error(
            500,
            w.SERVICE_ERROR,
            "An unexpected error has occurred. Please retry your request later.",
            transient=True,
        )
    db.session.commit()
    _require_scope(call, w.SHARE_SCOPES[entry["asset_type"]])
    _require_admin(world)
    agency_business = (request.values.get("business") or "").strip()
    if not agency_business:
        raise graph_error(400, w.INVALID_PARAMETER, "(#100) The parameter business is required")
    if agency_business == world["business"]["id"]:
        raise graph_error(
            400,
            w.INVALID_PARAMETER,
            "(#100) A business portfolio cannot be its own partner.",
            subcode=w.SUBCODE_SAME_BUSINESS,
        )
    partner = core.get_record(w.PLATFORM, "business", agency_business)
    if partner is None:
        raise graph_error(
            400,
            w.INVALID_PARAMETER,
            f"(#100) Business {agency_business} does not exist.",
            subcode=w.SUBCODE_BUSINESS_UNKNOWN,
        )
    tasks = _tasks_param(request.values.get("permitted_tasks"))
    allowed = w.TASKS_BY_ASSET_TYPE[entry["asset_type"]]
    if not tasks or any(t not in allowed for t in tasks):
        raise graph_error(
            400,
            w.INVALID_PARAMETER,
            f"(#100) permitted_tasks must be a non-empty list of {', '.join(sorted(allowed))}",
        )
    key = w.access_key(node_id, agency_business)
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")
    existing = core.get_record(w.PLATFORM, "agency_access", key, lock=True)
    data = {
        "node_id": node_id,
        "asset_type": entry["asset_type"],
        "owner_business": world["business"]["id"],
        "agency_business": agency_business,
        "permitted_tasks": w.with_implied(entry["asset_type"], tasks),
        "access_status": "CONFIRMED",
        "name": entry["name"],
        "created_time": existing.data["created_time"] if existing else now,
        "updated_time": now,
    }
    if existing is None:
        core.put_record(w.PLATFORM, "agency_access", key, data)
    else:
        core.set_data(existing, data)
    db.session.commit()
    return {"success": True}


def _remove_agency(call: ApiCall, node_id: str, entry: dict[str, Any]):
    agency_business = (request.values.get("business") or "").strip()
    if not agency_business:
        raise graph_error(400, w.INVALID_PARAMETER, "(#100) The parameter business is required")
    world = call.world()
    business = world.get("business")
    owner_side = entry["world_id"] == call.world_id
    # *Sandbox assumption*: an admin of the partner business may give up the
    # access its business holds, as an admin of the owner may withdraw it.
    partner_side = business is not None and business["id"] == agency_business
    if not (owner_side or partner_side):
        raise unsupported(node_id, "delete")
    if business is None or business["role"] != "ADMIN":
        raise graph_error(
            403,
            w.PERMISSION_ERROR,
            "(#200) Only a business admin can remove a partner's access.",
            subcode=w.SUBCODE_NOT_ADMIN,
        )
    record = core.get_record(
        w.PLATFORM, "agency_access", w.access_key(node_id, agency_business), lock=True
    )
    if record is None:
        raise graph_error(
            400,
            w.INVALID_PARAMETER,
            f"(#100) Business {agency_business} has no access to {node_id}.",
            subcode=w.SUBCODE_NO_ACCESS,
        )
    db.session.delete(record)
    db.session.commit()
    return {"success": True}


# ------------------------------------------------------------------------ unknown


def not_found(rest: str):
    raise unsupported(rest.split("/", 1)[0], request.method.lower())


csrf.exempt(not_found)
bp.add_url_rule(
    GRAPH + "/<path:rest>",
    endpoint="meta_not_found",
    view_func=not_found,
    methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
)

__all__ = ["parse_fields", "select"]
