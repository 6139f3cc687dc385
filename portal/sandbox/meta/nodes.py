"""The emulated Graph API's nodes: how a world's business, business user and
assets look as Graph API nodes, and who owns an asset node."""

from __future__ import annotations

from typing import Any

from .. import core
from . import world as w
from .graph import ApiCall, unsupported

# The node type each asset is on the Graph API (as the SDK node specs name them).
NODE_TYPES = {
    "AD_ACCOUNT": "AdAccount",
    "PAGE": "Page",
    "PIXEL": "AdsPixel",
    "CATALOG": "ProductCatalog",
    "INSTAGRAM_ACCOUNT": "InstagramBusinessAsset",
}
# Pages, pixels and catalogs declare `owner_business`; ad accounts `business`;
# an InstagramBusinessAsset has only id, ig_user_id and ig_username.
OWNER_FIELD = {
    "AD_ACCOUNT": "business",
    "PAGE": "owner_business",
    "PIXEL": "owner_business",
    "CATALOG": "owner_business",
}


def node_type(asset_type: str) -> str:
    return NODE_TYPES[asset_type]


def business_node(business: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": business["id"],
        "name": business["name"],
        "verification_status": business.get("verification_status"),
        "two_factor_type": business.get("two_factor_type"),
        "created_time": business.get("created_time"),
    }


def business_user_node(world: dict[str, Any]) -> dict[str, Any]:
    business = world["business"]
    return {
        "id": business["business_user_id"],
        "name": world["user"]["name"],
        "role": business["role"],
        # *Sandbox assumption*: the values of BusinessUser.two_fac_status (the
        # node specs type it as a string and list no values).
        "two_fac_status": "enabled" if world["user"]["two_factor_enabled"] else "not_enabled",
        "business": business_node(business),
    }


def asset_node(asset_type: str, node: dict[str, Any], business: dict[str, Any] | None):
    shaped = w.graph_fields(asset_type, node)
    owner_field = OWNER_FIELD.get(asset_type)
    if owner_field:
        shaped[owner_field] = {"id": business["id"], "name": business["name"]} if business else None
    if asset_type == "PAGE":
        shaped["access_token"] = None  # only on request, see api.node()
    return shaped


def owner(node_id: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]] | None:
    """(index entry, owner world, node) for an asset node id, or None."""
    entry = core.get_record(w.PLATFORM, "asset", node_id)
    if entry is None:
        return None
    world = core.world_data(w.PLATFORM, entry.data["world_id"])
    for candidate in w.assets_of_type(world, entry.data["asset_type"]):
        if candidate["id"] == node_id:
            return dict(entry.data), world, candidate
    return None


def own_business(call: ApiCall, business_id: str) -> dict[str, Any]:
    world = call.world()
    business = world.get("business")
    if not business or business["id"] != business_id:
        raise unsupported(business_id)
    return world
