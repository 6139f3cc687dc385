"""The emulated Pinterest's sign-in: consent page, token endpoint, production guard,
state and the agency connection helper."""

from __future__ import annotations

import base64
import html
import re
import secrets
import time
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.fernet import Fernet
from flask import Flask

from portal import ConfigError, create_app
from portal.extensions import db
from portal.models.base import utcnow
from portal.sandbox import SandboxRefused, bp, core
from portal.sandbox.models import SandboxRecord

AUTHORIZE = "/sandbox/pinterest/www.pinterest.com/oauth/"
TOKEN = "/sandbox/pinterest/api.pinterest.com/v5/oauth/token"
USER_ACCOUNT = "/sandbox/pinterest/api.pinterest.com/v5/user_account"
CLIENT_ID = "sandbox-pinterest"
CLIENT_SECRET = "sandbox-secret-pinterest"
PERSONA_NAMES = (
    "Business account",
    "Personal account",
    "No admin rights",
    "Two-factor authentication off",
    "Rate limited",
    "Fails mid-grant",
)


def basic(client_id: str = CLIENT_ID, secret: str = CLIENT_SECRET) -> dict[str, str]:
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def callback_url(app) -> str:
    return app.config["LATCHKEY_BASE_URL"] + "/oauth/pinterest/callback"


def authorize_params(app, **overrides) -> dict[str, str]:
    verifier = overrides.pop("verifier", None)
    params = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": callback_url(app),
        "scope": "user_accounts:read,biz_access:read,ads:read",
        "state": "state-" + secrets.token_hex(4),
    }
    if verifier:
        params["code_challenge"] = core.s256(verifier)
        params["code_challenge_method"] = "S256"
    params.update(overrides)
    return params


def hidden_fields(page: str) -> dict[str, str]:
    found = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page)
    return {name: html.unescape(value) for name, value in found}


def consent(client, app, decision: str = "allow", persona: str = "business", **overrides):
    """Open the consent page and press a button; the redirect response."""
    page = client.get(AUTHORIZE, query_string=authorize_params(app, **overrides))
    assert page.status_code == 200, page.text
    form = hidden_fields(page.text)
    form.update({"persona": persona, "decision": decision})
    return client.post(AUTHORIZE, data=form)


def code_from(response) -> tuple[str, dict[str, list[str]]]:
    assert response.status_code == 302, response.text
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    return query["code"][0], query


def exchange(client, app, code: str, verifier: str | None = None, **overrides):
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": callback_url(app)}
    if verifier:
        form["code_verifier"] = verifier
    headers = overrides.pop("headers", basic())
    form.update(overrides)
    return client.post(TOKEN, data=form, headers=headers)


# ------------------------------------------------------------------ consent page


def test_it_shows_every_persona_and_the_allow_and_deny_buttons(client, app):
    page = client.get(AUTHORIZE, query_string=authorize_params(app))

    assert page.status_code == 200
    text = page.text
    assert "Sandbox" in text and "emulated Pinterest" in text
    for name in PERSONA_NAMES:
        assert re.search(rf">\s*{re.escape(name)}\s*</label>", text), name
    assert re.search(r'value="business"[^>]*checked', text)
    buttons = dict(
        re.findall(r'<button type="submit" name="decision" value="(\w+)"[^>]*>(\w+)<', text)
    )
    assert buttons == {"allow": "Allow", "deny": "Deny"}
    assert 'name="csrf_token"' in text
    # The scopes are explained in words.
    assert "See your ad accounts" in text
    assert "<script" not in text


def test_it_redirects_with_access_denied_when_the_person_denies(client, app):
    params = authorize_params(app)
    page = client.get(AUTHORIZE, query_string=params)
    form = hidden_fields(page.text) | {"persona": "business", "decision": "deny"}

    answer = client.post(AUTHORIZE, data=form)

    assert answer.status_code == 302
    location = answer.headers["Location"]
    assert location.startswith(callback_url(app) + "?")
    query = parse_qs(urlsplit(location).query)
    assert query["error"] == ["access_denied"]
    assert query["state"] == [params["state"]]
    assert "code" not in query
    assert db.session.query(SandboxRecord).filter_by(kind="code").count() == 0


def test_it_redirects_with_a_code_and_the_state_when_the_person_allows(client, app):
    params = authorize_params(app)
    page = client.get(AUTHORIZE, query_string=params)
    form = hidden_fields(page.text) | {"persona": "business", "decision": "allow"}

    code, query = code_from(client.post(AUTHORIZE, data=form))

    assert query["state"] == [params["state"]]
    assert len(code) >= 40
    stored = db.session.query(SandboxRecord).filter_by(kind="code").one()
    assert stored.key == core.token_hash(code)  # only the digest is kept


def test_it_refuses_the_consent_form_without_its_csrf_token(client, app):
    page = client.get(AUTHORIZE, query_string=authorize_params(app))
    form = hidden_fields(page.text) | {"persona": "business", "decision": "allow"}
    del form["csrf_token"]

    answer = client.post(AUTHORIZE, data=form)

    assert answer.status_code == 400
    assert "Location" not in answer.headers


def test_it_refuses_an_unknown_client_without_redirecting(client, app):
    answer = client.get(AUTHORIZE, query_string=authorize_params(app, client_id="someone-else"))

    assert answer.status_code == 400
    assert "Location" not in answer.headers
    assert "unknown client_id" in answer.text


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://evil.test/oauth/pinterest/callback",
        "{base}.evil.test/callback",
        "{base}evil/callback",
        "{base}/callback#fragment",
        "",
    ],
)
def test_it_refuses_a_redirect_uri_outside_the_latchkey_server(client, app, redirect_uri):
    base = app.config["LATCHKEY_BASE_URL"]
    params = authorize_params(app, redirect_uri=redirect_uri.format(base=base))

    answer = client.get(AUTHORIZE, query_string=params)

    assert answer.status_code == 400
    assert "Location" not in answer.headers


def test_it_only_sends_codes_under_the_base_urls_path(app, monkeypatch):
    monkeypatch.setitem(app.config, "LATCHKEY_BASE_URL", "https://agency.example/latchkey")

    assert core.redirect_uri_allowed("https://agency.example/latchkey/oauth/pinterest/callback")
    assert not core.redirect_uri_allowed("https://agency.example/latchkeyevil/callback")
    assert not core.redirect_uri_allowed("https://agency.example/other/callback")
    assert not core.redirect_uri_allowed("http://agency.example/latchkey/oauth/pinterest/callback")


def test_it_sends_unknown_scopes_and_plain_pkce_back_as_errors(client, app):
    bad_scope = client.get(
        AUTHORIZE, query_string=authorize_params(app, scope="ads:read ads:write")
    )
    plain = client.get(
        AUTHORIZE,
        query_string=authorize_params(app, code_challenge="x" * 43, code_challenge_method="plain"),
    )

    assert bad_scope.status_code == 302
    assert parse_qs(urlsplit(bad_scope.headers["Location"]).query)["error"] == ["invalid_scope"]
    assert plain.status_code == 302
    assert parse_qs(urlsplit(plain.headers["Location"]).query)["error"] == ["invalid_request"]


def test_it_makes_a_fresh_world_for_each_browser(client, app):
    first, _ = code_from(consent(client, app))
    client.delete_cookie("session")  # another browser
    second, _ = code_from(consent(client, app))

    tokens = [exchange(client, app, code).get_json() for code in (first, second)]
    ids = [
        client.get(
            USER_ACCOUNT, headers={"Authorization": f"Bearer {t['access_token']}"}
        ).get_json()["id"]
        for t in tokens
    ]

    assert ids[0] != ids[1]
    assert db.session.query(SandboxRecord).filter_by(kind="world").count() == 2


def test_it_keeps_the_same_account_when_the_same_browser_signs_in_again(client, app):
    first, _ = code_from(consent(client, app))
    second, _ = code_from(consent(client, app))

    tokens = [exchange(client, app, code).get_json() for code in (first, second)]
    ids = {
        client.get(
            USER_ACCOUNT, headers={"Authorization": f"Bearer {t['access_token']}"}
        ).get_json()["id"]
        for t in tokens
    }

    assert len(ids) == 1
    assert db.session.query(SandboxRecord).filter_by(kind="world").count() == 1


# --------------------------------------------------------------- token endpoint


def test_it_exchanges_a_code_with_its_pkce_verifier_for_pinterest_shaped_tokens(client, app):
    verifier = secrets.token_urlsafe(48)
    code, _ = code_from(consent(client, app, verifier=verifier))

    answer = exchange(client, app, code, verifier)

    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"
    token = answer.get_json()
    assert token["access_token"].startswith("pina_")
    assert token["refresh_token"].startswith("pinr_")
    assert token["token_type"] == "bearer"
    assert token["expires_in"] == 2592000
    assert token["refresh_token_expires_in"] == 5184000
    assert token["refresh_token_expires_at"] > time.time() + 5184000 - 60
    assert token["response_type"] == "authorization_code"
    assert token["scope"] == "user_accounts:read,biz_access:read,ads:read"
    me = client.get(USER_ACCOUNT, headers={"Authorization": f"Bearer {token['access_token']}"})
    assert me.status_code == 200 and me.get_json()["account_type"] == "BUSINESS"


def test_it_refuses_a_wrong_client_secret(client, app):
    code, _ = code_from(consent(client, app))

    answer = exchange(client, app, code, headers=basic(secret="not-the-secret"))
    no_auth = exchange(client, app, code, headers={})

    assert answer.status_code == 401
    assert answer.get_json()["error"] == "invalid_client"
    assert answer.headers["WWW-Authenticate"].startswith("Basic")
    assert no_auth.status_code == 401


def test_it_accepts_a_code_only_once_and_revokes_what_it_gave(client, app):
    code, _ = code_from(consent(client, app))
    first = exchange(client, app, code)
    assert first.status_code == 200
    access = first.get_json()["access_token"]

    again = exchange(client, app, code)

    assert again.status_code == 400
    assert again.get_json()["error"] == "invalid_grant"
    revoked = client.get(USER_ACCOUNT, headers={"Authorization": f"Bearer {access}"})
    assert revoked.status_code == 401


def test_it_requires_the_pkce_verifier_when_a_challenge_was_given(client, app):
    verifier = secrets.token_urlsafe(48)
    missing, _ = code_from(consent(client, app, verifier=verifier))
    wrong, _ = code_from(consent(client, app, verifier=verifier))

    without = exchange(client, app, missing)
    mismatched = exchange(client, app, wrong, secrets.token_urlsafe(48))

    assert without.status_code == 400
    assert without.get_json()["error"] == "invalid_grant"
    assert "code_verifier is required" in without.get_json()["error_description"]
    assert mismatched.status_code == 400
    assert mismatched.get_json()["error"] == "invalid_grant"
    assert "does not match" in mismatched.get_json()["error_description"]


def test_it_refuses_a_different_redirect_uri_at_the_token_endpoint(client, app):
    code, _ = code_from(consent(client, app))

    answer = exchange(client, app, code, redirect_uri=callback_url(app) + "/other")

    assert answer.status_code == 400
    assert answer.get_json()["error"] == "invalid_grant"


def test_it_refuses_a_code_older_than_ten_minutes(client, app):
    code, _ = code_from(consent(client, app))
    record = core.get_record("pinterest", "code", core.token_hash(code))
    record.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()

    answer = exchange(client, app, code)

    assert answer.status_code == 400
    assert "expired" in answer.get_json()["error_description"]


def test_it_refreshes_tokens_and_renews_the_refresh_token_with_continuous_refresh(client, app):
    code, _ = code_from(consent(client, app))
    token = exchange(client, app, code).get_json()

    renewed = client.post(
        TOKEN,
        data={
            "grant_type": "refresh_token",
            "refresh_token": token["refresh_token"],
            "continuous_refresh": "true",
        },
        headers=basic(),
    )
    reused = client.post(
        TOKEN,
        data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
        headers=basic(),
    )

    assert renewed.status_code == 200
    body = renewed.get_json()
    assert body["access_token"] != token["access_token"]
    assert body["refresh_token"] != token["refresh_token"]
    me = client.get(USER_ACCOUNT, headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert reused.status_code == 400 and reused.get_json()["error"] == "invalid_grant"


def test_it_renews_refresh_tokens_without_being_asked(client, app):
    """Continuous refresh tokens are the only kind Pinterest still supports."""
    code, _ = code_from(consent(client, app))
    token = exchange(client, app, code).get_json()

    renewed = client.post(
        TOKEN,
        data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
        headers=basic(),
    ).get_json()

    assert renewed["refresh_token"] != token["refresh_token"]
    assert renewed["refresh_token_expires_at"] > time.time() + 86400
    assert renewed["response_type"] == "refresh_token"


def test_it_refuses_an_unknown_grant_type(client, app):
    answer = client.post(TOKEN, data={"grant_type": "password"}, headers=basic())

    assert answer.status_code == 400
    assert answer.get_json()["error"] == "unsupported_grant_type"


# ------------------------------------------------------------------ production


def test_it_refuses_to_register_the_sandbox_blueprint_in_production():
    production = Flask("production-like")
    production.config["LATCHKEY_ENV"] = "production"

    with pytest.raises(SandboxRefused):
        production.register_blueprint(bp)


def test_it_will_not_start_production_with_the_sandbox(tmp_path):
    env = {
        "LATCHKEY_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "LATCHKEY_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "LATCHKEY_AUDIT_KEYS": secrets.token_urlsafe(32),
        "LATCHKEY_BASE_URL": "https://latchkey.example",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'prod.sqlite3'}",
        "LATCHKEY_SANDBOX": "1",
    }
    with pytest.raises(ConfigError):
        create_app({"ENV": env})

    # Even if the settings were forced past the configuration check, the
    # blueprint itself refuses to be registered.
    env["LATCHKEY_SANDBOX"] = "0"
    with pytest.raises(SandboxRefused):
        create_app(
            {
                "ENV": env,
                "LATCHKEY_SANDBOX": True,
                "ALLOW_SANDBOX_IN_PRODUCTION_FOR_TESTS": True,
            }
        )


def test_it_stops_serving_if_the_app_is_switched_to_production(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "LATCHKEY_ENV", "production")

    answer = client.get(AUTHORIZE, query_string=authorize_params(app))

    assert answer.status_code == 404


# ----------------------------------------------------------- agency connection


def test_it_connects_an_agency_to_the_sandbox_and_keeps_a_working_connection(client, agency):
    from portal import crypto, platforms
    from portal.models import AgencyConnection
    from portal.sandbox.connect import connect_agency_to_sandbox

    connected = connect_agency_to_sandbox(agency)
    # Every emulated platform whose connector needs the agency's own account.
    assert "pinterest" in connected
    assert set(connected) == {
        c.id for c in platforms.all_connectors() if c.needs_agency_connection
    } & {p.id for p in core.platforms()}

    connection = (
        db.session.query(AgencyConnection)
        .filter_by(agency_id=agency.id, platform="pinterest")
        .one()
    )
    assert connection.status == "active"
    assert connection.identity["name"] == agency.name
    business_id = connection.identity["business_id"]
    assert connection.expires_at > utcnow()
    access = crypto.decrypt(connection.access_token_encrypted)
    assert access not in connection.access_token_encrypted
    employers = client.get(
        "/sandbox/pinterest/api.pinterest.com/v5/businesses/employers",
        headers={"Authorization": f"Bearer {access}"},
    ).get_json()
    assert employers["items"][0]["id"] == business_id
    assert employers["items"][0]["business_roles"] == ["BIZ_ADMIN"]
    before = {
        c.platform: (c.account_id, c.access_token_encrypted)
        for c in db.session.query(AgencyConnection).filter_by(agency_id=agency.id)
    }

    # Running it again (the demo does) keeps every working connection as it is,
    # whether the identity is a business (Pinterest) or a person (LinkedIn).
    assert sorted(connect_agency_to_sandbox(agency)) == sorted(connected)
    db.session.expire_all()
    after = {
        c.platform: (c.account_id, c.access_token_encrypted)
        for c in db.session.query(AgencyConnection).filter_by(agency_id=agency.id)
    }
    assert after == before
