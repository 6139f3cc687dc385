"""Signing in to LinkedIn, and which of LinkedIn's documented addresses the connector uses.

LinkedIn's Authorization Code Flow documents response_type, client_id,
redirect_uri, state and scope, and a token step with the client's id and
secret in the form, without PKCE; the member's profile is documented only as
`GET /v2/me`. The transcription of those pages is
tests/platform_specs/linkedin/operations.json.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from helpers_sandbox import press_allow

from portal import platforms
from portal.sandbox import core

CLIENT_ID = "sandbox-linkedin"
CLIENT_SECRET = "sandbox-secret-linkedin"


@pytest.fixture
def connector(live_server):
    return platforms.get("linkedin")


@pytest.fixture
def agency_token(live_server):
    return core.sandbox_token(
        "linkedin", "business", name="Northwind Agency", member_name="Sam Rivera"
    )


def callback(app) -> str:
    return app.config["LATCHKEY_BASE_URL"] + "/oauth/linkedin/callback"


def sign_in(app, connector, persona: str = "business") -> dict:
    """LinkedIn's sign-in as Latchkey does it: the documented authorization URL
    (no PKCE: LinkedIn's Authorization Code Flow defines none), then the code
    traded with the client's id and secret in the form (`exchange_code`)."""
    endpoints = connector.oauth_endpoints()
    assert endpoints.pkce is False
    session = OAuth2Session(
        client_id=CLIENT_ID,
        scope=endpoints.scope_separator.join(endpoints.scopes),
        redirect_uri=callback(app),
    )
    url, _state = session.create_authorization_url(endpoints.authorize_url)
    location = press_allow(requests.Session(), url, persona)
    code = parse_qs(urlsplit(location).query)["code"][0]
    return connector.exchange_code(code, "", callback(app))


def test_it_signs_in_and_names_the_agencys_person(app, connector):
    token = sign_in(app, connector)

    identity = connector.agency_identity(token)

    assert token["access_token"].startswith("AQV")
    assert token["scope"] == "r_basicprofile,rw_ads,rw_organization_admin"
    assert identity["name"] == "Maya Okafor"
    assert identity["person_urn"] == "urn:li:person:" + identity["id"]
    assert connector.preflight(token) == []


def test_its_token_endpoint_wants_the_client_secret_in_the_form(app, connector):
    answer = requests.post(
        connector.oauth_endpoints().token_url,
        data={
            "grant_type": "authorization_code",
            "code": "x",
            "redirect_uri": callback(app),
            "client_id": CLIENT_ID,
            "client_secret": "not-the-secret",
        },
        auth=(CLIENT_ID, CLIENT_SECRET),  # HTTP Basic: LinkedIn does not take it
        timeout=10,
    )

    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client"


def test_it_trades_the_code_without_pkce_as_linkedin_documents(app, connector):
    from portal.sandbox.linkedin import oauth as sandbox_oauth

    # LinkedIn's flow defines no PKCE: a challenge sent anyway is ignored.
    with app.test_request_context():
        request = sandbox_oauth._authorize_request(
            {
                "response_type": "code",
                "client_id": CLIENT_ID,
                "scope": "rw_ads",
                "code_challenge": "x" * 43,
                "code_challenge_method": "S256",
            }
        )
    assert request.code_challenge == "" and request.scopes == ("rw_ads",)

    token = sign_in(app, connector)

    assert token["access_token"] and token["expires_at"] > time.time()
    assert set(token) <= {
        "access_token",
        "expires_in",
        "expires_at",
        "refresh_token",
        "refresh_token_expires_in",
        "scope",
    }


def test_it_refreshes_and_keeps_the_same_refresh_token(app, connector):
    token = sign_in(app, connector)

    renewed = connector.refresh_token(token)

    assert renewed["access_token"] != token["access_token"]
    assert renewed["refresh_token"] == token["refresh_token"]
    assert renewed["expires_at"] > time.time() + 50 * 86400
    assert connector.agency_identity(renewed)["name"] == "Maya Okafor"


def test_the_transcribed_description_is_of_the_version_the_connector_sends(connector):

    described = json.loads(
        (Path(__file__).parent / "platform_specs" / "linkedin" / "operations.json").read_text()
    )
    assert described["linkedin_version"] == connector.api_version


def test_it_reads_the_agencys_person_from_the_documented_v2_me(app, connector, agency_token):
    # LinkedIn documents the profile only as GET /v2/me: no /rest/me is served.
    rules = {rule.rule for rule in app.url_map.iter_rules()}
    assert "/sandbox/linkedin/api.linkedin.com/v2/me" in rules
    assert "/sandbox/linkedin/api.linkedin.com/rest/me" not in rules
    assert connector.endpoints()["profile"].endswith("/api.linkedin.com/v2")

    assert connector.agency_identity(agency_token)["name"] == "Sam Rivera"


def test_the_consent_page_url_has_linkedins_parameters_and_no_pkce(app, connector):
    from portal import oauth

    with app.test_request_context():
        url, _state = oauth._session_for(connector).create_authorization_url(
            connector.oauth_endpoints().authorize_url, state="s", code_verifier="v" * 64
        )
    query = parse_qs(urlsplit(url).query)

    assert urlsplit(url).path.endswith("/www.linkedin.com/oauth/v2/authorization")
    assert query["scope"] == ["r_basicprofile rw_ads rw_organization_admin"]
    assert set(query) == {"response_type", "client_id", "redirect_uri", "state", "scope"}
