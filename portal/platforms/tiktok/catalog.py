"""Catalogs on TikTok: shared by the client by hand, checked from the agency's side.

TikTok's own description of `POST /bc/partner/add/` (tiktok-business-api-sdk,
yml_files/bc_partner_add.yml) marks `asset_type=CATALOG` not valid, and no
other endpoint of its API shares a catalog with a partner Business Center
(`/bc/asset/assign/` gives a catalog to a *member*, a person, not to a
partner). So sharing a catalog is a manual step: the client shares it in
Business Center, then the agency side checks with a read API that the
description allows for catalogs, `GET /bc/partner/asset/get/` with
`asset_type=CATALOG&share_type=SHARED`. The grant row does not know the
client's Business Center (no API call was made for it), so the check looks
through the agency's partners (`GET /bc/partner/get/`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from flask_babel import lazy_gettext as _l

from ..base import ManualStep
from .roles import AD_PROMOTE, CATALOG_ADMIN, HELP_PARTNERS

# Business Center itself: the step says where to go from there.
BUSINESS_CENTER_CATALOGS_URL = "https://business.tiktok.com/"

# A page of TikTok lists: (path, params) -> items (the connector's `_paged`).
Paged = Callable[[str, dict[str, Any]], Iterator[dict[str, Any]]]

ROLES = {"ADMIN": CATALOG_ADMIN, "AD_PROMOTE": AD_PROMOTE}


def steps(permissions: list[str], agency_identity: dict[str, Any] | None, link: str) -> ManualStep:
    """What the client does in Business Center to share a catalog with the agency."""
    agency_bc = str((agency_identity or {}).get("business_id") or "")
    role = ROLES["ADMIN" if "ADMIN" in permissions else "AD_PROMOTE"]
    return ManualStep(
        _l("Share your catalog with the agency in TikTok Business Center"),
        (
            _l(
                "Open TikTok Business Center as an admin and go to Assets → Catalogs, then "
                "choose the catalog you picked here."
            ),
            _l("Open its Partners tab and choose Add partner (or Assign partner)."),
            _l("Enter the agency's Business Center ID: %(id)s.", id=agency_bc)
            if agency_bc
            else _l("Enter the agency's Business Center ID (ask the agency for it)."),
            _l(
                "Give the permission the agency asked for, %(role)s (%(id)s), then confirm.",
                role=role.label,
                id=role.id,
            ),
            _l(
                "If the agency is not your partner yet, add it first under Users → Partners "
                "(%(help)s).",
                help=HELP_PARTNERS,
            ),
            _l(
                "Come back here and choose “I've done this”: the agency then checks that it "
                "sees the catalog."
            ),
        ),
        link=link,
    )


def find_shared(
    paged: Paged, agency_bc: str, asset_type: str, asset_id: str, client_bc: str | None
) -> tuple[str, dict[str, Any]] | None:
    """(the sharing Business Center, its item) for an asset shared with the agency's,
    looking through the agency's partners when the client's is not known."""
    partners = (
        [client_bc]
        if client_bc
        else [
            str(p["bc_id"])
            for p in paged("/bc/partner/get/", {"bc_id": agency_bc})
            if p.get("bc_id")
        ]
    )
    for partner in partners:
        for item in paged(
            "/bc/partner/asset/get/",
            {
                "bc_id": agency_bc,
                "partner_id": partner,
                "asset_type": asset_type,
                "share_type": "SHARED",
            },
        ):
            if str(item.get("asset_id")) == str(asset_id):
                return partner, item
    return None
