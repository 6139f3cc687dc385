"""The real Pinterest connector, over real HTTP, against the emulated Pinterest.

Every test here goes through `portal.platforms.http` and the sandbox served by
the live server at LATCHKEY_BASE_URL; the HTTP helper's failure handling is
also checked against a tiny stub server and closed or silent ports.
"""

from __future__ import annotations

import json
import logging
import secrets
import socket
import threading
import time
from contextlib import closing
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from helpers_sandbox import press_allow

from portal import platforms
from portal.platforms import http
from portal.platforms.base import Asset, PlatformError
from portal.sandbox import core

CLIENT_ID = "sandbox-pinterest"
CLIENT_SECRET = "sandbox-secret-pinterest"
CAMPAIGNS = ["CAMPAIGN_MANAGER", "ANALYST"]


@pytest.fixture
def connector(live_server):
    return platforms.get("pinterest")


@pytest.fixture
def agency_token(live_server):
    return core.sandbox_token("pinterest", "business", name="Northwind Agency")


@pytest.fixture
def agency_identity(connector, agency_token):
    return connector.agency_identity(agency_token)


def persona_token(persona: str, **options):
    return core.sandbox_token("pinterest", persona, **options)


def callback(app) -> str:
    return app.config["LATCHKEY_BASE_URL"] + "/oauth/pinterest/callback"


def sign_in(app, connector, persona: str = "business") -> dict:
    """The whole OAuth flow over HTTP: authorize, consent, code, token with PKCE."""
    endpoints = connector.oauth_endpoints()
    verifier = secrets.token_urlsafe(64)
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
            "code_challenge": core.s256(verifier),
            "code_challenge_method": "S256",
        },
    ).prepare()
    location = press_allow(requests.Session(), query.url, persona)
    assert location.startswith(callback(app))
    params = parse_qs(urlsplit(location).query)
    assert params["state"] == [state]
    answer = requests.post(
        endpoints.token_url,
        data={
            "grant_type": "authorization_code",
            "code": params["code"][0],
            "redirect_uri": callback(app),
            "code_verifier": verifier,
        },
        auth=(CLIENT_ID, CLIENT_SECRET),
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


# ------------------------------------------------------------------ sign-in


def test_it_signs_in_with_pkce_over_http_and_reads_the_business(app, connector):
    token = sign_in(app, connector, "business")

    identity = connector.agency_identity(token)

    assert identity["business_id"].isdigit()
    assert identity["name"] == "Juniper Home Goods"
    assert identity["username"].startswith("juniperhomegoods_")
    assert connector.preflight(token) == []


def test_it_works_with_authlibs_oauth_client(app, connector):
    """The app signs in with Authlib: the sandbox must speak the same protocol."""
    endpoints = connector.oauth_endpoints()
    session = OAuth2Session(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        token_endpoint_auth_method="client_secret_basic",
        scope=endpoints.scope_separator.join(endpoints.scopes),
        redirect_uri=callback(app),
        code_challenge_method="S256",
    )
    verifier = generate_token(64)
    url, _state = session.create_authorization_url(endpoints.authorize_url, code_verifier=verifier)

    location = press_allow(requests.Session(), url, "personal")
    token = session.fetch_token(
        endpoints.token_url, authorization_response=location, code_verifier=verifier
    )

    assert token["access_token"].startswith("pina_")
    assert token["expires_at"] > time.time()
    assert [p.code for p in connector.preflight(dict(token))] == ["personal_account"]


def test_it_refreshes_its_token_with_continuous_refresh(connector):
    token = persona_token("business")

    renewed = connector.refresh_token(token)

    assert renewed["access_token"] != token["access_token"]
    assert renewed["refresh_token"] != token["refresh_token"]
    assert renewed["expires_at"] > time.time() + 86400
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
        ("two_factor_off", ["two_factor_off"]),
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

    assert "Harbor Coffee Roasters" in problem.title
    assert "admin" in problem.fix and "Business Access" in problem.fix


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


def first_ad_account(connector, token) -> Asset:
    return connector.list_assets(token, ["AD_ACCOUNT"])["AD_ACCOUNT"][0]


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


# ------------------------------------------------------------ Pinterest Tag


def test_it_verifies_the_tag_from_the_agency_side(connector, agency_token, agency_identity):
    client = persona_token("business")
    with_tag, without_tag = connector.list_assets(client, ["AD_ACCOUNT"])["AD_ACCOUNT"]
    for account in (with_tag, without_tag):
        connector.grant(client, agency_token, agency_identity, account, ["ANALYST"])

    installed = connector.verify(agency_token, agency_identity, "TAG", with_tag.id, [], {})
    absent = connector.verify(agency_token, agency_identity, "TAG", without_tag.id, [], {})

    assert installed.status == "verified"
    assert absent.status == "missing" and "no Pinterest Tag" in absent.message


def test_it_waits_for_a_tag_that_has_not_fired(connector, agency_token, agency_identity):
    client = persona_token("business", tag_fired=False)
    account = first_ad_account(connector, client)
    connector.grant(client, agency_token, agency_identity, account, ["ANALYST"])

    check = connector.verify(agency_token, agency_identity, "TAG", account.id, [], {})

    assert check.status == "pending" and "7 days" in check.message


def test_it_cannot_check_a_tag_on_an_ad_account_it_was_not_given(
    connector, agency_token, agency_identity
):
    account = first_ad_account(connector, persona_token("business"))

    check = connector.verify(agency_token, agency_identity, "TAG", account.id, [], {})

    assert check.status == "missing"
    assert "Share the ad account with the agency" in check.message


def test_it_gives_manual_steps_for_the_tag_and_for_billing(connector):
    (tag,) = connector.manual_steps("TAG", ["VERIFY_TAG"])
    (billing,) = connector.manual_steps("AD_ACCOUNT", ["ANALYST", "FINANCE_VIEW"])

    assert tag.link.startswith("https://ads.pinterest.com")
    assert any("private browser window" in str(step) for step in tag.steps)
    assert any("cookie banner" in str(step) for step in tag.steps)
    assert "billing" in str(billing.title).lower()
    assert any("payment method" in str(step) for step in billing.steps)
    assert any("Finance viewer" in str(step) for step in billing.steps)
    assert connector.manual_steps("AD_ACCOUNT", CAMPAIGNS) == []
    assert connector.asset_type("TAG").manual


# ------------------------------------------------------------ HTTP failures


def test_it_asks_to_sign_in_again_when_the_token_expired(connector):
    token = persona_token("business")
    core.expire_token(token["access_token"])

    with pytest.raises(PlatformError) as expired:
        connector.preflight(token)

    assert expired.value.status == 401 and expired.value.code == "token_expired"
    assert "Sign in to Pinterest again" in expired.value.fix
    assert not expired.value.retryable
    assert "expired" in expired.value.detail


def test_it_explains_a_missing_permission(connector):
    token = persona_token("business", scopes=["user_accounts:read"])

    with pytest.raises(PlatformError) as refused:
        connector.list_assets(token, ["AD_ACCOUNT"])

    assert refused.value.status == 403 and refused.value.code == "forbidden"
    assert "permission" in refused.value.message
    assert "ads:read" in refused.value.detail


def test_it_passes_on_pinterests_rate_limit_with_the_wait(connector):
    token = persona_token("rate_limited")
    connector.preflight(token)  # 2 calls
    connector.list_assets(token, ["CATALOG"])  # 1 call: the budget of 3 is spent

    with pytest.raises(PlatformError) as limited:
        connector.preflight(token)

    assert limited.value.status == 429 and limited.value.code == "rate_limited"
    assert limited.value.retryable and limited.value.retry_after == 2
    assert "Wait 2 seconds" in limited.value.fix

    # Once the wait is over, calls go through again.
    core.update_world(
        "pinterest",
        token["sandbox_world_id"],
        lambda world: world["rate_limit"].update(blocked_until=time.time() - 1),
    )
    assert connector.preflight(token) == []


def _closed_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_it_calls_an_unreachable_pinterest_retryable(connector, app, monkeypatch):
    urls = dict(app.extensions["latchkey_platform_urls"]["pinterest"])
    urls["api"] = f"http://127.0.0.1:{_closed_port()}/v5"
    monkeypatch.setitem(app.extensions["latchkey_platform_urls"], "pinterest", urls)

    with pytest.raises(PlatformError) as unreachable:
        connector.preflight({"access_token": "pina_x"})

    assert unreachable.value.code == "unreachable" and unreachable.value.retryable
    assert "could not reach Pinterest" in unreachable.value.message


def test_it_gives_up_on_a_silent_pinterest_after_its_timeout(connector, app, monkeypatch):
    with closing(socket.socket()) as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # accepts connections, never answers
        urls = dict(app.extensions["latchkey_platform_urls"]["pinterest"])
        urls["api"] = f"http://127.0.0.1:{silent.getsockname()[1]}/v5"
        monkeypatch.setitem(app.extensions["latchkey_platform_urls"], "pinterest", urls)
        monkeypatch.setattr(connector, "timeout", 0.3)
        started = time.monotonic()

        with pytest.raises(PlatformError) as timed_out:
            connector.preflight({"access_token": "pina_x"})

    assert time.monotonic() - started < 5
    assert timed_out.value.code == "timeout" and timed_out.value.retryable
    assert "took too long" in timed_out.value.message


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

            do_GET = do_POST = do_PATCH = do_DELETE = _answer

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def stub():
    server = _Stub()
    yield server
    server.server.shutdown()
    server.server.server_close()


def test_it_never_follows_a_redirect_with_the_token(stub):
    stub.answers.append((302, {"Location": stub.url + "/elsewhere"}, b""))

    with pytest.raises(PlatformError) as redirected:
        http.call("GET", stub.url + "/v5/user_account", token="pina_secret", platform="Pinterest")

    assert redirected.value.code == "unexpected_redirect"
    assert [path for _m, path, _h in stub.seen] == ["/v5/user_account"]
    assert stub.seen[0][2]["Authorization"] == "Bearer pina_secret"


def test_it_keeps_pinterests_own_words_in_the_detail_of_a_5xx(stub):
    stub.answers.append((503, {}, {"code": 1, "message": "Service unavailable"}))

    with pytest.raises(http.PlatformHTTPError) as failed:
        http.call("POST", stub.url + "/v5/businesses/1/invites", json={}, platform="Pinterest")

    error = failed.value
    assert error.code == "platform_unavailable" and error.retryable and error.status == 503
    assert error.platform_code == 1 and error.platform_message == "Service unavailable"
    assert "Service unavailable" in error.detail and "Service unavailable" not in error.message


def test_it_reads_retry_after_as_seconds_or_a_date(stub):
    later = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 30))
    stub.answers.append((429, {"Retry-After": "7"}, {"code": 8, "message": "slow down"}))
    stub.answers.append((429, {"Retry-After": later}, {"code": 8, "message": "slow down"}))

    waits = []
    for _ in range(2):
        with pytest.raises(PlatformError) as limited:
            http.call("GET", stub.url + "/v5/boards", platform="Pinterest")
        waits.append(limited.value.retry_after)

    assert waits[0] == 7
    assert 25 <= waits[1] <= 30


def test_it_says_so_when_the_answer_is_not_json(stub):
    stub.answers.append((200, {"Content-Type": "text/html"}, b"<html>maintenance</html>"))

    with pytest.raises(PlatformError) as odd:
        http.call("GET", stub.url + "/v5/boards", platform="Pinterest")

    assert odd.value.code == "bad_response"


def test_it_never_logs_tokens_or_query_strings(stub, caplog, monkeypatch):
    stub.answers.append((200, {}, {"items": []}))
    stub.answers.append((401, {}, {"code": 2, "message": "Authentication failed."}))
    # Alembic's fileConfig (run by the migration tests) disables existing loggers.
    for name in ("portal.platforms.http", "urllib3.connectionpool"):
        monkeypatch.setattr(logging.getLogger(name), "disabled", False)
    caplog.set_level(logging.DEBUG)

    http.call("GET", stub.url + "/v5/boards", token="pina_topsecret", params={"x": "hidden"})
    with pytest.raises(PlatformError):
        http.call("POST", stub.url + "/oauth/token", data={"refresh_token": "pinr_topsecret"})

    logged = " ".join(record.getMessage() for record in caplog.records)
    assert "/v5/boards" in logged
    assert "topsecret" not in logged and "hidden" not in logged
