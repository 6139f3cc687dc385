"""TikTok catalogs: a manual step in Business Center, checked from the agency's side.

TikTok's own description of `POST /bc/partner/add/` marks `asset_type=CATALOG`
not valid (tiktok-business-api-sdk, yml_files/bc_partner_add.yml), so the
connector no longer sends it: the client shares the catalog in Business Center
(the sandbox's stand-in page) and the agency finds it through its partners.
"""

from __future__ import annotations

import pytest

from portal import platforms
from portal.extensions import db
from portal.sandbox import core


@pytest.fixture
def connector(live_server):
    return platforms.get("tiktok")


@pytest.fixture
def agency_token(live_server):
    return core.sandbox_token("tiktok", "business", name="Northwind Agency")


@pytest.fixture
def agency_identity(connector, agency_token):
    return connector.agency_identity(agency_token)


def persona_token(persona: str, **options):
    return core.sandbox_token("tiktok", persona, **options)


def share_catalog_in_business_center(client_token, agency_identity, role: str) -> str:
    """What the client does by hand in Business Center (the sandbox's stand-in page)."""
    from portal.sandbox.tiktok import api as sandbox_api

    world = core.world_data("tiktok", client_token["sandbox_world_id"])
    catalog = world["catalogs"][0]
    sandbox_api.share(
        world["business_center"]["bc_id"],
        agency_identity["business_id"],
        "CATALOG",
        [(catalog["catalog_id"], catalog["catalog_name"])],
        role,
    )
    db.session.commit()
    return catalog["catalog_id"]


def test_a_catalog_is_a_manual_step_naming_the_agencys_business_center(
    connector, agency_token, agency_identity
):
    client = persona_token("business")
    (catalog,) = connector.list_assets(client, ["CATALOG"])["CATALOG"]

    # TikTok's description marks asset_type=CATALOG not valid for /bc/partner/add/.
    result = connector.grant(client, agency_token, agency_identity, catalog, ["AD_PROMOTE"])
    (step,) = connector.manual_steps("CATALOG", ["AD_PROMOTE"], agency_identity)

    assert connector.asset_type("CATALOG").manual and connector.manual_steps_name_the_agency
    assert result.status == "failed" and result.external["error_code"] == "manual_only"
    assert any(agency_identity["business_id"] in str(line) for line in step.steps)
    assert step.link.endswith("/sandbox/tiktok/business.tiktok.com/")


def test_the_agency_finds_a_catalog_shared_by_hand_through_its_partners(
    connector, agency_token, agency_identity
):
    client = persona_token("business")
    catalog_id = share_catalog_in_business_center(client, agency_identity, "AD_PROMOTE")

    # A manual grant knows no client Business Center: the agency's partners are read.
    check = connector.verify(
        agency_token, agency_identity, "CATALOG", catalog_id, ["AD_PROMOTE"], {}
    )
    stronger = connector.verify(agency_token, agency_identity, "CATALOG", catalog_id, ["ADMIN"], {})

    assert check.status == "verified" and check.permissions == ("AD_PROMOTE",)
    assert stronger.status == "insufficient"
    assert connector.revoke(agency_token, agency_identity, "CATALOG", catalog_id, {})
    gone = connector.verify(
        agency_token, agency_identity, "CATALOG", catalog_id, ["AD_PROMOTE"], {}
    )
    assert gone.status == "missing"


def test_the_emulated_partner_add_refuses_a_catalog_as_tiktoks_description_does(
    client, agency_identity
):
    token = persona_token("business")
    world = core.world_data("tiktok", token["sandbox_world_id"])
    answer = client.post(
        "/sandbox/tiktok/business-api.tiktok.com/open_api/v1.3/bc/partner/add/",
        json={
            "bc_id": world["business_center"]["bc_id"],
            "partner_id": agency_identity["business_id"],
            "asset_type": "CATALOG",
            "asset_ids": [world["catalogs"][0]["catalog_id"]],
            "catalog_role": "AD_PROMOTE",
        },
        headers={"Access-Token": token["access_token"]},
    )

    assert answer.status_code == 200 and answer.get_json()["code"] == 40002
    assert "ADVERTISER" in answer.get_json()["message"]
