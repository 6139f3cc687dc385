"""Sharing between business portfolios on the emulated Graph API.

The client's token shares an asset with `POST /{asset}/agencies` (a Page with
the Page's own token); `GET /{asset}/agencies` lists the partners;
`DELETE /{asset}/agencies?business=...` ends the access, from either side.
The agency's portfolio sees confirmed access under `client_*` and access
awaiting the client's approval under `pending_client_*`.

Which fields each edge adds to its nodes follows Meta's reference (the pages
are named in tests/platform_specs/meta/graph_docs.json).
"""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from flask import request

from ...extensions import db
from .. import core
from . import world as w
from .graph import ApiCall, authenticate, graph_route, page_of, require_scope, unsupported
from .nodes import asset_node, owner
from .oauth import graph_error

# What each edge adds to the nodes it returns (Meta's reference: "The
# following fields will be added to each node that is returned").
CLIENT_EDGE_FIELDS: dict[str, tuple[str, ...]] = {
    "AD_ACCOUNT": ("permitted_tasks",),
    "PAGE": ("permitted_tasks",),
    "PIXEL": ("permitted_tasks",),
    # client_product_catalogs adds permitted_roles; the sandbox keeps tasks,
    # not catalog roles, so it leaves the field out (Meta may too).
    "CATALOG": (),
    "INSTAGRAM_ACCOUNT": (),
}
AGENCIES_EDGE_FIELDS: dict[str, tuple[str, ...]] = {
    "AD_ACCOUNT": (
        "access_requested_time",
        "access_status",
        "access_updated_time",
        "permitted_tasks",
    ),
    "PAGE": ("access_requested_time", "access_status", "access_updated_time", "permitted_tasks"),
    "PIXEL": ("permitted_tasks",),
    # The reference adds nothing to a catalog's or an Instagram account's agencies.
    "CATALOG": (),
    "INSTAGRAM_ACCOUNT": (),
}
# pending_client_* answer requests: the asset sits under `ad_account` / `page`.
REQUEST_NODE_TYPES = {"AD_ACCOUNT": "BusinessAdAccountRequest", "PAGE": "BusinessPageRequest"}
REQUEST_ASSET_FIELD = {"AD_ACCOUNT": "ad_account", "PAGE": "page"}


def _shared_with(agency_business: str, asset_type: str, status: str):
    """(access, shaped asset node) for each asset of that type shared with the business."""
    for record in core.records_where_key(w.PLATFORM, "agency_access", suffix=":" + agency_business):
        access = record.data
        if access["asset_type"] != asset_type or access["access_status"] != status:
            continue
        found = owner(access["node_id"])
        if found is None:
            continue
        _entry, owner_world, asset = found
        shaped = asset_node(asset_type, asset, owner_world.get("business"))
        shaped.pop("access_token", None)
        yield access, shaped


def client_assets(agency_business: str, asset_type: str) -> list[dict[str, Any]]:
    """What other portfolios shared with `agency_business` (confirmed access)."""
    nodes = []
    for access, shaped in _shared_with(agency_business, asset_type, "CONFIRMED"):
        if "permitted_tasks" in CLIENT_EDGE_FIELDS[asset_type]:
            shaped["permitted_tasks"] = list(access["permitted_tasks"])
        nodes.append(shaped)
    return nodes


def pending_requests(agency_business: str, asset_type: str) -> list[dict[str, Any]]:
    """Access to `agency_business` that awaits the client's approval, as requests."""
    requests = []
    for access, shaped in _shared_with(agency_business, asset_type, "PENDING"):
        key = w.access_key(access["node_id"], agency_business)
        # *Sandbox assumption*: a request's id, stable for the access it stands for.
        request_id = str(int(hashlib.sha256(key.encode()).hexdigest()[:13], 16))
        requests.append(
            {
                "id": request_id,
                REQUEST_ASSET_FIELD[asset_type]: shaped,
                "permitted_tasks": list(access["permitted_tasks"]),
            }
        )
    return requests


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
    found = owner(node_id)
    is_page = found is not None and found[0]["asset_type"] == "PAGE"
    call = authenticate("business_management", page_token_ok=is_page)
    if found is None:
        raise unsupported(node_id, request.method.lower())
    entry, owner_world, asset = found
    if request.method == "GET":
        return _list_agencies(call, node_id, entry)
    if request.method == "DELETE":
        return _remove_agency(call, node_id, entry)
    return _add_agency(call, node_id, entry, owner_world, asset)


def _list_agencies(call: ApiCall, node_id: str, entry: dict[str, Any]):
    if entry["world_id"] != call.world_id:
        raise unsupported(node_id)
    added = AGENCIES_EDGE_FIELDS[entry["asset_type"]]
    rows = []
    for record in core.records_where_key(w.PLATFORM, "agency_access", prefix=node_id + ":"):
        access = record.data
        business = core.get_record(w.PLATFORM, "business", access["agency_business"])
        row = {
            "id": access["agency_business"],
            "name": business.data["name"] if business else None,
            "access_status": access["access_status"],
            "access_requested_time": access["created_time"],
            "access_updated_time": access["updated_time"],
            "permitted_tasks": list(access["permitted_tasks"]),
        }
        rows.append({k: v for k, v in row.items() if k in ("id", "name", *added)})
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
    require_scope(call, w.SHARE_SCOPES[entry["asset_type"]])
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
