"""The real Pinterest connector, over real HTTP, against the emulated Pinterest.

Every test here goes through `portal.platforms.http` and the sandbox served by
the live server at LATCHKEY_BASE_URL, and every call is held to Pinterest's
published description (tests/conformance). Refusals are in
test_pinterest_refusals.py, the Pinterest Tag in test_pinterest_tag.py, HTTP
failures in test_pinterest_http.py.
"""

from __future__ import annotations

import secrets
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from helpers_pinterest import CAMPAIGNS, first_ad_account, persona_token
from helpers_sandbox import press_allow

from portal import platforms
from portal.platforms.base import PlatformError
from portal.sandbox import core
from tests.conformance.checker import check, explain
from tests.conformance.recorder import Call, parse_sandbox_url
from tests.conformance.specs import all_specs

CLIENT_ID = "sandbox-pinterest"
CLIENT_SECRET = "sandbox-secret-pinterest"


@pytest.fixture
def connector(live_server):
    return platforms.get("pinterest")


@pytest.fixture
def agency_token(live_server):
    return core.sandbox_token("pinterest", "business", name="Northwind Agency")


@pytest.fixture
def agency_identity(connector, agency_token):
    return connector.agency_identity(agency_token)


def callback(app) -> str:
    return app.config["LATCHKEY_BASE_URL"] + "/oauth/pinterest/callback"


def sign_in(app, connector, persona: str = "business") -> dict:
    """The whole OAuth flow over HTTP: authorize, consent, code, token. Pinterest's
    description defines no PKCE: none is asked for, and the connector trades the code."""
    endpoints = connector.oauth_endpoints()
    state = secrets.token_urlsafe(16)
    query = requests.Request(
        "GET",
        endpoints.authorize_url,
        params={
            "response_type": "code",
            "client_id": CLIENT_ID,
            "redirect_uri": callback(app),
            "scope": endpoints.scope_separator.join(endpoints.scopes),
            "state": state,
        },
    ).prepare()
    location = press_allow(requests.Session(), query.url, persona)
    assert location.startswith(callback(app))
    params = parse_qs(urlsplit(location).query)
    assert params["state"] == [state]
    return connector.exchange_code(params["code"][0], "", callback(app))


# ------------------------------------------------------------------ sign-in


def test_it_signs_in_over_http_and_reads_the_business(app, connector):
    token = sign_in(app, connector, "business")

    identity = connector.agency_identity(token)

    assert token["access_token"].startswith("pina_") and token["expires_at"] > time.time()
    assert identity["business_id"].isdigit()
    assert identity["name"] == "Juniper Home Goods"
    assert identity["username"].startswith("juniperhomegoods_")
    assert connector.preflight(token) == []


def test_it_asks_for_no_pkce_which_pinterest_does_not_define(app, connector):
    """The app builds the sign-in URL with Authlib, as `portal.oauth` does."""
    endpoints = connector.oauth_endpoints()
    session = OAuth2Session(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        scope=endpoints.scope_separator.join(endpoints.scopes),
        redirect_uri=callback(app),
        code_challenge_method="S256" if endpoints.pkce else None,
    )
    url, _state = session.create_authorization_url(
        endpoints.authorize_url, code_verifier=generate_token(64)
    )

    location = press_allow(requests.Session(), url, "personal")
    code = parse_qs(urlsplit(location).query)["code"][0]
    token = connector.exchange_code(code, "", callback(app))

    assert not endpoints.pkce and "code_challenge" not in url
    # The page's address, held to the description's OAuth 2.0 security scheme.
    platform, real_url = parse_sandbox_url(url)
    page = Call(platform, "GET", real_url, parse_qs(urlsplit(url).query), None, None, 200)
    match = check(all_specs(), page)
    assert match is not None and match.ok, explain(page, match)
    assert token["access_token"].startswith("pina_")
    assert [p.code for p in connector.preflight(token)] == ["personal_account"]


def test_it_explains_a_code_pinterest_no_longer_accepts(app, connector):
    with pytest.raises(PlatformError) as refused:
        connector.exchange_code("not-a-code", "", callback(app))

    assert refused.value.code == "invalid_grant"
    assert "sign in to Pinterest once more" in refused.value.fix


def test_it_refreshes_its_token_with_continuous_refresh(connector):
    token = persona_token("business")

    renewed = connector.refresh_token(token)

    assert renewed["access_token"] != token["access_token"]
    assert renewed["refresh_token"] != token["refresh_token"]
    assert renewed["expires_at"] > time.time() + 86400
    assert renewed["refresh_token_expires_at"] > time.time() + 86400
    assert connector.preflight(renewed) == []
    with pytest.raises(PlatformError) as used:
        connector.refresh_token(token)  # the old refresh token was renewed away
    assert used.value.code == "token_expired"


# --------------------------------------------------------------- preflight


@pytest.mark.parametrize(
    ("persona", "codes"),
    [
        ("business", []),
        ("personal", ["personal_account"]),
        ("not_admin", ["not_admin"]),
        # Pinterest's account says nothing of two-factor authentication: the
        # refusal to accept the invitation says it (see below).
        ("two_factor_off", []),
        ("fails_mid_grant", []),
    ],
)
def test_it_finds_each_personas_problems_before_granting(connector, persona, codes):
    problems = connector.preflight(persona_token(persona))

    assert [p.code for p in problems] == codes
    for problem in problems:
        assert problem.blocking and problem.fix and problem.help_url


def test_it_tells_a_personal_account_how_to_convert_for_free(connector):
    (problem,) = connector.preflight(persona_token("personal"))

    assert "free" in problem.fix
    assert "https://www.pinterest.com/business/convert/" in problem.fix


def test_it_tells_a_member_without_admin_rights_who_can_help(connector):
    (problem,) = connector.preflight(persona_token("not_admin"))

    # The employer's Pinterest username: the description gives businesses no other name.
    assert problem.title.startswith("You are not an admin of @harborcoffeeroasters_")
    assert "admin" in problem.fix and "Business Access" in problem.fix


def test_it_reads_businesses_and_roles_from_the_employers_list(connector):
    """`GET /user_account/businesses` lists linked accounts without id or role:
    the businesses and the admin check come from `GET /businesses/employers`."""
    admin, member = persona_token("business"), persona_token("not_admin")
    business = core.world_data("pinterest", admin["sandbox_world_id"])["business"]

    identity = connector.agency_identity(admin)
    (not_admin,) = connector.preflight(member)

    assert identity["business_id"] == business["id"]
    assert connector._employers(admin)[0]["business_roles"] == ["BIZ_ADMIN"]
    assert connector._employers(member)[0]["business_roles"] == ["EMPLOYEE"]
    assert not_admin.code == "not_admin"


def test_it_refuses_an_agency_without_a_business(connector):
    with pytest.raises(PlatformError) as refused:
        connector.agency_identity(persona_token("personal"))

    assert refused.value.code == "no_business"
    assert "personal account" in refused.value.message


# ------------------------------------------------------------------- assets


def test_it_lists_every_asset_type_of_a_business(connector):
    token = persona_token("business")

    assets = connector.list_assets(
        token, ["AD_ACCOUNT", "PROFILE", "CATALOG", "ASSET_GROUP", "TAG"]
    )

    ads = assets["AD_ACCOUNT"]
    assert [a.name for a in ads] == [
        "Juniper Home Goods - United States",
        "Juniper Home Goods - Europe",
    ]
    assert ads[0].details["currency"] == "USD"
    (profile,) = assets["PROFILE"]
    assert profile.type == "PROFILE" and profile.details["boards"] == 3
    (catalog,) = assets["CATALOG"]
    assert catalog.name == "Juniper Home Goods product feed"
    (group,) = assets["ASSET_GROUP"]
    assert group.name == "All brand assets"
    tags = assets["TAG"]
    assert [t.id for t in tags] == [a.id for a in ads]
    assert [t.details["installed"] for t in tags] == [True, False]


def test_it_follows_bookmarks_through_every_page(connector, monkeypatch):
    monkeypatch.setattr(connector, "page_size", 2)
    token = persona_token("business", ad_accounts=5)

    ads = connector.list_assets(token, ["AD_ACCOUNT"])["AD_ACCOUNT"]

    assert len({a.id for a in ads}) == 5


def test_it_lists_nothing_to_share_for_a_personal_account(connector):
    assets = connector.list_assets(persona_token("personal"), ["AD_ACCOUNT", "CATALOG"])

    assert assets == {"AD_ACCOUNT": [], "CATALOG": []}


# -------------------------------------------------------- grant and verify


def test_it_grants_through_the_partner_request_and_the_agency_then_sees_it(
    connector, agency_token, agency_identity
):
    client = persona_token("business")
    asset = first_ad_account(connector, client)

    result = connector.grant(client, agency_token, agency_identity, asset, CAMPAIGNS)

    assert result.status == "granted", result
    assert result.external["method"] == "invite" and result.external["invite_id"]
    assert result.external["agency_business_id"] == agency_identity["business_id"]
    check = connector.verify(
        agency_token, agency_identity, "AD_ACCOUNT", asset.id, CAMPAIGNS, result.external
    )
    assert check.status == "verified"
    assert check.permissions == ("ANALYST", "CAMPAIGN_MANAGER")


def test_it_shares_more_assets_once_the_businesses_are_partners(
    connector, agency_token, agency_identity
):
    client = persona_token("business")
    assets = connector.list_assets(client, ["AD_ACCOUNT", "PROFILE"])
    first = connector.grant(
        client, agency_token, agency_identity, assets["AD_ACCOUNT"][0], CAMPAIGNS
    )

    second = connector.grant(
        client, agency_token, agency_identity, assets["PROFILE"][0], ["PROFILE_PUBLISHER"]
    )

    assert first.external["method"] == "invite"
    assert second.status == "granted" and second.external["method"] == "partner_assets"
    check = connector.verify(
        agency_token,
        agency_identity,
        "PROFILE",
        assets["PROFILE"][0].id,
        ["PROFILE_PUBLISHER"],
        second.external,
    )
    assert check.status == "verified"


@pytest.mark.parametrize(
    ("asset_type", "permissions"),
    [
        ("AD_ACCOUNT", ["ANALYST", "FINANCE_VIEW"]),
        ("PROFILE", ["PROFILE_PUBLISHER", "ANALYST"]),
        ("CATALOG", ["CATALOGS_MANAGER"]),
        ("ASSET_GROUP", ["CAMPAIGN_MANAGER"]),
    ],
)
def test_it_grants_and_verifies_every_asset_type(
    connector, agency_token, agency_identity, asset_type, permissions
):
    client = persona_token("business")
    (asset, *_rest) = connector.list_assets(client, [asset_type])[asset_type]

    result = connector.grant(client, agency_token, agency_identity, asset, permissions)
    check = connector.verify(
        agency_token, agency_identity, asset_type, asset.id, permissions, result.external
    )

    assert result.status == "granted"
    assert check.status == "verified" and set(check.permissions) == set(permissions)


def test_it_reports_insufficient_access_with_what_is_missing(
    connector, agency_token, agency_identity
):
    client = persona_token("business")
    asset = first_ad_account(connector, client)
    result = connector.grant(client, agency_token, agency_identity, asset, ["ANALYST"])

    check = connector.verify(
        agency_token, agency_identity, "AD_ACCOUNT", asset.id, CAMPAIGNS, result.external
    )

    assert check.status == "insufficient"
    assert check.permissions == ("ANALYST",)
    assert "Campaign manager" in check.message


def test_it_revokes_and_the_agency_then_no_longer_sees_the_asset(
    connector, agency_token, agency_identity
):
    client = persona_token("business")
    asset = first_ad_account(connector, client)
    result = connector.grant(client, agency_token, agency_identity, asset, CAMPAIGNS)

    assert connector.revoke(agency_token, agency_identity, "AD_ACCOUNT", asset.id, result.external)

    check = connector.verify(
        agency_token, agency_identity, "AD_ACCOUNT", asset.id, CAMPAIGNS, result.external
    )
    assert check.status == "missing"
    # Removing what is already gone is not an error (jobs may run twice).
    assert connector.revoke(agency_token, agency_identity, "AD_ACCOUNT", asset.id, result.external)


def test_it_reports_missing_before_anything_was_granted(connector, agency_token, agency_identity):
    client = persona_token("business")
    asset = first_ad_account(connector, client)
    business = core.world_data("pinterest", client["sandbox_world_id"])["business"]
    external = {"client_business_id": business["id"]}

    check = connector.verify(
        agency_token, agency_identity, "AD_ACCOUNT", asset.id, CAMPAIGNS, external
    )

    assert check.status == "missing"
