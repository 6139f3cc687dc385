"""The real TikTok connector, over real HTTP, against the emulated TikTok for Business.

Every test goes through `portal.platforms.http` and the sandbox served by the
live server at LATCHKEY_BASE_URL; TikTok's own error envelope (HTTP 200 with a
return code) is also checked against a tiny stub server.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from helpers_sandbox import press_allow
from test_api_support import api_key, bearer

from portal import platforms
from portal.platforms.base import Asset, PlatformError
from portal.sandbox import core

APP_ID = "sandbox-tiktok"
SECRET = "sandbox-secret-tiktok"
RUN_ADS = ["OPERATOR", "ANALYST"]


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


def callback(app) -> str:
    return app.config["LATCHKEY_BASE_URL"] + "/oauth/tiktok/callback"


def authorization_url(app, connector) -> str:
    """The URL Latchkey sends a person to: TikTok's page with app_id, state, redirect_uri."""
    return connector.authorization_request_url("state-1", callback(app))


# ------------------------------------------------------------------ sign-in


def test_it_signs_in_with_tiktoks_auth_code_and_reads_the_business_center(app, connector):
    url = authorization_url(app, connector)
    # TikTok's page takes these three only: no scope (permissions are set on the
    # app), no response_type or client_id, no PKCE.
    assert parse_qs(urlsplit(url).query) == {
        "app_id": [APP_ID],
        "state": ["state-1"],
        "redirect_uri": [callback(app)],
    }
    assert connector.oauth_endpoints().scopes == ()

    location = press_allow(requests.Session(), url, "business")

    params = parse_qs(urlsplit(location).query)
    assert location.startswith(callback(app))
    assert params["auth_code"] == params["code"]
    token = connector.exchange_code(params["auth_code"][0], "v" * 64, callback(app))
    assert token["access_token"].startswith("act.")
    assert "expires_at" not in token  # long-term tokens do not expire
    assert len(token["advertiser_ids"]) == 2
    identity = connector.agency_identity(token)
    assert identity["business_id"].isdigit()
    assert identity["name"] == "Juniper Home Goods"
    assert connector.preflight(token) == []


def test_it_refuses_an_auth_code_used_twice(app, connector):
    location = press_allow(requests.Session(), authorization_url(app, connector), "business")
    code = parse_qs(urlsplit(location).query)["auth_code"][0]
    connector.exchange_code(code, "", callback(app))

    with pytest.raises(PlatformError) as used:
        connector.exchange_code(code, "", callback(app))

    assert used.value.code == "invalid_grant"
    assert "sign in to TikTok once more" in used.value.fix


def test_its_token_endpoint_refuses_a_wrong_secret_in_tiktoks_envelope(app, connector):
    answer = requests.post(
        connector.oauth_endpoints().token_url,
        json={"app_id": APP_ID, "secret": "wrong", "auth_code": "x"},
        timeout=10,
    )

    assert answer.status_code == 200
    assert answer.json()["code"] == 40101


def test_it_asks_to_connect_again_instead_of_refreshing(connector):
    with pytest.raises(PlatformError) as refused:
        connector.refresh_token({"access_token": "act.x"})

    assert refused.value.code == "no_refresh_token"
    assert "Connect TikTok again" in refused.value.fix


def test_it_refuses_an_agency_without_a_business_center(connector):
    with pytest.raises(PlatformError) as refused:
        connector.agency_identity(persona_token("personal"))

    assert refused.value.code == "no_business"
    assert "https://business.tiktok.com/" in refused.value.fix


# --------------------------------------------------------------- preflight


@pytest.mark.parametrize(
    ("persona", "codes"),
    [
        ("business", []),
        ("personal", ["no_business_center"]),
        ("not_admin", ["not_admin"]),
        ("two_factor_off", []),  # TikTok only says so when sharing (see below)
        ("fails_mid_grant", []),
    ],
)
def test_it_finds_each_personas_problems_before_granting(connector, persona, codes):
    problems = connector.preflight(persona_token(persona))

    assert [p.code for p in problems] == codes
    for problem in problems:
        assert problem.blocking and problem.fix and problem.help_url


def test_it_tells_a_standard_member_who_can_help(connector):
    (problem,) = connector.preflight(persona_token("not_admin"))

    assert "Harbor Coffee Roasters" in problem.title
    assert "admin" in problem.fix and "Users → Members" in problem.fix


# ------------------------------------------------------------------- assets


def test_it_lists_the_business_centers_ad_accounts_and_catalog(connector):
    assets = connector.list_assets(persona_token("business"), ["ADVERTISER", "CATALOG"])

    assert [a.name for a in assets["ADVERTISER"]] == [
        "Juniper Home Goods - United States",
        "Juniper Home Goods - Europe",
    ]
    assert assets["ADVERTISER"][0].details["business_center"] == "Juniper Home Goods"
    (catalog,) = assets["CATALOG"]
    assert catalog.name == "Juniper Home Goods product catalog"


def test_it_reads_every_page_of_a_long_list(connector, monkeypatch):
    monkeypatch.setattr(connector, "page_size", 2)

    ads = connector.list_assets(persona_token("business", ad_accounts=5), ["ADVERTISER"])

    assert len({a.id for a in ads["ADVERTISER"]}) == 5


@pytest.mark.parametrize("persona", ["personal", "not_admin"])
def test_it_lists_nothing_the_login_cannot_share(connector, persona):
    assets = connector.list_assets(persona_token(persona), ["ADVERTISER", "CATALOG"])

    assert assets == {"ADVERTISER": [], "CATALOG": []}


# -------------------------------------------------------- grant and verify


def first_ad_account(connector, token) -> Asset:
    return connector.list_assets(token, ["ADVERTISER"])["ADVERTISER"][0]


def test_it_shares_an_ad_account_with_the_agencys_business_center_which_then_sees_it(
    connector, agency_token, agency_identity
):
    client = persona_token("business")
    asset = first_ad_account(connector, client)
    client_bc = core.world_data("tiktok", client["sandbox_world_id"])["business_center"]
    before = connector.verify(
        agency_token,
        agency_identity,
        "ADVERTISER",
        asset.id,
        RUN_ADS,
        {"client_business_id": client_bc["bc_id"]},
    )

    result = connector.grant(client, agency_token, agency_identity, asset, RUN_ADS)

    assert before.status == "missing"
    assert result.status == "granted", result
    assert result.external["client_business_id"] == client_bc["bc_id"]
    assert result.external["agency_business_id"] == agency_identity["business_id"]
    assert result.external["role"] == "OPERATOR"  # the strongest role asked for
    check = connector.verify(
        agency_token, agency_identity, "ADVERTISER", asset.id, RUN_ADS, result.external
    )
    assert check.status == "verified"
    assert check.permissions == ("OPERATOR",)


def test_it_reports_insufficient_access_with_what_is_missing(
    connector, agency_token, agency_identity
):
    client = persona_token("business")
    asset = first_ad_account(connector, client)
    result = connector.grant(client, agency_token, agency_identity, asset, ["ANALYST"])

    check = connector.verify(
        agency_token, agency_identity, "ADVERTISER", asset.id, RUN_ADS, result.external
    )

    assert check.status == "insufficient"
    assert check.permissions == ("ANALYST",)
    assert "Analyst" in check.message and "Operator" in check.message


def test_sharing_again_never_lowers_the_agencys_role(connector, agency_token, agency_identity):
    client = persona_token("business")
    asset = first_ad_account(connector, client)
    connector.grant(client, agency_token, agency_identity, asset, ["ADMIN"])

    again = connector.grant(client, agency_token, agency_identity, asset, ["ANALYST"])

    check = connector.verify(
        agency_token, agency_identity, "ADVERTISER", asset.id, ["ANALYST"], again.external
    )
    assert check.status == "verified" and check.permissions == ("ADMIN",)


def test_it_revokes_and_the_agency_then_no_longer_sees_the_asset(
    connector, agency_token, agency_identity
):
    client = persona_token("business")
    asset = first_ad_account(connector, client)
    result = connector.grant(client, agency_token, agency_identity, asset, RUN_ADS)

    assert connector.revoke(agency_token, agency_identity, "ADVERTISER", asset.id, result.external)

    check = connector.verify(
        agency_token, agency_identity, "ADVERTISER", asset.id, RUN_ADS, result.external
    )
    assert check.status == "missing"
    # Removing what is already gone is not an error (jobs may run twice).
    assert connector.revoke(agency_token, agency_identity, "ADVERTISER", asset.id, result.external)


def test_it_revokes_nothing_when_no_partner_shares_the_asset(
    connector, agency_token, agency_identity
):
    # Removing what is already gone (or was never shared) is not an error.
    assert connector.revoke(agency_token, agency_identity, "ADVERTISER", "123", {})


def test_it_explains_that_only_an_admin_can_share(connector, agency_token, agency_identity):
    client = persona_token("not_admin")
    account = core.world_data("tiktok", client["sandbox_world_id"])["advertisers"][0]
    asset = Asset(account["advertiser_id"], account["advertiser_name"], "ADVERTISER")

    result = connector.grant(client, agency_token, agency_identity, asset, RUN_ADS)

    assert result.status == "failed" and not result.retryable
    assert result.external["error_code"] == "not_admin"
    assert "Harbor Coffee Roasters" in result.fix
    # TikTok's own words stay in the technical detail.
    assert "40001" in result.external["detail"]


def test_it_explains_that_the_business_center_requires_two_step_verification(
    connector, agency_token, agency_identity
):
    client = persona_token("two_factor_off")
    asset = first_ad_account(connector, client)

    result = connector.grant(client, agency_token, agency_identity, asset, RUN_ADS)

    assert result.status == "failed"
    assert result.external["error_code"] == "two_factor_off"
    assert "2-step verification" in result.error
    assert "press Retry" in result.fix


def test_it_fails_mid_grant_retryably_and_a_retry_works(connector, agency_token, agency_identity):
    client = persona_token("fails_mid_grant")
    asset = first_ad_account(connector, client)

    first = connector.grant(client, agency_token, agency_identity, asset, RUN_ADS)

    assert first.status == "failed" and first.retryable
    assert first.external["error_code"] == "platform_unavailable"
    assert "Try again" in first.fix
    assert (
        connector.verify(
            agency_token, agency_identity, "ADVERTISER", asset.id, RUN_ADS, first.external
        ).status
        == "missing"
    )
    second = connector.grant(client, agency_token, agency_identity, asset, RUN_ADS)
    assert second.status == "granted"
    check = connector.verify(
        agency_token, agency_identity, "ADVERTISER", asset.id, RUN_ADS, second.external
    )
    assert check.status == "verified"


def test_it_refuses_what_does_not_exist_or_cannot_work(connector, agency_token, agency_identity):
    client = persona_token("business")
    asset = first_ad_account(connector, client)

    wrong = connector.grant(client, agency_token, agency_identity, asset, ["AD_PROMOTE"])
    unconnected = connector.grant(client, None, {}, asset, RUN_ADS)
    itself = connector.grant(
        client, agency_token, connector.agency_identity(client), asset, RUN_ADS
    )

    assert (wrong.status, wrong.external["error_code"]) == ("failed", "invalid_permission")
    assert unconnected.external["error_code"] == "agency_not_connected"
    assert itself.external["error_code"] == "same_business"


def test_it_explains_an_agency_business_center_that_no_longer_exists(connector, agency_token):
    client = persona_token("business")
    asset = first_ad_account(connector, client)

    result = connector.grant(
        client, agency_token, {"business_id": "7000000000000000001"}, asset, RUN_ADS
    )

    assert result.status == "failed"
    assert result.external["error_code"] == "agency_business_missing"
    assert "connect TikTok again" in result.fix


# ------------------------------------------------------------ errors


def test_it_asks_to_sign_in_again_when_the_token_was_revoked(connector):
    token = persona_token("business")
    core.expire_token(token["access_token"])

    with pytest.raises(PlatformError) as expired:
        connector.preflight(token)

    assert expired.value.status == 401 and expired.value.code == "token_expired"
    assert "Sign in to TikTok again" in expired.value.fix
    assert not expired.value.retryable
    assert "40105" in expired.value.detail


def test_its_token_answer_names_no_scope(app, connector):
    # TikTok lists `scope` as the app's permission scope IDs; the sandbox's app
    # has none, and the sandbox does not invent scope names.
    location = press_allow(requests.Session(), authorization_url(app, connector), "business")
    code = parse_qs(urlsplit(location).query)["auth_code"][0]

    token = connector.exchange_code(code, "", callback(app))

    assert token["scope"] == ""


def test_it_passes_on_tiktoks_rate_limit_with_the_wait(connector):
    token = persona_token("rate_limited")
    connector.preflight(token)  # 1 call
    connector.list_assets(token, ["ADVERTISER"])  # 2 calls: the budget of 3 is spent

    with pytest.raises(PlatformError) as limited:
        connector.preflight(token)

    assert limited.value.status == 429 and limited.value.code == "rate_limited"
    assert limited.value.retryable and limited.value.retry_after == 2
    assert "Wait 2 seconds" in limited.value.fix
    core.update_world(
        "tiktok",
        token["sandbox_world_id"],
        lambda world: world["rate_limit"].update(blocked_until=time.time() - 1),
    )
    assert connector.preflight(token) == []


class _Stub:
    """A tiny HTTP server answering from a script of (status, headers, body)."""

    def __init__(self):
        self.answers: list[tuple[int, dict[str, str], object]] = []
        self.seen: list[tuple[str, str, dict[str, str]]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                stub.seen.append((self.command, self.path, dict(self.headers)))
                status, headers, body = stub.answers.pop(0)
                raw = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            do_GET = do_POST = _answer

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def stub(app, connector, monkeypatch):
    server = _Stub()
    urls = dict(app.extensions["latchkey_platform_urls"]["tiktok"])
    urls["api"] = server.url + "/open_api/v1.3"
    monkeypatch.setitem(app.extensions["latchkey_platform_urls"], "tiktok", urls)
    yield server
    server.server.shutdown()
    server.server.server_close()


def envelope(code: int, message: str, data=None) -> dict:
    return {"code": code, "message": message, "request_id": "2025", "data": data or {}}


@pytest.mark.parametrize(
    ("status", "headers", "body", "code", "retryable"),
    [
        (200, {}, envelope(40100, "Requests made too frequently."), "rate_limited", True),
        (200, {}, envelope(50000, "System error."), "platform_unavailable", True),
        (200, {}, envelope(40002, "Invalid param."), "rejected", False),
        (429, {"Retry-After": "7"}, envelope(40100, "Too many."), "rate_limited", True),
        (503, {}, b"<html>maintenance</html>", "platform_unavailable", True),
        (200, {}, {"unexpected": True}, "bad_response", True),
    ],
)
def test_it_turns_tiktoks_return_codes_and_http_failures_into_plain_errors(
    connector, stub, status, headers, body, code, retryable
):
    stub.answers.append((status, headers, body))

    with pytest.raises(PlatformError) as failed:
        connector.preflight({"access_token": "act.secret"})

    assert failed.value.code == code and failed.value.retryable is retryable
    assert failed.value.message and failed.value.fix
    assert "act.secret" not in (failed.value.detail or "")
    # The token travels in TikTok's own header, never as a bearer token.
    _method, path, sent = stub.seen[0]
    assert sent["Access-Token"] == "act.secret" and "Authorization" not in sent
    assert path.startswith("/open_api/v1.3/bc/get/")
    if status == 429:
        assert failed.value.retry_after == 7


def test_it_tells_an_administrator_when_tiktok_refuses_the_app_credentials(
    app, connector, stub, monkeypatch
):
    urls = dict(app.extensions["latchkey_platform_urls"]["tiktok"])
    urls["token"] = stub.url + "/open_api/v1.3/oauth2/access_token/"
    monkeypatch.setitem(app.extensions["latchkey_platform_urls"], "tiktok", urls)
    stub.answers.append((200, {}, envelope(40101, "The app_id and secret do not match.")))

    with pytest.raises(PlatformError) as refused:
        connector.exchange_code("code", "", callback(app))

    assert refused.value.code == "not_configured"
    assert "TIKTOK_CLIENT_SECRET" in refused.value.fix
    _method, path, _headers = stub.seen[0]
    assert path == "/open_api/v1.3/oauth2/access_token/"


def test_the_emulated_api_wants_tiktoks_access_token_header(client, connector, agency_token):
    bearer_only = requests.get(
        connector.api_base() + "/bc/get/",
        headers={"Authorization": f"Bearer {agency_token['access_token']}"},
        timeout=10,
    )
    unknown = client.get(
        "/sandbox/tiktok/business-api.tiktok.com/open_api/v1.3/nothing/here/",
        headers={"Access-Token": agency_token["access_token"]},
    )

    assert bearer_only.status_code == 200 and bearer_only.json()["code"] == 40104
    assert unknown.status_code == 404


# -------------------------------------------------------- the catalogue


def test_it_appears_in_the_api_and_the_template_editor(client, agency, owner, auth):
    listed = client.get("/api/v1/platforms", headers=bearer(api_key(agency)))
    tiktok = next(p for p in listed.get_json()["data"] if p["id"] == "tiktok")
    assert tiktok["name"] == "TikTok"
    types = {t["id"]: [p["id"] for p in t["permissions"]] for t in tiktok["asset_types"]}
    assert types == {
        "ADVERTISER": ["ADMIN", "OPERATOR", "ANALYST"],
        "CATALOG": ["ADMIN", "AD_PROMOTE"],
    }

    auth.login(owner)
    page = client.get("/app/templates/new").get_data(as_text=True)
    assert 'value="tiktok|ADVERTISER|OPERATOR"' in page
    assert "Create and edit campaigns and audiences" in page
