"""The emulated Graph API (v25.0), on the real paths and payload shapes.

Served at `/sandbox/meta/graph.facebook.com/v25.0/...`, in the shapes of the
Graph API node specs the official SDKs are generated from
(tests/platform_specs/meta/): the protocol (tokens, `fields=`, paging, errors)
is in `graph.py`, the nodes in `nodes.py`, sharing in `sharing.py`.

Sharing follows Meta's business-to-business model: the client's token calls
`POST /{asset}/agencies` with `business=<agency business id>` and
`permitted_tasks`; the agency then sees the asset under
`GET /{agency business}/client_*`; `DELETE /{asset}/agencies?business=...`
ends it, from either side.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from flask import request

from ...extensions import csrf, db
from ...models.base import utcnow
from .. import core
from ..core import bp
from . import sharing
from . import world as w
from .graph import (
    ApiCall,
    authenticate,
    graph_route,
    page_of,
    parse_fields,
    requested_fields,
    require_scope,
    select,
    unsupported,
)
from .nodes import (
    asset_node,
    business_node,
    business_user_node,
    node_type,
    own_business,
    owner,
)
from .oauth import GRAPH, graph_error

# ---------------------------------------------------------------------------- me


@graph_route("/me", name="me")
def me():
    call = authenticate(None, page_token_ok=True)
    world = call.world()
    if call.page_id:
        page = next((p for p in world["pages"] if p["id"] == call.page_id), None)
        return select(page or {"id": call.page_id}, requested_fields(), "Page")
    return select(
        {"id": world["user"]["id"], "name": world["user"]["name"]}, requested_fields(), "User"
    )


@graph_route("/me/permissions", name="me_permissions")
def me_permissions():
    call = authenticate(None)
    granted = ["public_profile", *[s for s in call.scopes if s != "public_profile"]]
    return {"data": [{"permission": s, "status": "granted"} for s in granted]}


@graph_route("/me/businesses", name="me_businesses")
def me_businesses():
    call = authenticate("business_management")
    business = call.business()
    return page_of([business_node(business)] if business else [], "Business")


@graph_route("/me/business_users", name="me_business_users")
def me_business_users():
    call = authenticate("business_management")
    world = call.world()
    return page_of([business_user_node(world)] if world.get("business") else [], "BusinessUser")


@graph_route("/me/adaccounts", name="me_adaccounts")
def me_adaccounts():
    call = authenticate(None)
    if "ads_management" not in call.scopes and "ads_read" not in call.scopes:
        raise graph_error(403, w.PERMISSION_ERROR, "(#200) Requires ads_management permission")
    world = call.world()
    business = world.get("business")
    items = [asset_node("AD_ACCOUNT", a, None) for a in world["personal_ad_accounts"]]
    items += [asset_node("AD_ACCOUNT", a, business) for a in world["ad_accounts"]]
    return page_of(items, "AdAccount")


# ------------------------------------------------------------ business and assets


@graph_route("/<node_id>", name="node")
def node(node_id: str):
    spec = requested_fields()
    wants_page_token = bool(spec and "access_token" in spec)
    call = authenticate(None)
    world = call.world()
    business = world.get("business")
    if business and node_id == business["id"]:
        if "business_management" not in call.scopes:
            raise graph_error(
                403, w.PERMISSION_ERROR, "(#200) Requires business_management permission"
            )
        return select(business_node(business), spec, "Business")
    found = owner(node_id)
    if found is None:
        raise unsupported(node_id)
    entry, owner_world, asset = found
    owner_business = owner_world.get("business")
    own = entry["world_id"] == call.world_id
    shared = business is not None and (
        core.get_record(w.PLATFORM, "agency_access", w.access_key(node_id, business["id"]))
        is not None
    )
    if not (own or shared):
        raise unsupported(node_id)
    shaped = asset_node(entry["asset_type"], asset, owner_business)
    if wants_page_token and entry["asset_type"] == "PAGE":
        if not own:
            raise graph_error(
                403, w.PERMISSION_ERROR, "(#200) Only people with a task on the Page get its token"
            )
        if "pages_show_list" not in call.scopes:
            raise graph_error(403, w.PERMISSION_ERROR, "(#200) Requires pages_show_list permission")
        shaped["access_token"] = _issue_page_token(call, node_id)
    return select(shaped, spec, node_type(entry["asset_type"]))


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
        call = authenticate("business_management")
        require_scope(call, w.EDGE_SCOPES[asset_type])
        world = own_business(call, business_id)
        nodes = [
            asset_node(asset_type, node, world["business"])
            for node in w.assets_of_type(world, asset_type)
        ]
        return page_of(nodes, node_type(asset_type))
    if edge in w.CLIENT_EDGES:
        asset_type = w.CLIENT_EDGES[edge]
        call = authenticate("business_management")
        own_business(call, business_id)
        return page_of(sharing.client_assets(business_id, asset_type), node_type(asset_type))
    if edge in w.PENDING_EDGES:
        asset_type = w.PENDING_EDGES[edge]
        call = authenticate("business_management")
        own_business(call, business_id)
        requests = sharing.pending_requests(business_id, asset_type)
        return page_of(requests, sharing.REQUEST_NODE_TYPES[asset_type])
    raise graph_error(
        400,
        w.INVALID_PARAMETER,
        f"(#100) Unknown path components: /{edge}",
    )


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
