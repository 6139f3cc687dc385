"""OAuth with the platforms: PKCE (where the platform defines it), single-use
state bound to one browser, a fixed redirect URI, token refresh, and the
client's token kept only until the grant."""

from __future__ import annotations

import base64
import hashlib
import json
import time

import pytest
from helpers_requests import (
    audit_actions,
    consent,
    csrf_from,
    make_request,
    path_of,
    query_params,
    sandbox_connection,
)
from sqlalchemy import select

from portal import kv, oauth, platforms
from portal.extensions import db
from portal.models import AuditEvent
from portal.platforms.base import PlatformError

pytestmark = pytest.mark.usefixtures("live_server")


@pytest.fixture
def link(agency, owner):
    sandbox_connection(agency)
    return make_request(agency, owner)


# Google's OAuth pages define PKCE; Pinterest's description defines none.
GOOGLE_ITEMS = [
    {"platform": "google", "asset_type": "TAG_MANAGER_CONTAINER", "permissions": ["publish"]}
]


def start(client, token: str, platform: str = "pinterest", **kwargs) -> str:
    """Press Connect <platform> on the link; the platform's sign-in address."""
    html = client.get(f"/r/{token}", **kwargs).get_data(as_text=True)
    answer = client.post(
        f"/r/{token}/p/{platform}/connect", data={"csrf_token": csrf_from(html)}, **kwargs
    )
    assert answer.status_code == 303
    return answer.headers["Location"]


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def rejections() -> list[AuditEvent]:
    return list(
        db.session.execute(
            select(AuditEvent).where(AuditEvent.action == "oauth.state_rejected")
        ).scalars()
    )


def test_it_sends_a_random_state_and_pkce_s256_where_the_platform_defines_it(
    client, link, agency, owner
):
    access_request, token = link
    params = query_params(start(client, token))
    assert params["response_type"] == "code"
    assert params["scope"] == (
        "user_accounts:read,biz_access:read,biz_access:write,ads:read,boards:read,catalogs:read"
    )
    assert "code_challenge" not in params  # Pinterest's description defines no PKCE
    state = params["state"]
    assert len(state) >= 43
    record = json.loads(kv.get(oauth._state_key(state)))
    assert record["purpose"] == "client"
    assert record["subject_id"] == access_request.id
    # Another press gives another state.
    assert query_params(start(client, token))["state"] != state

    _google_request, google_token = make_request(agency, owner, items=GOOGLE_ITEMS)
    google = query_params(start(client, google_token, "google"))
    verifier = json.loads(kv.get(oauth._state_key(google["state"])))["code_verifier"]
    assert google["code_challenge_method"] == "S256"
    assert google["code_challenge"] == s256(verifier)


def test_it_builds_the_redirect_uri_from_the_base_url_not_the_host_header(client, link, app):
    _access_request, token = link
    location = start(client, token, base_url="http://evil.example")
    expected = f"{app.config['LATCHKEY_BASE_URL']}/oauth/pinterest/callback"
    assert query_params(location)["redirect_uri"] == expected
    assert oauth.redirect_uri("pinterest") == expected


def test_it_keeps_the_state_ten_minutes_only(client, link, app):
    _access_request, token = link
    state = query_params(start(client, token))["state"]
    ttl = kv.redis_connection().ttl(kv.PREFIX + oauth._state_key(state))
    assert 0 < ttl <= oauth.STATE_TTL


def test_it_rejects_a_callback_without_state(client, link):
    answer = client.get("/oauth/pinterest/callback?code=abc")
    assert answer.status_code == 400
    assert "cannot be used" in answer.get_data(as_text=True)
    [event] = rejections()
    assert event.details == {"platform": "pinterest", "reason": "missing"}
    assert answer.headers["Referrer-Policy"] == "no-referrer"


def test_it_rejects_a_reused_state(client, link):
    _access_request, token = link
    callback = consent(client, start(client, token))
    first = client.get(path_of(callback))
    assert first.status_code == 303
    # Back, then Allow again, in the browser that signed in: it cannot sign in
    # twice, and is taken back to its own step on the link (never a bare 400).
    again = client.get(path_of(callback))
    assert again.status_code == 303
    assert again.headers["Location"].endswith(f"/r/{token}/p/pinterest")
    [event] = rejections()
    assert event.details["reason"] == "unknown_or_used"


def test_it_rejects_a_state_started_in_another_browser(app, link, agency, owner):
    """A state for another link (started elsewhere) never works in this browser."""
    _access_request, token = link
    _other_request, other_token = make_request(agency, owner, client_email="other@client.test")
    victim, attacker = app.test_client(), app.test_client()
    start(victim, token)
    callback = consent(attacker, start(attacker, other_token))
    answer = victim.get(path_of(callback))
    assert answer.status_code == 400
    assert "another browser" in answer.get_data(as_text=True)
    [event] = rejections()
    assert event.details["reason"] == "foreign"
    assert event.agency_id == agency.id
    # Used up: the attacker cannot replay it either.
    assert attacker.get(path_of(callback)).status_code == 400


def test_it_rejects_an_expired_state(client, link, monkeypatch):
    _access_request, token = link
    callback = consent(client, start(client, token))
    real_time = time.time
    monkeypatch.setattr(oauth.time, "time", lambda: real_time() + oauth.STATE_TTL + 5)
    answer = client.get(path_of(callback))
    # Refused, and the browser that started it goes back to its step to sign in again.
    assert answer.status_code == 303
    assert answer.headers["Location"].endswith(f"/r/{token}/p/pinterest")
    assert rejections()[0].details["reason"] == "expired"


def test_it_rejects_a_state_for_another_platform(client, link, monkeypatch):
    _access_request, token = link
    callback = consent(client, start(client, token))
    state = query_params(callback)["state"]
    record = json.loads(kv.get(oauth._state_key(state)))
    record["platform"] = "meta"
    kv.put(oauth._state_key(state), json.dumps(record), 60)
    answer = client.get(path_of(callback))
    assert answer.status_code == 400
    assert rejections()[0].details["reason"] == "wrong_platform"


def test_it_exchanges_the_code_with_the_verifier_and_keeps_the_token_encrypted(client, link):
    access_request, token = link
    callback = consent(client, start(client, token))
    assert "code" in query_params(callback)
    back = client.get(path_of(callback))
    assert back.status_code == 303
    assert back.headers["Referrer-Policy"] == "no-referrer"
    kept = oauth.client_token(access_request.id, "pinterest")
    assert kept["access_token"].startswith("pina_")
    raw = kv.get(f"client-token:{access_request.id}:pinterest")
    assert kept["access_token"] not in raw
    assert "oauth.client_connected" in audit_actions(access_request.agency_id)


def test_it_refuses_a_code_without_its_pkce_verifier(client, agency, owner):
    """The platform checks the verifier: a state record with another one fails."""
    sandbox_connection(agency)  # the agency's own Google connection, needed for a request
    access_request, token = make_request(agency, owner, items=GOOGLE_ITEMS)
    callback = consent(client, start(client, token, "google"))
    state = query_params(callback)["state"]
    record = json.loads(kv.get(oauth._state_key(state)))
    record["code_verifier"] = "x" * 64
    kv.put(oauth._state_key(state), json.dumps(record), 60)
    back = client.get(path_of(callback))
    assert back.status_code == 303
    assert oauth.client_token(access_request.id, "google") is None
    page = client.get(back.headers["Location"]).get_data(as_text=True)
    assert "Connect Google" in page


def test_it_refreshes_a_token_through_the_connector(agency):
    connection = sandbox_connection(agency)
    from portal import crypto

    old = {
        "access_token": crypto.decrypt(connection.access_token_encrypted),
        "refresh_token": crypto.decrypt(connection.refresh_token_encrypted),
    }
    new = platforms.get("pinterest").refresh_token(old)
    assert new["access_token"] and new["access_token"] != old["access_token"]
    assert new["refresh_token"]
    assert new["expires_at"] > time.time()
    generic = oauth.refresh(platforms.get("pinterest"), new)
    assert generic["access_token"] not in (new["access_token"], old["access_token"])


def test_it_explains_a_refresh_that_the_platform_refuses(agency):
    sandbox_connection(agency)
    with pytest.raises(PlatformError) as error:
        oauth.refresh(platforms.get("pinterest"), {"refresh_token": "pinr_not-a-real-one"})
    assert error.value.message
    assert error.value.fix
