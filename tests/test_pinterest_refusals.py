"""The Pinterest connector when Pinterest refuses: not an admin, two-factor
authentication off, an asset it will not share, a failure mid-grant, a removal
it will not make. Over real HTTP, against the emulated Pinterest.

Pinterest's description declares how each answer refuses: the invite answers
carry an `items[].exception`; the partner-assets answers have none and refuse
with an HTTP error `{code, message}`.
"""

from __future__ import annotations

import pytest
from helpers_pinterest import CAMPAIGNS, first_ad_account, persona_token

from portal import platforms
from portal.platforms.base import Asset, PlatformError
from portal.sandbox import core


@pytest.fixture
def connector(live_server):
    return platforms.get("pinterest")


@pytest.fixture
def agency_token(live_server):
    return core.sandbox_token("pinterest", "business", name="Northwind Agency")


@pytest.fixture
def agency_identity(connector, agency_token):
    return connector.agency_identity(agency_token)


def test_it_says_when_pinterest_refuses_to_remove_the_access(connector, agency_token):
    someone_else = connector.agency_identity(persona_token("business"))
    external = {"client_business_id": someone_else["business_id"]}

    with pytest.raises(PlatformError) as refused:
        connector.revoke(agency_token, someone_else, "AD_ACCOUNT", "1234", external)

    assert refused.value.code == "revoke_refused" and refused.value.status == 403
    assert "Business Access" in refused.value.fix


def test_it_explains_that_only_an_admin_can_accept(connector, agency_token, agency_identity):
    client = persona_token("not_admin")
    asset = first_ad_account(connector, client)

    result = connector.grant(client, agency_token, agency_identity, asset, CAMPAIGNS)

    assert result.status == "failed"
    assert result.external["error_code"] == "not_admin"
    assert not result.retryable
    assert "admin" in result.error and "Business Access" in result.fix
    # Pinterest's own words stay in the technical detail.
    assert "403" in result.external["detail"] and "business admins" in result.external["detail"]


def test_it_explains_two_factor_authentication_blocks_the_invitation(
    connector, agency_token, agency_identity
):
    client = persona_token("two_factor_off")
    asset = first_ad_account(connector, client)

    result = connector.grant(client, agency_token, agency_identity, asset, CAMPAIGNS)

    assert result.status == "failed"
    assert result.external["error_code"] == "two_factor_off"
    assert "Two-factor" in result.error
    assert "invitation is sent again" in result.fix
    # Said in the accept answer's items[].exception, as the description declares it.
    assert result.external["detail"].startswith("invite exception 9002: Two-factor")


def set_two_factor(token: dict, enabled: bool) -> None:
    core.update_world(
        "pinterest",
        token["sandbox_world_id"],
        lambda world: world.update(two_factor_enabled=enabled),
    )


def test_it_explains_two_factor_authentication_when_partners_share_more(
    connector, agency_token, agency_identity
):
    """Sharing with a partner refuses with an HTTP error {code, message}: the
    partner-assets answers have no per-item exception."""
    client = persona_token("two_factor_off")
    assets = connector.list_assets(client, ["AD_ACCOUNT", "PROFILE"])
    set_two_factor(client, True)
    first = connector.grant(
        client, agency_token, agency_identity, assets["AD_ACCOUNT"][0], CAMPAIGNS
    )
    set_two_factor(client, False)

    second = connector.grant(
        client, agency_token, agency_identity, assets["PROFILE"][0], ["ANALYST"]
    )

    assert first.status == "granted"
    assert second.external["method"] == "partner_assets"
    assert (second.status, second.external["error_code"]) == ("failed", "two_factor_off")
    assert "403" in second.external["detail"]


def test_it_says_when_pinterest_does_not_share_an_asset(connector, agency_token, agency_identity):
    client = persona_token("business")
    first, second = connector.list_assets(client, ["AD_ACCOUNT"])["AD_ACCOUNT"]
    connector.grant(client, agency_token, agency_identity, first, CAMPAIGNS)
    foreign = connector.list_assets(persona_token("business"), ["AD_ACCOUNT"])["AD_ACCOUNT"][0]

    result = connector.grant(client, agency_token, agency_identity, foreign, CAMPAIGNS)

    assert (result.status, result.external["error_code"]) == ("failed", "share_refused")
    assert "Pinterest did not share this asset" in result.error
    assert "does not belong to business" in result.external["detail"]
    assert connector.grant(client, agency_token, agency_identity, second, CAMPAIGNS).status == (
        "granted"
    )


def test_it_fails_mid_grant_retryably_and_a_retry_reuses_the_invitation(
    connector, agency_token, agency_identity
):
    client = persona_token("fails_mid_grant")
    asset = first_ad_account(connector, client)

    first = connector.grant(client, agency_token, agency_identity, asset, CAMPAIGNS)

    assert first.status == "failed" and first.retryable
    assert first.external["error_code"] == "platform_unavailable"
    assert "Try again" in first.fix
    assert (
        connector.verify(
            agency_token, agency_identity, "AD_ACCOUNT", asset.id, CAMPAIGNS, first.external
        ).status
        == "missing"
    )

    second = connector.grant(client, agency_token, agency_identity, asset, CAMPAIGNS)

    assert second.status == "granted"
    assert second.external["invite_id"] == first.external["invite_id"]
    check = connector.verify(
        agency_token, agency_identity, "AD_ACCOUNT", asset.id, CAMPAIGNS, second.external
    )
    assert check.status == "verified"


def test_it_refuses_to_grant_what_has_no_api_or_does_not_exist(
    connector, agency_token, agency_identity
):
    client = persona_token("business")
    asset = first_ad_account(connector, client)
    tag = Asset(asset.id, "Tag", "TAG")

    wrong = connector.grant(client, agency_token, agency_identity, asset, ["PROFILE_PUBLISHER"])
    manual = connector.grant(client, agency_token, agency_identity, tag, ["VERIFY_TAG"])
    unconnected = connector.grant(client, None, {}, asset, CAMPAIGNS)

    assert (wrong.status, wrong.external["error_code"]) == ("failed", "invalid_permission")
    assert (manual.status, manual.external["error_code"]) == ("failed", "manual_only")
    assert unconnected.external["error_code"] == "agency_not_connected"


def test_it_refuses_to_grant_from_a_personal_account(connector, agency_token, agency_identity):
    client = persona_token("personal")
    profile = connector.list_assets(client, ["PROFILE"])["PROFILE"][0]

    result = connector.grant(client, agency_token, agency_identity, profile, ["ANALYST"])

    assert result.status == "failed" and result.external["error_code"] == "no_business"
