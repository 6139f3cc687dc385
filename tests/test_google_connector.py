"""The real Google connector, over real HTTP, against the emulated Google:
sign-in, the agency's identity, preflight for each persona, Google's errors
and the catalogue. Each product's grants are in test_google_products.py.
"""

from __future__ import annotations

import json
import re
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
from test_api_support import api_key, bearer

from portal import platforms
from portal.platforms.base import PlatformError
from portal.platforms.google.ads import API_VERSION
from portal.platforms.google.api import GoogleApi, google_error
from portal.sandbox import core

CLIENT_ID = "sandbox-google"
CLIENT_SECRET = "sandbox-secret-google"
ANALYTICS_ONLY = (
    "openid",
    "email",
    "profile",
    "https://www.googleapis.com/auth/analytics.readonly",
    "https://www.googleapis.com/auth/analytics.manage.users",
)


@pytest.fixture
def connector(live_server):
    return platforms.get("google")


def persona_token(persona: str, **options):
    return core.sandbox_token("google", persona, **options)


def callback(app) -> str:
    return app.config["LATCHKEY_BASE_URL"] + "/oauth/google/callback"


def authlib_session(app, connector) -> OAuth2Session:
    endpoints = connector.oauth_endpoints()
    return OAuth2Session(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        token_endpoint_auth_method=endpoints.token_endpoint_auth_method,
        scope=endpoints.scope_separator.join(endpoints.scopes),
        redirect_uri=callback(app),
        code_challenge_method="S256",
    )


# ------------------------------------------------------------------ sign-in


def test_it_signs_in_with_pkce_offline_access_and_reads_who_the_agency_is(app, connector):
    endpoints = connector.oauth_endpoints()
    session = authlib_session(app, connector)
    verifier = generate_token(64)
    url, _state = session.create_authorization_url(
        endpoints.authorize_url, code_verifier=verifier, **endpoints.extra_authorize_params
    )
    query = parse_qs(urlsplit(url).query)
    assert query["access_type"] == ["offline"] and query["prompt"] == ["consent"]
    assert query["code_challenge_method"] == ["S256"]
    assert "https://www.googleapis.com/auth/adwords" in query["scope"][0].split(" ")

    location = press_allow(requests.Session(), url, "business")
    token = session.fetch_token(
        endpoints.token_url, authorization_response=location, code_verifier=verifier
    )

    assert token["access_token"].startswith("ya29.") and token["refresh_token"]
    identity = connector.agency_identity(dict(token))
    assert identity["email"].startswith("team@juniperhomegoods-")
    assert identity["email"] in identity["name"]
    assert re.fullmatch(r"\d{10}", identity["manager_id"])
    assert identity["business_id"] == identity["manager_id"]
    assert identity["manager_name"] == "Juniper Home Goods Manager"
    assert connector.preflight(dict(token)) == []


def test_it_refreshes_without_losing_the_refresh_token(connector):
    token = persona_token("business")

    renewed = connector.refresh_token(token)

    assert renewed["access_token"] != token["access_token"]
    # Google keeps the refresh token: the same one goes on working.
    assert renewed["refresh_token"] == token["refresh_token"]
    assert renewed["expires_at"] > time.time() + 3000
    assert connector.preflight(renewed) == []
    assert connector.refresh_token(token)["access_token"] != renewed["access_token"]


def test_its_token_endpoint_refuses_a_wrong_client_secret(app, connector):
    answer = requests.post(
        connector.oauth_endpoints().token_url,
        data={
            "grant_type": "refresh_token",
            "refresh_token": "1//nothing",
            "client_id": CLIENT_ID,
            "client_secret": "wrong",
        },
        timeout=10,
    )

    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client"


def test_an_agency_without_google_ads_still_connects_for_the_other_products(connector):
    identity = connector.agency_identity(persona_token("business", scopes=ANALYTICS_ONLY))

    assert identity["email"] and identity["manager_id"] == ""
    assert "business_id" not in identity
    assert "Google Ads" in identity["ads_note"]


def test_an_agency_without_a_manager_account_has_none(connector):
    identity = connector.agency_identity(persona_token("personal"))

    assert identity["email"].endswith("@gmail.example")
    assert identity["manager_id"] == "" and identity["managers"] == []


def test_the_sandbox_gives_the_same_identity_as_the_connector(connector):
    from portal.sandbox.google import world

    token = persona_token("business", name="Northwind Agency")
    emulated = world.agency_identity(core.world_data("google", token["sandbox_world_id"]))

    found = connector.agency_identity(token)

    for key in ("email", "name", "manager_id", "manager_name", "business_id", "account_id"):
        assert found[key] == emulated[key], key


# ---------------------------------------------------------------- preflight


@pytest.mark.parametrize(
    ("persona", "codes", "blocking"),
    [
        ("business", [], []),
        ("personal", ["no_google_products"], [True]),
        (
            "not_admin",
            [
                "not_admin_tag_manager",
                "not_admin_merchant_center",
                "not_owner_business_profile",
                "not_owner_search_console",
            ],
            [False, False, False, False],
        ),
        ("two_factor_off", ["two_factor_off"], [False]),
        ("fails_mid_grant", [], []),
    ],
)
def test_it_finds_each_personas_problems_before_granting(connector, persona, codes, blocking):
    problems = connector.preflight(persona_token(persona))

    assert [p.code for p in problems] == codes
    assert [p.blocking for p in problems] == blocking
    for problem in problems:
        assert problem.title and problem.fix and problem.help_url


def test_it_tells_a_personal_account_which_account_it_is_and_to_switch(connector):
    token = persona_token("personal")
    email = core.world_data("google", token["sandbox_world_id"])["user"]["email"]

    (problem,) = connector.preflight(token)

    assert email in problem.title
    assert "work address" in problem.fix and "Connect Google again" in problem.fix


def test_it_names_the_products_a_member_cannot_share_and_who_can_help(connector):
    problems = {p.code: p for p in connector.preflight(persona_token("not_admin"))}

    assert "Harbor Coffee Roasters" in problems["not_admin_tag_manager"].title
    assert "Administrator" in problems["not_admin_tag_manager"].fix
    assert "Admin access" in problems["not_admin_merchant_center"].fix
    assert "owner" in problems["not_owner_business_profile"].fix


def test_it_explains_two_step_verification_for_google_ads(connector):
    (problem,) = connector.preflight(persona_token("two_factor_off"))

    assert "2-Step Verification" in problem.title
    assert "myaccount.google.com" in problem.fix and "sign in to Google again" in problem.fix


def test_it_warns_about_unticked_products_and_blocks_when_nothing_is_left(connector):
    some = connector.preflight(persona_token("business", scopes=ANALYTICS_ONLY))
    none = connector.preflight(persona_token("business", scopes=["openid", "email"]))

    (warning,) = some
    assert (warning.code, warning.blocking) == ("scopes_missing", False)
    assert "Google Ads" in warning.title and "Search Console" in warning.title
    assert "Google Analytics" not in warning.title
    assert "leave every box ticked" in warning.fix
    assert [(p.code, p.blocking) for p in none] == [("scopes_missing", True)]


# ------------------------------------------------------------ Google's errors


def test_it_asks_to_sign_in_to_google_again_when_the_token_expired(connector):
    token = persona_token("business")
    core.expire_token(token["access_token"])

    with pytest.raises(PlatformError) as expired:
        connector.list_assets(token, ["GA4_PROPERTY"])

    assert expired.value.status == 401 and expired.value.code == "token_expired"
    assert "Google sign-in has expired" in expired.value.message
    assert "Sign in to Google again" in expired.value.fix
    assert "ACCESS_TOKEN_EXPIRED" not in expired.value.message
    assert "401" in expired.value.detail


def test_it_explains_a_product_that_was_not_allowed_at_sign_in(connector):
    token = persona_token("business", scopes=ANALYTICS_ONLY)

    with pytest.raises(PlatformError) as refused:
        connector.list_assets(token, ["MERCHANT_CENTER_ACCOUNT"])

    assert refused.value.status == 403 and refused.value.code == "scope_missing"
    assert "Merchant Center was not allowed" in refused.value.message
    assert "leave every box ticked" in refused.value.fix
    assert "insufficient authentication scopes" in refused.value.detail


def test_it_passes_on_googles_rate_limit_with_the_wait(connector):
    token = persona_token("rate_limited", retry_after=30)
    connector.list_assets(token, ["GA4_PROPERTY", "MERCHANT_CENTER_ACCOUNT"])  # 2 calls
    connector.list_assets(token, ["SEARCH_CONSOLE_PROPERTY"])  # the budget of 3 is spent

    with pytest.raises(PlatformError) as limited:
        connector.list_assets(token, ["GA4_PROPERTY"])

    assert limited.value.status == 429 and limited.value.code == "rate_limited"
    assert limited.value.retryable and limited.value.retry_after == 30
    assert "Wait 30 seconds" in limited.value.fix
    assert "too many requests" in limited.value.message

    core.update_world(
        "google",
        token["sandbox_world_id"],
        lambda world: world["rate_limit"].update(blocked_until=time.time() - 1),
    )
    assert connector.list_assets(token, ["GA4_PROPERTY"])["GA4_PROPERTY"]


def test_it_waits_out_a_short_rate_limit_between_reads(connector):
    token = persona_token("rate_limited")  # 3 calls, then 2 seconds' wait
    started = time.monotonic()

    problems = connector.preflight(token)  # about ten reads

    assert problems == []
    assert 2 <= time.monotonic() - started < 12


def _closed_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_it_calls_an_unreachable_google_retryable(connector, app, monkeypatch):
    urls = dict(app.extensions["latchkey_platform_urls"]["google"])
    urls["analytics"] = f"http://127.0.0.1:{_closed_port()}/v1alpha"
    monkeypatch.setitem(app.extensions["latchkey_platform_urls"], "google", urls)

    with pytest.raises(PlatformError) as unreachable:
        connector.list_assets({"access_token": "ya29.x"}, ["GA4_PROPERTY"])

    assert unreachable.value.code == "unreachable" and unreachable.value.retryable
    assert "could not reach Google Analytics" in unreachable.value.message


class _Stub:
    """A tiny HTTP server answering from a script of (status, headers, body)."""

    def __init__(self):
        self.answers: list[tuple[int, dict[str, str], object]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                status, headers, body = stub.answers.pop(0)
                raw = json.dumps(body).encode()
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
    urls = dict(app.extensions["latchkey_platform_urls"]["google"])
    urls["ads"] = server.url + "/" + API_VERSION
    monkeypatch.setitem(app.extensions["latchkey_platform_urls"], "google", urls)
    yield server
    server.server.shutdown()
    server.server.server_close()


def _ads_failure(code: int, status: str, error: dict) -> dict:
    return {
        "error": {
            "code": code,
            "message": "Request contains an invalid argument.",
            "status": status,
            "details": [
                {
                    "@type": (
                        f"type.googleapis.com/google.ads.googleads.{API_VERSION}"
                        ".errors.GoogleAdsFailure"
                    ),
                    "errors": [{"errorCode": error, "message": "said by Google"}],
                    "requestId": "abc",
                }
            ],
        }
    }


def test_it_reads_google_ads_errors_and_keeps_googles_words_for_support(stub, connector):
    api = GoogleApi(connector, "Google Ads", "ads")
    stub.answers.append(
        (400, {}, _ads_failure(400, "INVALID_ARGUMENT", {"managerLinkError": "TOO_MANY_MANAGERS"}))
    )
    stub.answers.append(
        (
            401,
            {},
            _ads_failure(
                401,
                "UNAUTHENTICATED",
                {"authenticationError": "TWO_STEP_VERIFICATION_NOT_ENROLLED"},
            ),
        )
    )
    stub.answers.append(
        (
            503,
            {"Retry-After": "7"},
            {"error": {"code": 503, "status": "UNAVAILABLE", "message": "Backend unavailable"}},
        )
    )

    with pytest.raises(PlatformError) as rejected:
        api.call("POST", "/customers/1/customerClientLinks:mutate", "ya29.x", json={})
    assert google_error(rejected.value).reason == "TOO_MANY_MANAGERS"
    assert rejected.value.code == "rejected" and "said by Google" not in rejected.value.message

    with pytest.raises(PlatformError) as two_step:
        api.call("GET", "/customers:listAccessibleCustomers", "ya29.x")
    assert two_step.value.code == "two_factor_off" and two_step.value.status == 401
    assert "2-Step Verification" in two_step.value.message

    with pytest.raises(PlatformError) as down:
        api.call("POST", "/customers/1/customerClientLinks:mutate", "ya29.x", json={})
    assert down.value.code == "platform_unavailable" and down.value.retryable
    assert down.value.retry_after == 7
    assert "Backend unavailable" in down.value.detail
    assert "Nothing you did caused this" in down.value.fix


def test_it_never_sends_the_token_to_a_redirect(stub, connector):
    stub.answers.append((302, {"Location": stub.url + "/elsewhere"}, {}))
    api = GoogleApi(connector, "Google Ads", "ads")

    with pytest.raises(PlatformError) as redirected:
        api.call("GET", "/customers:listAccessibleCustomers", "ya29.secret")

    assert redirected.value.code == "unexpected_redirect"


# ------------------------------------------------------------ the catalogue


def test_it_appears_in_the_api_and_the_template_editor(client, agency, owner, auth):
    listed = client.get("/api/v1/platforms", headers=bearer(api_key(agency)))
    google = next(p for p in listed.get_json()["data"] if p["id"] == "google")
    assert google["name"] == "Google"
    types = {t["id"]: [p["id"] for p in t["permissions"]] for t in google["asset_types"]}
    assert types == {
        "ADS_ACCOUNT": ["MANAGER_LINK"],
        "GA4_PROPERTY": [
            "predefinedRoles/viewer",
            "predefinedRoles/analyst",
            "predefinedRoles/editor",
            "predefinedRoles/admin",
        ],
        "GA4_ACCOUNT": [
            "predefinedRoles/viewer",
            "predefinedRoles/analyst",
            "predefinedRoles/editor",
            "predefinedRoles/admin",
        ],
        "TAG_MANAGER_CONTAINER": ["read", "edit", "approve", "publish"],
        "TAG_MANAGER_ACCOUNT": ["user", "admin"],
        "MERCHANT_CENTER_ACCOUNT": ["STANDARD", "READ_ONLY", "ADMIN", "PERFORMANCE_REPORTING"],
        "BUSINESS_PROFILE_LOCATION": ["MANAGER", "OWNER", "SITE_MANAGER"],
        "SEARCH_CONSOLE_PROPERTY": ["siteFullUser", "siteRestrictedUser", "siteOwner"],
    }

    auth.login(owner)
    page = client.get("/app/templates/new").get_data(as_text=True)
    assert 'value="google|GA4_PROPERTY|predefinedRoles/viewer"' in page
    assert 'value="google|ADS_ACCOUNT|MANAGER_LINK"' in page
    assert "Create and change tags in workspaces" in page


def test_every_real_url_is_served_by_the_sandbox(app, connector):
    urls = app.extensions["latchkey_platform_urls"]["google"]
    base = app.config["LATCHKEY_BASE_URL"] + "/sandbox/google/"
    for name, real in connector.real_urls.items():
        parts = urlsplit(real)
        assert urls[name] == base + parts.netloc + parts.path, name
