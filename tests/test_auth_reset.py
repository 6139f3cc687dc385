"""Password reset: no enumeration, single-use hashed links that expire, sessions ended."""

from __future__ import annotations

import re
import secrets
from datetime import timedelta

from conftest import PASSWORD, Auth
from helpers_auth import (
    NEW_PASSWORD,
    events,
    html,
    link_in,
    post_form,
    relative,
    sign_in,
)
from sqlalchemy import select

from portal.crypto import token_hash
from portal.extensions import db
from portal.models import PasswordReset
from portal.models.base import utcnow

REQUEST = "/auth/reset"


def _request_reset(client, email: str, **kwargs):
    return post_form(client, REQUEST, {"email": email}, **kwargs)


def _reset_path(app, outbox) -> str:
    base = app.config["LATCHKEY_BASE_URL"]
    [message] = outbox()
    return relative(link_in(message, base, "/auth/reset/"), base)


def _choose(client, path: str, password: str = NEW_PASSWORD, confirm: str | None = None, **kw):
    return post_form(client, path, {"password": password, "confirm": confirm or password}, **kw)


def _without_nonces(page: str) -> str:
    return re.sub(r'(Nonce|X-CSRFToken)": "[^"]+"', "", page)


def test_it_resets_the_password_end_to_end_from_the_emailed_link(client, app, owner, outbox):
    response = _request_reset(client, "Owner@Acme.test")
    assert response.status_code == 200
    assert "If an account exists for owner@acme.test" in html(response)

    [message] = outbox()
    assert message["To"] == owner.email
    assert message["Subject"] == "Reset your Latchkey password"
    html_part = message.get_body(preferencelist=("html",)).get_content()
    path = _reset_path(app, outbox)
    assert path in html_part

    form = client.get(path)
    assert form.status_code == 200
    assert form.headers["Referrer-Policy"] == "no-referrer"
    assert owner.email in html(form)

    response = _choose(client, path)
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/auth/login")

    assert sign_in(client, owner.email, PASSWORD).status_code == 422
    assert sign_in(client, owner.email, NEW_PASSWORD).status_code == 303
    assert [e.action for e in events("auth.password_reset")] == ["auth.password_reset"]
    assert len(events("auth.password_reset_requested")) == 1


def test_it_gives_the_same_answer_for_an_unknown_email_and_sends_nothing(client, owner, outbox):
    known = _request_reset(client, owner.email)
    unknown = _request_reset(client, "nobody@acme.test")

    assert unknown.status_code == known.status_code == 200
    assert _without_nonces(html(unknown)).replace("nobody@acme.test", "X") == _without_nonces(
        html(known)
    ).replace(owner.email, "X")
    assert len(outbox()) == 1


def test_it_stores_only_a_hash_of_the_token(client, app, owner, outbox):
    _request_reset(client, owner.email)
    token = _reset_path(app, outbox).rsplit("/", 1)[1]

    stored = db.session.execute(select(PasswordReset)).scalar_one()
    assert len(token) >= 43  # 256 bits, url-safe base64
    assert stored.token_hash == token_hash(token)
    assert token not in stored.token_hash
    assert stored.expires_at - stored.created_at == timedelta(hours=1)


def test_it_builds_the_link_from_the_base_url_not_the_host_header(client, app, owner, outbox):
    evil = "http://evil.example"
    page = html(client.get(REQUEST, base_url=evil))
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = client.post(REQUEST, data={"csrf_token": token, "email": owner.email}, base_url=evil)
    assert response.status_code == 200

    [message] = outbox()
    body = message.get_body(preferencelist=("plain",)).get_content()
    assert app.config["LATCHKEY_BASE_URL"] + "/auth/reset/" in body
    assert "evil.example" not in body


def test_it_refuses_a_link_that_was_already_used_with_410(client, app, owner, outbox):
    _request_reset(client, owner.email)
    path = _reset_path(app, outbox)
    assert _choose(client, path).status_code == 303

    again = client.get(path)
    assert again.status_code == 410
    assert "This link was already used" in html(again)
    assert 'href="/auth/reset"' in html(again)
    reuse = _choose(client, path, "another fine passphrase 99", page="/auth/reset")
    assert reuse.status_code == 410


def test_it_refuses_an_expired_link_with_410(client, app, owner, outbox):
    _request_reset(client, owner.email)
    path = _reset_path(app, outbox)
    reset = db.session.execute(select(PasswordReset)).scalar_one()
    reset.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()

    response = client.get(path)

    assert response.status_code == 410
    assert "This link has expired" in html(response)
    assert "Ask for a new link" in html(response)


def test_it_refuses_an_unknown_link_with_400(client):
    response = client.get("/auth/reset/not-a-real-token")

    assert response.status_code == 400
    assert "This link is not valid" in html(response)
    assert client.get("/auth/reset/" + "x" * 500).status_code == 400


def test_it_ends_every_session_of_the_account_after_a_reset(client, app, owner, outbox):
    elsewhere = app.test_client()
    Auth(elsewhere).login(owner)
    assert elsewhere.get("/app/").status_code == 200

    _request_reset(client, owner.email)
    _choose(client, _reset_path(app, outbox))

    assert elsewhere.get("/app/").status_code == 302


def test_it_makes_older_links_useless_once_one_is_used(client, app, owner, outbox):
    base = app.config["LATCHKEY_BASE_URL"]
    _request_reset(client, owner.email)
    _request_reset(client, owner.email)
    first, second = (relative(link_in(m, base, "/auth/reset/"), base) for m in outbox())

    assert _choose(client, second).status_code == 303
    assert client.get(first).status_code == 410


def test_it_shows_password_policy_errors_on_the_reset_form(client, app, owner, outbox):
    _request_reset(client, owner.email)
    path = _reset_path(app, outbox)

    response = _choose(client, path, "owner acme", "owner acme")

    assert response.status_code == 422
    assert "Use at least 12 characters." in html(response)
    assert client.get(path).status_code == 200  # still usable


def test_it_sends_at_most_three_reset_emails_an_hour_to_one_address(client, owner, outbox):
    for _ in range(5):
        assert _request_reset(client, owner.email).status_code == 200

    assert len(outbox()) == 3


def test_it_rate_limits_reset_requests_per_ip(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "AUTH_IP_RATE_LIMIT", "3 per 15 minutes")
    for n in range(3):
        assert _request_reset(client, f"someone{n}@acme.test").status_code == 200

    response = _request_reset(client, "someone@acme.test")

    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0


def test_it_lets_a_paused_account_sign_in_after_a_reset(client, app, owner, outbox):
    for _ in range(10):
        sign_in(client, owner.email, "wrong wrong wrong wrong")
    assert sign_in(client, owner.email).status_code == 429

    _request_reset(client, owner.email)
    _choose(client, _reset_path(app, outbox))

    assert sign_in(client, owner.email, NEW_PASSWORD).status_code == 303


def test_it_rate_limits_guessing_reset_and_invitation_links_per_ip(client, app, monkeypatch):
    """The token is in the URL: opening made-up links is limited like the client links."""
    monkeypatch.setitem(app.config, "AUTH_TOKEN_PAGE_RATE_LIMIT", "4 per 15 minutes")
    for n in range(4):
        path = "/auth/reset/" if n % 2 else "/auth/invite/"
        assert client.get(path + secrets.token_urlsafe(32)).status_code != 429

    for path in ("/auth/reset/", "/auth/invite/"):
        answer = client.get(path + secrets.token_urlsafe(32))
        assert answer.status_code == 429, path
        assert int(answer.headers["Retry-After"]) > 0
