"""Every response carries the security headers; forms need a CSRF token."""

from __future__ import annotations

import re

import pytest


@pytest.mark.parametrize("path", ["/", "/auth/login", "/does-not-exist", "/static/css/app.css"])
def test_it_sends_security_headers_on_every_response(client, path):
    response = client.get(path)
    csp = response.headers["Content-Security-Policy"]
    assert "object-src 'none'" in csp
    assert "base-uri 'none'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "'unsafe-inline'" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"]
    assert "Strict-Transport-Security" not in response.headers  # only in production


def test_it_uses_a_fresh_nonce_per_request_and_no_inline_script(client):
    first = client.get("/")
    second = client.get("/")
    nonce = re.search(r"'nonce-([^']+)'", first.headers["Content-Security-Policy"]).group(1)
    other = re.search(r"'nonce-([^']+)'", second.headers["Content-Security-Policy"]).group(1)
    assert nonce != other
    html = first.get_data(as_text=True)
    # Scripts only from files; no inline handlers.
    assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html) is None
    assert re.search(r"\son(click|load|change|submit)=", html) is None


def test_it_sends_hsts_and_secure_cookies_in_production(tmp_path, monkeypatch):
    from cryptography.fernet import Fernet

    from portal import create_app

    monkeypatch.setenv("LATCHKEY_INSTANCE_PATH", str(tmp_path))
    app = create_app(
        {
            "ENV": {
                "LATCHKEY_ENV": "production",
                "SECRET_KEY": "x" * 40,
                "LATCHKEY_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
                "LATCHKEY_BASE_URL": "https://latchkey.example.com",
                "LATCHKEY_SANDBOX": "0",
                "DATABASE_URL": f"sqlite:///{tmp_path / 'p.sqlite3'}",
            }
        }
    )
    response = app.test_client().get("/healthz")
    assert "max-age=" in response.headers["Strict-Transport-Security"]
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["SESSION_COOKIE_HTTPONLY"]
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_it_refuses_a_form_post_without_csrf_token(client):
    response = client.post("/language", data={"locale": "fr", "next": "/"})
    assert response.status_code == 400
    assert "session expired" in response.get_data(as_text=True).lower()


def test_it_accepts_the_csrf_token_from_the_htmx_header(client):
    page = client.get("/").get_data(as_text=True)
    token = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)
    response = client.post(
        "/language", data={"locale": "fr", "next": "/"}, headers={"X-CSRFToken": token}
    )
    assert response.status_code == 302


def test_it_switches_language_and_keeps_the_choice(client):
    page = client.get("/").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    client.post("/language", data={"locale": "fr", "next": "/", "csrf_token": token})
    html = client.get("/").get_data(as_text=True)
    assert '<html lang="fr">' in html


def test_it_ignores_an_unknown_locale_and_a_foreign_next(client):
    page = client.get("/").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post(
        "/language", data={"locale": "xx", "next": "https://evil.example", "csrf_token": token}
    )
    assert response.status_code == 302
    assert response.location == "/"
    assert '<html lang="en">' in client.get("/").get_data(as_text=True)


def test_it_answers_unknown_pages_with_a_helpful_404(client):
    response = client.get("/nowhere")
    assert response.status_code == 404
    assert "Check the address" in response.get_data(as_text=True)
