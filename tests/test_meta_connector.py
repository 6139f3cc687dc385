"""The real Meta connector, over real HTTP, against the emulated Graph API.

Every test here goes through `portal.platforms.http` and the sandbox served by
the live server at LATCHKEY_BASE_URL. How the connector reads Meta's own error
codes (Meta answers most errors with HTTP 400) is also checked against a tiny
stub server answering as Graph API does.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from flask import g
from helpers_sandbox import press_allow
from test_api_support import api_key, bearer

from portal import platforms
from portal.extensions import db
from portal.models import Grant
from portal.notifications.removal import removal_steps
from portal.platforms.base import Asset, PlatformError
from portal.sandbox import core

CLIENT_ID = "sandbox-meta"
CLIENT_SECRET = "sandbox-secret-meta"
ALL_TYPES = ["AD_ACCOUNT", "PAGE", "PIXEL", "CATALOG", "INSTAGRAM_ACCOUNT"]
CAMPAIGNS = ["ADVERTISE"]


@pytest.fixture
def connector(live_server):
    return platforms.get("meta")


@pytest.fixture
def agency_token(live_server):
    return core.sandbox_token("meta", "business", name="Northwind Agency")


@pytest.fixture
def agency_identity(connector, agency_token):
    return connector.agency_identity(agency_token)


def persona_token(persona: str, **options):
    return core.sandbox_token("meta", persona, **options)


def callback(app) -> str:
    return app.config["LATCHKEY_BASE_URL"] + "/oauth/meta/callback"


def graph(connector) -> str:
    return connector.api_base()


def proof(token: str) -> str:
    return hmac.new(CLIENT_SECRET.encode(), token.encode(), hashlib.sha256).hexdigest()


def dialog_code(app, connector, persona: str = "business") -> tuple[str, str]:
    """Through the login dialog with PKCE: (code, verifier)."""
    endpoints = connector.oauth_endpoints()
    verifier = secrets.token_urlsafe(64)
    state = secrets.token_urlsafe(16)
    query = requests.Request(
        "GET",
        endpoints.authorize_url,
        params={
            "client_id": CLIENT_ID,
            "redirect_uri": callback(app),
            "response_type": "code",
            "scope": ",".join(endpoints.scopes),
            "state": state,
            "code_challenge": core.s256(verifier),
            "code_challenge_method": "S256",
            **endpoints.extra_authorize_params,
        },
    ).prepare()
    location = press_allow(requests.Session(), query.url, persona)
    assert location.startswith(callback(app))
    params = parse_qs(urlsplit(location).query)
    assert params["state"] == [state]
    return params["code"][0], verifier


def exchange(app, connector, code: str, verifier: str) -> requests.Response:
    """Meta's documented token call: GET with the app's id and secret as parameters."""
    return requests.get(
        connector.oauth_endpoints().token_url,
        params={
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "redirect_uri": callback(app),
            "code": code,
            "code_verifier": verifier,
        },
        timeout=10,
    )


# ------------------------------------------------------------------ sign-in


def test_it_signs_in_through_the_login_dialog_and_gets_a_long_lived_token(app, connector):
    code, verifier = dialog_code(app, connector)

    answer = exchange(app, connector, code, verifier)

    assert answer.status_code == 200, answer.text
    token = answer.json()
    assert set(token) == {"access_token", "token_type", "expires_in"}  # no refresh token
    assert token["access_token"].startswith("EAA")
    assert token["expires_in"] > 50 * 86400
    identity = connector.agency_identity(token)
    assert identity["business_id"].isdigit()
    assert identity["name"] == "Juniper Home Goods"
    assert connector.preflight(token) == []


def test_it_refuses_a_used_code_in_metas_error_shape(app, connector):
    code, verifier = dialog_code(app, connector)
    assert exchange(app, connector, code, verifier).status_code == 200

    again = exchange(app, connector, code, verifier)

    assert again.status_code == 400
    error = again.json()["error"]
    assert error["type"] == "OAuthException" and error["code"] == 100
    assert "already used" in error["message"] and error["fbtrace_id"]


def test_it_refuses_a_wrong_pkce_verifier(app, connector):
    code, _verifier = dialog_code(app, connector)

    answer = exchange(app, connector, code, secrets.token_urlsafe(64))

    assert answer.status_code == 400
    assert "code_verifier" in answer.json()["error"]["message"]


def test_it_signs_in_with_authlib_and_metas_documented_token_call(app, connector):
    """Authlib builds the login dialog's address; the code goes back to Meta the
    documented way (GET /oauth/access_token with the app's id and secret)."""
    endpoints = connector.oauth_endpoints()
    session = OAuth2Session(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        token_endpoint_auth_method=endpoints.token_endpoint_auth_method,
        scope=endpoints.scope_separator.join(endpoints.scopes),
        redirect_uri=callback(app),
        code_challenge_method="S256",
    )
    verifier = generate_token(64)
    url, _state = session.create_authorization_url(
        endpoints.authorize_url, code_verifier=verifier, **endpoints.extra_authorize_params
    )
    query = parse_qs(urlsplit(url).query)
    assert query["scope"] == [
        "business_management,ads_management,pages_show_list,pages_manage_metadata,"
        "catalog_management"
    ]
    assert query["auth_type"] == ["rerequest"]  # declined permissions are asked again

    location = press_allow(requests.Session(), url, "personal")
    code = parse_qs(urlsplit(location).query)["code"][0]
    token = connector.exchange_code(code, verifier, callback(app))

    assert token["access_token"].startswith("EAA") and "refresh_token" not in token
    assert token["expires_at"] > time.time() + 50 * 86400
    assert [p.code for p in connector.preflight(token)] == ["personal_account"]
    with pytest.raises(PlatformError) as used:
        connector.exchange_code(code, verifier, callback(app))
    assert used.value.code == "invalid_grant"


def test_it_exchanges_a_working_token_for_a_new_one_and_not_an_expired_one(connector):
    token = persona_token("business")

    renewed = connector.refresh_token(token)

    assert renewed["access_token"] != token["access_token"]
    assert renewed["expires_at"] > time.time() + 50 * 86400
    assert connector.preflight(renewed) == []
    core.expire_token(renewed["access_token"])
    with pytest.raises(PlatformError) as expired:
        connector.refresh_token(renewed)
    assert expired.value.code == "invalid_grant"
    assert "Connect Meta again" in expired.value.fix


def test_it_signs_every_call_with_the_app_secret_proof(connector):
    token = persona_token("business")
    url = graph(connector) + "/me"
    headers = {"Authorization": f"Bearer {token['access_token']}"}

    good = requests.get(
        url, params={"appsecret_proof": proof(token["access_token"])}, headers=headers, timeout=10
    )
    bad = requests.get(url, params={"appsecret_proof": "0" * 64}, headers=headers, timeout=10)

    assert good.status_code == 200 and good.json()["id"].isdigit()
    assert bad.status_code == 400
    assert "appsecret_proof" in bad.json()["error"]["message"]


def test_it_answers_the_fields_asked_for_and_refuses_unknown_ones(app, connector):
    token = persona_token("business")
    url = graph(connector) + "/me/business_users"
    headers = {"Authorization": f"Bearer {token['access_token']}"}

    answer = requests.get(
        url, params={"fields": "role,business{id,name}"}, headers=headers, timeout=10
    )
    # A field no node declares is a call no description allows: it goes through
    # Flask's test client, which the conformance recorder does not see.
    unknown = app.test_client().get(
        urlsplit(url).path, query_string={"fields": "id,salary"}, headers=headers
    )

    (membership,) = answer.json()["data"]
    assert set(membership) == {"id", "role", "business"}
    assert set(membership["business"]) == {"id", "name"}
    assert unknown.status_code == 400
    assert "nonexisting field (salary)" in unknown.get_json()["error"]["message"]


# --------------------------------------------------------------- preflight


@pytest.mark.parametrize(
    ("persona", "codes"),
    [
        ("business", []),
        ("personal", ["personal_account"]),
        ("not_admin", ["not_admin"]),
        ("two_factor_off", ["two_factor_off"]),
        ("fails_mid_grant", []),
    ],
)
def test_it_finds_each_personas_problems_before_granting(connector, persona, codes):
    problems = connector.preflight(persona_token(persona))

    assert [p.code for p in problems] == codes
    for problem in problems:
        assert problem.blocking and problem.fix and problem.help_url


def test_it_tells_a_personal_profile_how_to_create_a_business_portfolio(connector):
    (problem,) = connector.preflight(persona_token("personal", name="Ada Lovelace"))

    assert "no business portfolio" in problem.title
    assert "free business portfolio" in problem.fix
    assert "https://business.facebook.com/" in problem.fix
    # Its personal ad account is named, with how to move it into the portfolio.
    assert "Ada Lovelace's ad account" in problem.fix and "Add an ad account" in problem.fix


def test_it_tells_an_employee_who_can_share(connector):
    (problem,) = connector.preflight(persona_token("not_admin"))

    assert "Harbor Coffee Roasters" in problem.title
    assert "admin" in problem.fix and "Business settings → People" in problem.fix


def test_it_says_the_portfolio_requires_two_factor_authentication(connector):
    (problem,) = connector.preflight(persona_token("two_factor_off"))

    assert problem.title == "Fern & Field Studio requires two-factor authentication"
    assert "Accounts Center" in problem.fix and "Two-factor authentication" in problem.fix


def test_it_stops_when_business_management_was_declined(connector):
    token = persona_token("business", scopes=["ads_management", "pages_show_list"])

    (problem,) = connector.preflight(token)

    assert problem.code == "permission_declined" and problem.blocking
    assert "Connect Meta again" in problem.fix


def test_it_warns_when_some_permissions_were_declined(connector):
    token = persona_token(
        "business", scopes=["business_management", "ads_management", "pages_show_list"]
    )

    (problem,) = connector.preflight(token)

    assert problem.code == "permission_partly_declined" and not problem.blocking
    assert "catalog_management" in problem.fix


def test_it_refuses_an_agency_without_a_portfolio_or_admin_rights(connector):
    with pytest.raises(PlatformError) as personal:
        connector.agency_identity(persona_token("personal"))
    with pytest.raises(PlatformError) as employee:
        connector.agency_identity(persona_token("not_admin"))

    assert personal.value.code == "no_business"
    assert "no Meta business portfolio" in personal.value.message
    assert employee.value.code == "not_admin"
    assert "Harbor Coffee Roasters" in employee.value.message


def test_it_connects_the_portfolio_named_in_the_receiving_identities(app, connector):
    token = persona_token("business", name="Northwind Agency")
    business_id = core.world_data("meta", token["sandbox_world_id"])["business"]["id"]

    with app.test_request_context():
        g.agency = SimpleNamespace(identities={"meta": {"business_id": business_id}})
        assert connector.agency_identity(token)["business_id"] == business_id
        g.agency = SimpleNamespace(identities={"meta": {"business_id": "1234567890"}})
        with pytest.raises(PlatformError) as wrong:
            connector.agency_identity(token)

    assert wrong.value.code == "wrong_business"
    assert "1234567890" in wrong.value.message and "Receiving identities" in wrong.value.fix


# ------------------------------------------------------------------- assets


def test_it_lists_every_asset_type_of_a_portfolio(connector):
    token = persona_token("business")
    business = core.world_data("meta", token["sandbox_world_id"])["business"]

    assets = connector.list_assets(token, ALL_TYPES)

    ads = assets["AD_ACCOUNT"]
    assert [a.name for a in ads] == [
        "Juniper Home Goods - United States",
        "Juniper Home Goods - Europe",
    ]
    assert all(a.id.isdigit() for a in ads)  # the account id, without "act_"
    assert ads[1].details["currency"] == "EUR"
    assert {a.details["business_id"] for a in ads} == {business["id"]}
    (page,) = assets["PAGE"]
    assert page.name == "Juniper Home Goods" and page.details["category"]
    (pixel,) = assets["PIXEL"]
    assert pixel.name == "Juniper Home Goods website pixel" and pixel.details["last_fired_time"]
    (catalog,) = assets["CATALOG"]
    assert catalog.details["product_count"] == 128
    # An InstagramBusinessAsset has id, ig_user_id and ig_username (no `username`).
    (instagram,) = assets["INSTAGRAM_ACCOUNT"]
    assert instagram.name == "@juniperhomegoods"
    assert (
        instagram.details["ig_user_id"].isdigit()
        and instagram.details["ig_user_id"] != instagram.id
    )


def test_it_follows_cursors_through_every_page(connector, monkeypatch):
    monkeypatch.setattr(connector, "page_size", 2)
    token = persona_token("business", ad_accounts=5)

    ads = connector.list_assets(token, ["AD_ACCOUNT"])["AD_ACCOUNT"]

    assert len({a.id for a in ads}) == 5


def test_it_lists_nothing_to_share_for_a_personal_profile(connector):
    assets = connector.list_assets(persona_token("personal"), ["AD_ACCOUNT", "PAGE"])

    assert assets == {"AD_ACCOUNT": [], "PAGE": []}


# -------------------------------------------------------- grant and verify


def first(connector, token, asset_type: str = "AD_ACCOUNT") -> Asset:
    return connector.list_assets(token, [asset_type])[asset_type][0]


def test_it_shares_an_ad_account_and_only_then_the_agency_sees_it(
    connector, agency_token, agency_identity
):
    client = persona_token("business")
    asset = first(connector, client)
    before = connector.verify(agency_token, agency_identity, "AD_ACCOUNT", asset.id, CAMPAIGNS, {})

    result = connector.grant(client, agency_token, agency_identity, asset, CAMPAIGNS)

    assert before.status == "missing" and "does not see" in before.message
    assert result.status == "granted", result
    assert result.external["node_id"] == f"act_{asset.id}"
    assert result.external["agency_business_id"] == agency_identity["business_id"]
    assert result.external["client_business_id"] == asset.details["business_id"]
    after = connector.verify(
        agency_token, agency_identity, "AD_ACCOUNT", asset.id, CAMPAIGNS, result.external
    )
    assert after.status == "verified"
    assert after.permissions == ("ADVERTISE", "ANALYZE", "DRAFT")
    # The client's side shows the agency with the tasks, confirmed.
    shown = requests.get(
        f"{graph(connector)}/act_{asset.id}/agencies",
        params={"fields": "id,name,access_status,permitted_tasks"},
        headers={"Authorization": f"Bearer {client['access_token']}"},
        timeout=10,
    ).json()["data"]
    assert [(a["id"], a["name"], a["access_status"]) for a in shown] == [
        (agency_identity["business_id"], "Northwind Agency", "CONFIRMED")
    ]
    assert shown[0]["permitted_tasks"] == ["ADVERTISE", "ANALYZE", "DRAFT"]


@pytest.mark.parametrize(
    ("asset_type", "permissions"),
    [
        ("AD_ACCOUNT", ["ANALYZE"]),
        ("PAGE", ["CREATE_CONTENT", "MESSAGING"]),
        ("PIXEL", ["ANALYZE", "UPLOAD"]),
        ("CATALOG", ["MANAGE"]),
        ("INSTAGRAM_ACCOUNT", ["CONTENT", "ANALYZE"]),
    ],
)
def test_it_grants_and_verifies_every_asset_type(
    connector, agency_token, agency_identity, asset_type, permissions
):
    client = persona_token("business")
    asset = first(connector, client, asset_type)

    result = connector.grant(client, agency_token, agency_identity, asset, permissions)
    check = connector.verify(
        agency_token, agency_identity, asset_type, asset.id, permissions, result.external
    )

    assert result.status == "granted", result
    assert check.status == "verified"
    if asset_type in ("CATALOG", "INSTAGRAM_ACCOUNT"):
        # Meta lists client catalogs and Instagram accounts without their tasks.
        assert check.permissions == ()
    else:
        assert set(permissions) <= set(check.permissions)


@pytest.mark.parametrize("asset_type", ["PAGE", "PIXEL", "CATALOG", "INSTAGRAM_ACCOUNT"])
def test_it_revokes_every_asset_type(connector, agency_token, agency_identity, asset_type):
    """DELETE /{node}/agencies on each node type (ad accounts: the test above)."""
    client = persona_token("business")
    asset = first(connector, client, asset_type)
    permissions = [connector.asset_type(asset_type).permissions[0].id]
    result = connector.grant(client, agency_token, agency_identity, asset, permissions)
    assert result.status == "granted", result

    assert connector.revoke(agency_token, agency_identity, asset_type, asset.id, result.external)

    check = connector.verify(
        agency_token, agency_identity, asset_type, asset.id, permissions, result.external
    )
    assert check.status == "missing"


def test_it_shares_a_page_with_the_pages_own_token(connector, agency_identity):
    client = persona_token("business")
    page = first(connector, client, "PAGE")
    url = f"{graph(connector)}/{page.id}/agencies"
    body = {"business": agency_identity["business_id"], "permitted_tasks": '["ANALYZE"]'}

    with_user_token = requests.post(
        url, data=body, headers={"Authorization": f"Bearer {client['access_token']}"}, timeout=10
    )

    assert with_user_token.status_code == 400
    assert with_user_token.json()["error"]["code"] == 210
    assert connector.grant(client, None, agency_identity, page, ["ANALYZE"]).status == "granted"


def test_it_says_which_permission_was_missing_to_share_a_page(connector, agency_identity):
    client = persona_token(
        "business", scopes=["business_management", "ads_management", "pages_show_list"]
    )
    page = first(connector, client, "PAGE")

    result = connector.grant(client, None, agency_identity, page, ["ANALYZE"])

    assert result.status == "failed" and result.external["error_code"] == "forbidden"
    assert "accept every permission" in result.fix
    assert "pages_manage_metadata" in result.external["detail"]


def test_it_reports_insufficient_access_with_what_is_missing(
    connector, agency_token, agency_identity
):
    client = persona_token("business")
    asset = first(connector, client)
    result = connector.grant(client, agency_token, agency_identity, asset, ["ANALYZE"])

    check = connector.verify(
        agency_token, agency_identity, "AD_ACCOUNT", asset.id, ["MANAGE"], result.external
    )

    assert check.status == "insufficient"
    assert check.permissions == ("ANALYZE",)
    assert "Manage ad account" in check.message


def test_it_counts_a_broader_task_as_covering_a_narrower_one(
    connector, agency_token, agency_identity
):
    client = persona_token("business")
    page = first(connector, client, "PAGE")
    result = connector.grant(client, agency_token, agency_identity, page, ["MANAGE"])

    check = connector.verify(
        agency_token, agency_identity, "PAGE", page.id, ["ANALYZE", "MODERATE"], result.external
    )

    assert check.status == "verified"


@pytest.mark.parametrize("asset_type", ["AD_ACCOUNT", "PAGE"])
def test_it_waits_while_meta_shows_the_access_as_awaiting_approval(
    connector, agency_token, agency_identity, asset_type
):
    client = persona_token("business")
    asset = first(connector, client, asset_type)
    result = connector.grant(client, agency_token, agency_identity, asset, ["ANALYZE"])
    record = core.get_record(
        "meta", "agency_access", f"{result.external['node_id']}:{agency_identity['business_id']}"
    )
    core.set_data(record, {**record.data, "access_status": "PENDING"})
    db.session.commit()

    check = connector.verify(
        agency_token, agency_identity, asset_type, asset.id, ["ANALYZE"], result.external
    )

    assert check.status == "pending"
    assert "admin of the client's business portfolio must approve" in check.message


def test_it_revokes_and_the_agency_then_no_longer_sees_the_asset(
    connector, agency_token, agency_identity
):
    client = persona_token("business")
    asset = first(connector, client)
    result = connector.grant(client, agency_token, agency_identity, asset, CAMPAIGNS)

    assert connector.revoke(agency_token, agency_identity, "AD_ACCOUNT", asset.id, result.external)

    check = connector.verify(
        agency_token, agency_identity, "AD_ACCOUNT", asset.id, CAMPAIGNS, result.external
    )
    assert check.status == "missing"
    # Removing what is already gone is not an error (jobs may run twice).
    assert connector.revoke(agency_token, agency_identity, "AD_ACCOUNT", asset.id, result.external)


def test_it_refuses_to_revoke_with_a_token_that_is_not_the_agencys(connector, agency_identity):
    client = persona_token("business")
    asset = first(connector, client)
    connector.grant(client, None, agency_identity, asset, CAMPAIGNS)
    stranger = persona_token("business", name="Someone Else")

    with pytest.raises(PlatformError) as refused:
        connector.revoke(stranger, agency_identity, "AD_ACCOUNT", asset.id, {})

    assert refused.value.code == "revoke_refused"
    assert "Business settings → Partners" in refused.value.fix


def test_it_explains_that_only_an_admin_can_share(connector, agency_token, agency_identity):
    client = persona_token("not_admin")
    asset = first(connector, client)

    result = connector.grant(client, agency_token, agency_identity, asset, CAMPAIGNS)

    assert result.status == "failed" and not result.retryable
    assert result.external["error_code"] == "not_admin"
    assert "admin" in result.error and "Business settings → People" in result.fix
    # Meta's own words stay in the technical detail.
    assert "403" in result.external["detail"] and "Harbor Coffee" in result.external["detail"]


def test_it_explains_two_factor_authentication_blocks_sharing(
    connector, agency_token, agency_identity
):
    client = persona_token("two_factor_off")
    asset = first(connector, client)

    result = connector.grant(client, agency_token, agency_identity, asset, CAMPAIGNS)

    assert result.status == "failed"
    assert result.external["error_code"] == "two_factor_off"
    assert "two-factor authentication" in result.error
    assert "Accounts Center" in result.fix and "Retry" in result.fix


def test_it_fails_mid_grant_retryably_and_a_retry_works(connector, agency_token, agency_identity):
    client = persona_token("fails_mid_grant")
    asset = first(connector, client)

    failed = connector.grant(client, agency_token, agency_identity, asset, CAMPAIGNS)

    assert failed.status == "failed" and failed.retryable
    assert failed.external["error_code"] == "platform_unavailable"
    assert "Try again" in failed.fix and "500" in failed.external["detail"]
    assert (
        connector.verify(
            agency_token, agency_identity, "AD_ACCOUNT", asset.id, CAMPAIGNS, failed.external
        ).status
        == "missing"
    )

    again = connector.grant(client, agency_token, agency_identity, asset, CAMPAIGNS)

    assert again.status == "granted"
    check = connector.verify(
        agency_token, agency_identity, "AD_ACCOUNT", asset.id, CAMPAIGNS, again.external
    )
    assert check.status == "verified"


def test_it_refuses_what_does_not_exist_or_cannot_work(connector, agency_token, agency_identity):
    client = persona_token("business")
    asset = first(connector, client)
    own = persona_token("business")
    own_identity = connector.agency_identity(own)

    wrong = connector.grant(client, agency_token, agency_identity, asset, ["CREATE_CONTENT"])
    unconnected = connector.grant(client, None, {}, asset, CAMPAIGNS)
    same = connector.grant(own, own, own_identity, first(connector, own), CAMPAIGNS)
    unknown_partner = connector.grant(client, None, {"business_id": "1234567890"}, asset, CAMPAIGNS)

    assert (wrong.status, wrong.external["error_code"]) == ("failed", "invalid_permission")
    assert unconnected.external["error_code"] == "agency_not_connected"
    assert same.external["error_code"] == "same_business"
    assert unknown_partner.external["error_code"] == "agency_business_unknown"


def test_it_gives_billing_steps_when_the_agency_asks_to_manage_an_ad_account(connector):
    (billing,) = connector.manual_steps("AD_ACCOUNT", ["MANAGE"])

    assert "billing" in str(billing.title).lower()
    assert any("payment method" in str(step) for step in billing.steps)
    assert any("Advertise instead" in str(step) for step in billing.steps)
    assert connector.manual_steps("AD_ACCOUNT", ["ADVERTISE"]) == []
    assert connector.manual_steps("PAGE", ["MANAGE"]) == []


# ------------------------------------------------------------ HTTP failures


def test_it_asks_to_sign_in_again_when_the_token_expired(connector):
    token = persona_token("business")
    core.expire_token(token["access_token"])

    with pytest.raises(PlatformError) as expired:
        connector.preflight(token)

    assert expired.value.status == 401 and expired.value.code == "token_expired"
    assert "Sign in to Meta again" in expired.value.fix
    assert not expired.value.retryable
    assert "190" in expired.value.detail and "expired" in expired.value.detail


def test_it_explains_a_missing_permission(connector):
    token = persona_token("business", scopes=["business_management"])

    with pytest.raises(PlatformError) as refused:
        connector.list_assets(token, ["PAGE"])

    assert refused.value.status == 403 and refused.value.code == "forbidden"
    assert "permission" in refused.value.message
    assert "pages_show_list" in refused.value.detail


def test_it_waits_out_a_short_throttle_call_by_call(connector):
    token = persona_token("rate_limited")
    started = time.monotonic()

    problems = connector.preflight(token)  # 2 calls
    assets = connector.list_assets(token, ALL_TYPES)  # 6 calls: over the budget of 3

    assert problems == []
    assert {t: len(found) for t, found in assets.items()} == {
        "AD_ACCOUNT": 2,
        "PAGE": 1,
        "PIXEL": 1,
        "CATALOG": 1,
        "INSTAGRAM_ACCOUNT": 1,
    }
    assert time.monotonic() - started >= 2  # Meta's Retry-After was honoured


def test_it_passes_on_metas_throttling_with_the_wait(connector, monkeypatch):
    monkeypatch.setattr(connector, "rate_limit_patience", 0)
    token = persona_token("rate_limited")
    connector.preflight(token)  # 2 calls of the budget of 3

    with pytest.raises(PlatformError) as limited:
        connector.list_assets(token, ["PAGE"])  # the 3rd call goes through, the 4th not

    assert limited.value.status == 429 and limited.value.code == "rate_limited"
    assert limited.value.retryable and limited.value.retry_after == 2
    assert "Wait 2 seconds" in limited.value.fix
    assert "80004" in limited.value.detail

    # Once the wait is over, calls go through again.
    core.update_world(
        "meta",
        token["sandbox_world_id"],
        lambda world: world["rate_limit"].update(blocked_until=time.time() - 1),
    )
    assert connector.preflight(token) == []


class _GraphStub:
    """A tiny HTTP server answering from a script of (status, headers, body), as Graph API."""

    def __init__(self):
        self.answers: list[tuple[int, dict[str, str], object]] = []
        self.seen: list[str] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                stub.seen.append(self.path)
                status, headers, body = stub.answers.pop(0)
                raw = json.dumps(body).encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            do_GET = do_POST = do_DELETE = _answer

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v25.0"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def graph_stub(app, connector, monkeypatch):
    stub = _GraphStub()
    urls = dict(app.extensions["latchkey_platform_urls"]["meta"])
    urls["api"] = stub.url
    monkeypatch.setitem(app.extensions["latchkey_platform_urls"], "meta", urls)
    yield stub
    stub.server.shutdown()
    stub.server.server_close()


def meta_error(code: int, message: str, **extra) -> dict:
    return {
        "error": {
            "message": message,
            "type": "OAuthException",
            "code": code,
            "fbtrace_id": "AbC",
            **extra,
        }
    }


@pytest.mark.parametrize(
    ("status", "body", "expected", "retryable"),
    [
        (
            400,
            meta_error(190, "Error validating access token", error_subcode=463),
            "token_expired",
            False,
        ),
        (400, meta_error(17, "User request limit reached"), "rate_limited", True),
        (400, meta_error(80004, "Too many calls to this ad-account"), "rate_limited", True),
        (
            400,
            meta_error(2, "Please retry your request later.", is_transient=True),
            "platform_unavailable",
            True,
        ),
        (503, meta_error(1, "An unknown error occurred"), "platform_unavailable", True),
        (400, meta_error(200, "(#200) Requires ads_management permission"), "forbidden", False),
        (400, meta_error(100, "Unsupported get request.", error_subcode=33), "not_found", False),
    ],
)
def test_it_reads_metas_error_codes_whatever_the_http_status(
    connector, graph_stub, status, body, expected, retryable
):
    graph_stub.answers.append((status, {}, body))

    with pytest.raises(PlatformError) as failed:
        connector.preflight({"access_token": "EAAsecret"})

    assert failed.value.code == expected and failed.value.retryable is retryable
    assert failed.value.status == status
    assert body["error"]["message"] in failed.value.detail
    assert body["error"]["message"] not in failed.value.message
    # The app secret proof went along; the token itself never in the query string.
    assert f"appsecret_proof={proof('EAAsecret')}" in graph_stub.seen[0]
    assert "EAAsecret" not in graph_stub.seen[0]


def test_it_waits_as_long_as_meta_says_when_it_says_so(connector, graph_stub):
    graph_stub.answers.append(
        (429, {"Retry-After": "7"}, meta_error(80004, "Too many calls to this ad-account"))
    )

    with pytest.raises(PlatformError) as limited:
        connector.preflight({"access_token": "EAAx"})

    # Longer than Latchkey waits within one call: passed on to wait, or to retry later.
    assert limited.value.retry_after == 7 and "Wait 7 seconds" in limited.value.fix
    assert len(graph_stub.seen) == 1


# ------------------------------------------------------ where it shows up


def test_it_appears_in_the_api_and_the_template_editor(client, agency, auth, owner):
    body = client.get("/api/v1/platforms", headers=bearer(api_key(agency))).get_json()
    meta = next(p for p in body["data"] if p["id"] == "meta")
    assert meta["name"] == "Meta"
    types = {t["id"]: [p["id"] for p in t["permissions"]] for t in meta["asset_types"]}
    assert types == {
        "AD_ACCOUNT": ["MANAGE", "ADVERTISE", "ANALYZE", "DRAFT"],
        "PAGE": ["MANAGE", "CREATE_CONTENT", "MODERATE", "MESSAGING", "ADVERTISE", "ANALYZE"],
        "PIXEL": ["ANALYZE", "UPLOAD", "ADVERTISE"],
        "CATALOG": ["MANAGE", "ADVERTISE"],
        "INSTAGRAM_ACCOUNT": ["CONTENT", "MESSAGES", "COMMUNITY_ACTIVITY", "ADVERTISE", "ANALYZE"],
    }

    auth.login(owner)
    editor = client.get("/app/templates/new")
    assert editor.status_code == 200
    page = editor.get_data(as_text=True)
    for words in ("Meta", "Instagram account", "Pixel (dataset)", "Manage ad account"):
        assert words in page, words


def test_it_tells_how_to_remove_the_agency_in_business_settings(app):
    grant = Grant(platform="meta", asset_type="PAGE", asset_id="1", asset_name="Juniper Home")

    with app.test_request_context():
        steps = removal_steps(grant, "Northwind Agency")

    assert any("Partners" in step and "Northwind Agency" in step for step in steps)
    assert any("Juniper Home" in step for step in steps)


def test_the_login_dialog_uses_the_configured_login_for_business_configuration(
    app, connector, monkeypatch
):
    monkeypatch.setitem(app.config, "META_LOGIN_CONFIG_ID", "1234567890123456")
    assert connector.oauth_endpoints().extra_authorize_params["config_id"] == "1234567890123456"

    monkeypatch.setitem(app.config, "META_LOGIN_CONFIG_ID", None)
    assert "config_id" not in connector.oauth_endpoints().extra_authorize_params
