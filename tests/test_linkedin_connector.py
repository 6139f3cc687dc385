"""The real LinkedIn connector, over real HTTP, against the emulated LinkedIn.

Every test goes through `portal.platforms.http` and the sandbox served by the
live server at LATCHKEY_BASE_URL, with LinkedIn's versioned headers, Rest.li
compound keys and error bodies.
"""

from __future__ import annotations

import time

import pytest
import requests
from test_api_support import api_key, bearer

from portal import platforms
from portal.platforms.base import Asset, PlatformError
from portal.sandbox import core

CLIENT_ID = "sandbox-linkedin"
CLIENT_SECRET = "sandbox-secret-linkedin"
RUN_ADS = ["CAMPAIGN_MANAGER", "VIEWER"]
POST_AS_PAGE = ["CONTENT_ADMINISTRATOR", "ANALYST"]


@pytest.fixture
def connector(live_server):
    return platforms.get("linkedin")


@pytest.fixture
def agency_token(live_server):
    return core.sandbox_token(
        "linkedin", "business", name="Northwind Agency", member_name="Sam Rivera"
    )


@pytest.fixture
def agency_identity(connector, agency_token):
    return connector.agency_identity(agency_token)


def persona_token(persona: str, **options):
    return core.sandbox_token("linkedin", persona, **options)


def callback(app) -> str:
    return app.config["LATCHKEY_BASE_URL"] + "/oauth/linkedin/callback"


def world(token) -> dict:
    return core.world_data("linkedin", token["sandbox_world_id"])


# ------------------------------------------------------------------ sign-in


def test_it_sends_the_versioned_headers_linkedin_requires(connector, agency_token):
    base = connector.api_base()
    plain = requests.get(
        base + "/adAccountUsers?q=authenticatedUser",
        headers={"Authorization": f"Bearer {agency_token['access_token']}"},
        timeout=10,
    )
    sunset = requests.get(
        base + "/adAccountUsers?q=authenticatedUser",
        headers={
            "Authorization": f"Bearer {agency_token['access_token']}",
            "LinkedIn-Version": "202201",
        },
        timeout=10,
    )

    assert plain.status_code == 400 and plain.json()["code"] == "VERSION_MISSING"
    assert sunset.status_code == 426
    assert connector.preflight(agency_token) == []  # it sends them


# --------------------------------------------------------------- preflight


@pytest.mark.parametrize(
    ("persona", "codes"),
    [
        ("business", []),
        ("personal", ["nothing_to_share"]),
        ("not_admin", ["not_admin"]),
        ("two_factor_off", []),  # LinkedIn does not ask for it to add people
        ("fails_mid_grant", []),
    ],
)
def test_it_finds_each_personas_problems_before_granting(connector, persona, codes):
    problems = connector.preflight(persona_token(persona))

    assert [p.code for p in problems] == codes
    for problem in problems:
        assert problem.blocking and problem.fix and problem.help_url


def test_it_tells_a_viewer_which_roles_can_give_access(connector):
    (problem,) = connector.preflight(persona_token("not_admin"))

    assert "account manager" in problem.fix and "super admin" in problem.fix
    assert "Manage access" in problem.fix


# ------------------------------------------------------------------- assets


def test_it_lists_the_ad_accounts_and_pages_the_member_can_share(connector):
    assets = connector.list_assets(persona_token("business"), ["AD_ACCOUNT", "ORGANIZATION"])

    assert [a.name for a in assets["AD_ACCOUNT"]] == [
        "Juniper Home Goods - United States",
        "Juniper Home Goods - Europe",
    ]
    assert assets["AD_ACCOUNT"][0].details["your_role"] == "ACCOUNT_BILLING_ADMIN"
    assert assets["AD_ACCOUNT"][1].details["currency"] == "EUR"
    (page,) = assets["ORGANIZATION"]
    assert page.name == "Juniper Home Goods" and page.details["vanity_name"]


def test_it_does_not_offer_what_the_member_cannot_share(connector):
    assets = connector.list_assets(persona_token("not_admin"), ["AD_ACCOUNT", "ORGANIZATION"])

    assert assets == {"AD_ACCOUNT": [], "ORGANIZATION": []}


def test_it_follows_paging_through_every_element(connector, monkeypatch):
    monkeypatch.setattr(connector, "page_size", 2)

    ads = connector.list_assets(persona_token("business", ad_accounts=5), ["AD_ACCOUNT"])

    assert len({a.id for a in ads["AD_ACCOUNT"]}) == 5


# -------------------------------------------------------- grant and verify


def first(connector, token, asset_type: str = "AD_ACCOUNT") -> Asset:
    return connector.list_assets(token, [asset_type])[asset_type][0]


def test_it_gives_the_agencys_person_a_role_on_an_ad_account_which_they_then_see(
    connector, agency_token, agency_identity
):
    client = persona_token("business")
    asset = first(connector, client)
    before = connector.verify(agency_token, agency_identity, "AD_ACCOUNT", asset.id, RUN_ADS, {})

    result = connector.grant(client, agency_token, agency_identity, asset, RUN_ADS)

    assert before.status == "missing"
    assert result.status == "granted", result
    assert result.external["role"] == "CAMPAIGN_MANAGER"  # one role: the strongest asked
    assert result.external["account_urn"] == "urn:li:sponsoredAccount:" + asset.id
    assert result.external["agency_person_urn"] == agency_identity["person_urn"]
    check = connector.verify(
        agency_token, agency_identity, "AD_ACCOUNT", asset.id, RUN_ADS, result.external
    )
    assert check.status == "verified" and check.permissions == ("CAMPAIGN_MANAGER",)


def test_it_never_lowers_a_role_the_agency_already_has(connector, agency_token, agency_identity):
    client = persona_token("business")
    asset = first(connector, client)
    connector.grant(client, agency_token, agency_identity, asset, ["ACCOUNT_MANAGER"])

    again = connector.grant(client, agency_token, agency_identity, asset, ["VIEWER"])

    assert again.status == "granted" and again.external["method"] == "already_had"
    check = connector.verify(agency_token, agency_identity, "AD_ACCOUNT", asset.id, ["VIEWER"], {})
    assert check.permissions == ("ACCOUNT_MANAGER",)


def test_it_reports_insufficient_access_with_both_roles(connector, agency_token, agency_identity):
    client = persona_token("business")
    asset = first(connector, client)
    connector.grant(client, agency_token, agency_identity, asset, ["VIEWER"])

    check = connector.verify(agency_token, agency_identity, "AD_ACCOUNT", asset.id, RUN_ADS, {})

    assert check.status == "insufficient"
    assert "Viewer" in check.message and "Campaign manager" in check.message


def test_it_gives_page_roles_and_verifies_each_one(connector, agency_token, agency_identity):
    client = persona_token("business")
    page = first(connector, client, "ORGANIZATION")

    result = connector.grant(client, agency_token, agency_identity, page, POST_AS_PAGE)
    check = connector.verify(
        agency_token, agency_identity, "ORGANIZATION", page.id, POST_AS_PAGE, result.external
    )
    more = connector.verify(
        agency_token,
        agency_identity,
        "ORGANIZATION",
        page.id,
        [*POST_AS_PAGE, "LEAD_GEN_FORMS_MANAGER"],
        result.external,
    )

    assert result.status == "granted"
    assert result.external["organization_urn"] == "urn:li:organization:" + page.id
    assert check.status == "verified"
    assert check.permissions == ("ANALYST", "CONTENT_ADMINISTRATOR")
    assert more.status == "insufficient" and "Lead gen forms manager" in more.message


def test_it_revokes_ad_account_and_page_roles(connector, agency_token, agency_identity):
    client = persona_token("business")
    account = first(connector, client)
    page = first(connector, client, "ORGANIZATION")
    connector.grant(client, agency_token, agency_identity, account, RUN_ADS)
    connector.grant(client, agency_token, agency_identity, page, POST_AS_PAGE)

    assert connector.revoke(agency_token, agency_identity, "AD_ACCOUNT", account.id, {})
    assert connector.revoke(agency_token, agency_identity, "ORGANIZATION", page.id, {})

    for asset_type, asset, asked in (
        ("AD_ACCOUNT", account, RUN_ADS),
        ("ORGANIZATION", page, POST_AS_PAGE),
    ):
        check = connector.verify(agency_token, agency_identity, asset_type, asset.id, asked, {})
        assert check.status == "missing"
    # The client's own roles are untouched.
    assert connector.preflight(client) == []
    # Removing what is already gone is not an error (jobs may run twice).
    assert connector.revoke(agency_token, agency_identity, "AD_ACCOUNT", account.id, {})
    assert connector.revoke(agency_token, agency_identity, "ORGANIZATION", page.id, {})


def test_a_page_role_is_revoked_with_the_whole_entity_as_organizationacls_documents(
    client, connector, agency_token, agency_identity
):
    customer = persona_token("business")
    page = first(connector, customer, "ORGANIZATION")
    connector.grant(customer, agency_token, agency_identity, page, ["ANALYST"])
    key = connector._key(
        organization="urn:li:organization:" + page.id,
        role="ANALYST",
        roleAssignee=agency_identity["person_urn"],
    )
    headers = {
        "Authorization": f"Bearer {agency_token['access_token']}",
        "LinkedIn-Version": connector.api_version,
        "X-Restli-Protocol-Version": "2.0.0",
    }

    # PUT is the only write method: a partial body is refused (the old revoke sent one).
    partial = client.put(
        f"/sandbox/linkedin/api.linkedin.com/rest/organizationAcls/{key}",
        json={"state": "REVOKED"},
        headers=headers,
    )
    assert partial.status_code == 400 and "whole entity" in partial.get_json()["message"]

    assert connector.revoke(agency_token, agency_identity, "ORGANIZATION", page.id, {})
    check = connector.verify(
        agency_token, agency_identity, "ORGANIZATION", page.id, ["ANALYST"], {}
    )
    assert check.status == "missing"


def test_giving_billing_admin_moves_billing_to_the_agency(connector, agency_token, agency_identity):
    client = persona_token("business")
    account = first(connector, client)  # the client is its billing admin

    connector.grant(client, agency_token, agency_identity, account, ["ACCOUNT_BILLING_ADMIN"])

    check = connector.verify(
        agency_token, agency_identity, "AD_ACCOUNT", account.id, ["ACCOUNT_MANAGER"], {}
    )
    assert check.permissions == ("ACCOUNT_BILLING_ADMIN",)
    mine = connector.list_assets(client, ["AD_ACCOUNT"])["AD_ACCOUNT"][0]
    assert mine.details["your_role"] == "ACCOUNT_MANAGER"
    explanation = str(
        connector.asset_type("AD_ACCOUNT").permission("ACCOUNT_BILLING_ADMIN").explanation
    )
    assert "only one billing admin" in explanation


def test_it_explains_that_only_an_account_manager_can_add_people(
    connector, agency_token, agency_identity
):
    client = persona_token("not_admin")
    account_id = next(iter(world(client)["account_roles"]))
    asset = Asset(account_id, "Harbor Coffee Roasters - United States", "AD_ACCOUNT")

    result = connector.grant(client, agency_token, agency_identity, asset, RUN_ADS)

    assert result.status == "failed" and not result.retryable
    assert result.external["error_code"] == "not_admin"
    assert "Manage access" in result.fix and "Harbor Coffee Roasters" in result.fix
    assert "403" in result.external["detail"]


def test_it_explains_that_only_a_super_admin_can_add_page_admins(
    connector, agency_token, agency_identity
):
    client = persona_token("not_admin")
    org = world(client)["organization"]
    page = Asset(str(org["id"]), org["localizedName"], "ORGANIZATION")

    result = connector.grant(client, agency_token, agency_identity, page, ["ANALYST"])

    assert result.external["error_code"] == "not_admin"
    assert "super admin" in result.error and "Manage admins" in result.fix


def test_it_fails_mid_grant_retryably_and_a_retry_works(connector, agency_token, agency_identity):
    client = persona_token("fails_mid_grant")
    asset = first(connector, client)

    failed = connector.grant(client, agency_token, agency_identity, asset, RUN_ADS)

    assert failed.status == "failed" and failed.retryable
    assert failed.external["error_code"] == "platform_unavailable"
    assert (
        connector.verify(agency_token, agency_identity, "AD_ACCOUNT", asset.id, RUN_ADS, {}).status
        == "missing"
    )
    retried = connector.grant(client, agency_token, agency_identity, asset, RUN_ADS)
    assert retried.status == "granted"
    assert (
        connector.verify(agency_token, agency_identity, "AD_ACCOUNT", asset.id, RUN_ADS, {}).status
        == "verified"
    )


def test_it_refuses_what_does_not_exist_or_cannot_work(connector, agency_token, agency_identity):
    client = persona_token("business")
    asset = first(connector, client)

    wrong = connector.grant(client, agency_token, agency_identity, asset, ["ADMINISTRATOR"])
    unconnected = connector.grant(client, None, {}, asset, RUN_ADS)
    nobody = connector.grant(
        client, agency_token, {"person_urn": "urn:li:person:gone000000"}, asset, RUN_ADS
    )

    assert (wrong.status, wrong.external["error_code"]) == ("failed", "invalid_permission")
    assert unconnected.external["error_code"] == "agency_not_connected"
    assert nobody.external["error_code"] == "agency_person_missing"
    assert "connect LinkedIn again" in nobody.fix


# ------------------------------------------------------------ errors


def test_it_asks_to_sign_in_again_when_the_token_expired(connector):
    token = persona_token("business")
    core.expire_token(token["access_token"])

    with pytest.raises(PlatformError) as expired:
        connector.preflight(token)

    assert expired.value.status == 401 and expired.value.code == "token_expired"
    assert "Sign in to LinkedIn again" in expired.value.fix
    assert "EXPIRED_ACCESS_TOKEN" in expired.value.detail


def test_it_explains_a_missing_permission(connector):
    token = persona_token("business", scopes=["r_basicprofile"])

    with pytest.raises(PlatformError) as refused:
        connector.list_assets(token, ["AD_ACCOUNT"])

    assert refused.value.status == 403 and refused.value.code == "forbidden"
    assert "permission" in refused.value.message
    assert "rw_ads" in refused.value.detail


def test_it_passes_on_linkedins_rate_limit_with_the_wait(connector):
    token = persona_token("rate_limited")
    for _ in range(3):  # 3 calls to adAccountUsers and to organizationAcls: spent
        connector.preflight(token)
    assert connector.agency_identity(token)["name"]  # other resources keep their budget

    with pytest.raises(PlatformError) as limited:
        connector.preflight(token)

    assert limited.value.status == 429 and limited.value.code == "rate_limited"
    assert limited.value.retryable and limited.value.retry_after == 2
    assert "Wait 2 seconds" in limited.value.fix
    core.update_world(
        "linkedin",
        token["sandbox_world_id"],
        lambda data: [
            limit.update(blocked_until=time.time() - 1) for limit in data["rate_limits"].values()
        ],
    )
    assert connector.preflight(token) == []


def test_it_answers_what_does_not_exist_with_linkedins_404(connector, agency_token):
    with pytest.raises(PlatformError) as missing:
        connector._call("GET", "/adAccounts/999999999", agency_token)

    assert missing.value.status == 404 and missing.value.code == "not_found"


# -------------------------------------------------------- the catalogue


def test_it_appears_in_the_api_and_the_template_editor(client, agency, owner, auth):
    listed = client.get("/api/v1/platforms", headers=bearer(api_key(agency)))
    linkedin = next(p for p in listed.get_json()["data"] if p["id"] == "linkedin")
    types = {t["id"]: [p["id"] for p in t["permissions"]] for t in linkedin["asset_types"]}
    assert types["AD_ACCOUNT"] == [
        "ACCOUNT_MANAGER",
        "CAMPAIGN_MANAGER",
        "CREATIVE_MANAGER",
        "VIEWER",
        "ACCOUNT_BILLING_ADMIN",
    ]
    assert "DIRECT_SPONSORED_CONTENT_POSTER" in types["ORGANIZATION"]

    auth.login(owner)
    page = client.get("/app/templates/new").get_data(as_text=True)
    assert 'value="linkedin|ORGANIZATION|ADMINISTRATOR"' in page
    assert "Super admin" in page
