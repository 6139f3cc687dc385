"""Every response carries the security headers; forms need a CSRF token.

Every route of the URL map is requested (GET for real, signed in where it
needs it; other methods too), along with the error pages (400, 403, 404, 405,
410, 429, 500) and the sandbox, and each answer is checked: a CSP with a fresh
nonce and no inline script, nosniff, a Referrer-Policy (no-referrer where a
token is in the URL), no framing, no-store unless the answer is a static file
or a logo, and, through a real server, no software version in `Server`.
"""

from __future__ import annotations

import re
import secrets

import pytest
import requests
from test_route_protection import API_SCOPES, ROLES, _objects

# Answers that may be kept in a cache, and why.
CACHEABLE = {
    "static": "CSS, JavaScript, fonts and images, the same for everyone",
    "admin.branding_logo": "the agency's own logo (private cache only)",
    "client.logo": "the agency's logo on its links (private cache only)",
}
# Answers above 499 that are right in the tests, and why.
EXPECTED_5XX = {"ops.readyz": "503: the test database has no migration applied"}
# Paths that carry a secret: nothing may tell another site about them.
TOKEN_PATHS = ("/r/", "/auth/reset/", "/auth/invite/")
_SCRIPT = re.compile(r"<script\b([^>]*)>", re.IGNORECASE)
_STYLE = re.compile(r"<style\b([^>]*)>", re.IGNORECASE)
_INLINE_HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE)


def assert_secure(response, path: str, endpoint: str | None = None, method: str = "GET") -> None:
    """The headers every answer of Latchkey carries."""
    where = f"{method} {path} ({response.status_code})"
    headers = response.headers
    csp = headers.get("Content-Security-Policy", "")
    assert csp, f"{where}: no Content-Security-Policy"
    assert "'unsafe-inline'" not in csp.split("style-src")[0], f"{where}: unsafe-inline script"
    if "default-src 'none'" in csp:  # a locked-down file (an uploaded logo)
        assert "sandbox" in csp, f"{where}: {csp}"
    else:
        assert re.search(r"script-src 'self' 'nonce-[A-Za-z0-9_-]{16,}'", csp), f"{where}: {csp}"
        assert "frame-ancestors 'none'" in csp, f"{where}: {csp}"
        assert "object-src 'none'" in csp and "base-uri 'none'" in csp, f"{where}: {csp}"
    assert headers.get("X-Content-Type-Options") == "nosniff", where
    assert headers.get("X-Frame-Options") == "DENY", where
    referrer = headers.get("Referrer-Policy")
    assert referrer, f"{where}: no Referrer-Policy"
    if path.startswith(TOKEN_PATHS):
        assert referrer == "no-referrer", f"{where}: {referrer}"
    cache = headers.get("Cache-Control", "")
    if endpoint == "static":
        pass
    elif endpoint in CACHEABLE:
        assert "no-store" in cache or "private" in cache, f"{where}: {cache}"
    else:
        assert "no-store" in cache, f"{where}: Cache-Control {cache!r}"
    assert "Strict-Transport-Security" not in headers  # only in production
    assert "Server" not in headers or not re.search(r"\d", headers["Server"]), where
    if response.mimetype == "text/html":
        assert_no_inline_script(response.get_data(as_text=True), csp, where)


def assert_no_inline_script(html: str, csp: str, where: str) -> None:
    nonce = re.search(r"'nonce-([^']+)'", csp).group(1)
    for attributes in _SCRIPT.findall(html):
        assert "src=" in attributes or f'nonce="{nonce}"' in attributes, (
            f"{where}: <script{attributes}>"
        )
    for attributes in _STYLE.findall(html):
        assert f'nonce="{nonce}"' in attributes, f"{where}: <style{attributes}>"
    assert _INLINE_HANDLER.search(html) is None, f"{where}: an inline on...= handler"


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
                "LATCHKEY_AUDIT_KEYS": secrets.token_urlsafe(32),
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


# ------------------------------------------------------- every route in the map

# Values for route arguments that are not ids of Acme's objects.
ARGUMENT_VALUES = {
    "platform": "pinterest",
    "code": "LK-2345-6789",
    "job_id": "no-such-job",
    "filename": "css/app.css",
    "rest": "no/such/call",
}


def _build(rule, ids: dict[str, int], token: str) -> str:
    from test_route_protection import API_OBJECTS, OBJECT_FACTORIES
    from werkzeug.routing import IntegerConverter

    values = {}
    for argument in rule.arguments:
        if argument == "token":
            values[argument] = token
        elif argument in OBJECT_FACTORIES:
            values[argument] = ids[OBJECT_FACTORIES[argument]]
        elif argument == "id" and rule.rule.startswith("/api/"):
            collection = next(c for c in API_OBJECTS if rule.rule.startswith(c))
            values[argument] = ids[API_OBJECTS[collection]]
        elif argument in ARGUMENT_VALUES:
            values[argument] = ARGUMENT_VALUES[argument]
        elif isinstance(rule._converters[argument], IntegerConverter):
            values[argument] = 1
        else:
            values[argument] = "549755885175"  # an id the emulated platforms know
    return rule.build(values)[1]


def _every_route(app):
    rules = sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint))
    gets = [(rule, "GET") for rule in rules if "GET" in rule.methods]
    others = [
        (rule, method)
        for rule in rules
        for method in sorted(rule.methods - {"GET", "HEAD", "OPTIONS"})
    ]
    return gets + others  # pages first: later posts may revoke or delete things


@pytest.fixture
def world(app, agency, owner):
    """Acme's objects, a live link and an API key that can write."""
    from helpers_requests import make_request

    from portal.api.keys import create_key

    ids = _objects(agency, owner)
    _request, token = make_request(agency, owner)
    _key, api_key = create_key(agency.id, "headers", scopes=["read", "write"])
    return {"ids": ids, "token": token, "api_key": api_key}


def test_every_route_answers_with_the_security_headers_signed_in(app, client, auth, owner, world):
    """As the owner (the API with a key, the link with its token), every method of every route."""
    from helpers_requests import csrf_from

    auth.login(owner)
    csrf = csrf_from(client.get("/app/").get_data(as_text=True))
    api = {"Authorization": f"Bearer {world['api_key']}"}
    checked = 0
    for rule, method in _every_route(app):
        path = _build(rule, world["ids"], world["token"])
        headers = api if rule.endpoint in API_SCOPES else {"X-CSRFToken": csrf}
        kwargs = {"json": {}} if rule.endpoint in API_SCOPES and method != "GET" else {}
        response = client.open(path, method=method, headers=headers, **kwargs)
        ok = response.status_code < 500 or rule.endpoint in EXPECTED_5XX
        assert ok, (method, path, response.status_code)
        assert_secure(response, path, rule.endpoint, method)
        checked += 1
    assert checked >= 100


def test_every_route_answers_with_the_security_headers_signed_out(app, client, world):
    """Redirects to sign-in, 401s of the API, 400s of forms without a CSRF token."""
    checked = 0
    for rule, method in _every_route(app):
        path = _build(rule, world["ids"], secrets.token_urlsafe(32))
        response = client.open(path, method=method)
        ok = response.status_code < 500 or rule.endpoint in EXPECTED_5XX
        assert ok, (method, path, response.status_code)
        assert_secure(response, path, rule.endpoint, method)
        if rule.endpoint in ROLES and method == "GET":
            assert response.status_code == 302, (method, path)
        checked += 1
    assert checked >= 100


def test_every_signed_in_page_is_html_with_only_nonce_scripts(app, client, auth, owner, world):
    """The HTML of every signed-in page: scripts from files or with this answer's nonce."""
    auth.login(owner)
    pages = 0
    for rule, method in _every_route(app):
        if method != "GET" or rule.endpoint not in ROLES:
            continue
        path = _build(rule, world["ids"], world["token"])
        response = client.get(path)
        body = response.get_data(as_text=True) if response.mimetype == "text/html" else ""
        if response.status_code == 200 and "<html" in body:  # a full page, not a fragment
            assert "<script" in body, path  # htmx at least
            pages += 1
    assert pages >= 25


# ------------------------------------------------------------------ error pages


def test_error_pages_carry_the_security_headers(app, client, auth, agency, owner, viewer, world):
    from helpers_requests import csrf_from

    from portal.services.requests import find_by_token, revoke_request

    answers = {}
    answers[404] = ("/nowhere", client.get("/nowhere"))
    answers[405] = ("/auth/logout", client.get("/auth/logout"))
    answers[400] = ("/language", client.post("/language", data={"locale": "fr"}))
    auth.login(viewer)
    answers[403] = ("/app/webhooks", client.get("/app/webhooks"))
    auth.logout()
    revoke_request(find_by_token(world["token"]))
    link = f"/r/{world['token']}"
    answers[410] = (link, client.get(link))
    api = "/api/v1/access-requests"
    answers[401] = (api, client.get(api))

    for status, (path, response) in answers.items():
        assert response.status_code == status, (status, path)
        assert_secure(response, path)
    body = answers[404][1].get_data(as_text=True)
    assert csrf_from(body)  # the full page, language switcher included


def test_the_429_page_carries_the_security_headers(app, client):
    from portal.client import MISSED_LINKS_LIMIT

    limit = int(MISSED_LINKS_LIMIT.split("/")[0])
    for _attempt in range(limit):
        client.get(f"/r/{secrets.token_urlsafe(32)}")
    path = f"/r/{secrets.token_urlsafe(32)}"
    response = client.get(path)
    assert response.status_code == 429
    assert response.headers["Retry-After"]
    assert_secure(response, path, "client.welcome")


def test_the_500_page_carries_the_security_headers(app, client, monkeypatch):
    def broken():
        raise RuntimeError("a bug")

    monkeypatch.setitem(app.view_functions, "main.index", broken)
    response = client.get("/")
    assert response.status_code == 500
    assert "Something went wrong on our side" in response.get_data(as_text=True)
    assert_secure(response, "/", "main.index")


def test_the_sandbox_consent_page_carries_the_security_headers(app, client, live_server):
    from portal.platforms import credentials

    pinterest = credentials("pinterest")
    path = "/sandbox/pinterest/www.pinterest.com/oauth/"
    response = client.get(
        path,
        query_string={
            "response_type": "code",
            "client_id": pinterest["client_id"],
            "redirect_uri": f"{live_server.url}/oauth/pinterest/callback",
            "scope": "user_accounts:read",
            "state": "s" * 32,
            "code_challenge": "c" * 43,
            "code_challenge_method": "S256",
        },
    )
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert "Allow" in response.get_data(as_text=True)
    assert_secure(response, path, "sandbox.pinterest_authorize")


# ----------------------------------------------------------------- real servers


def test_gunicorn_serving_the_app_announces_no_software_version(tmp_path):
    """The production server, for real: one gunicorn process on a free port."""
    import os
    import subprocess
    import sys
    import time
    from pathlib import Path

    from conftest import _free_port, _port_open

    root = Path(__file__).resolve().parent.parent
    port = _free_port()
    config = tmp_path / "gunicorn.conf.py"
    config.write_text("")  # gunicorn's defaults, not the deployment's settings
    env = {
        **os.environ,
        "LATCHKEY_ENV": "development",
        "LATCHKEY_SANDBOX": "0",
        "LATCHKEY_INSTANCE_PATH": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'g.sqlite3'}",
    }
    for name in ("REDIS_URL", "LATCHKEY_BASE_URL"):
        env.pop(name, None)
    command = [sys.executable, "-m", "gunicorn", "-c", str(config), "-w", "1"]
    command.extend(["-b", f"127.0.0.1:{port}", "wsgi:app"])
    server = subprocess.Popen(
        command,
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while not _port_open("127.0.0.1", port):
            assert server.poll() is None, server.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.1)
        paths = ("/", "/auth/login", "/static/css/app.css", "/nowhere", "/api/v1/openapi.json")
        for number, path in enumerate(paths):
            # The port opens before gunicorn's worker has imported the app: the first
            # answer may take a while on a busy machine.
            wait = 90 if number == 0 else 15
            response = requests.get(f"http://127.0.0.1:{port}{path}", timeout=wait)
            assert response.headers.get("Server") == "gunicorn", (path, response.headers)
            assert response.headers["X-Content-Type-Options"] == "nosniff", path
            assert response.headers["X-Frame-Options"] == "DENY", path
    finally:
        server.terminate()
        server.wait(timeout=30)
        server.stderr.close()


def test_gunicorn_announces_itself_without_a_version_and_the_app_adds_no_second_server(client):
    import gunicorn

    assert gunicorn.SERVER == "gunicorn"  # what gunicorn writes in Server
    response = client.get("/", environ_base={"SERVER_SOFTWARE": gunicorn.SERVER_SOFTWARE})
    assert "Server" not in response.headers


def test_production_sends_hsts_on_every_kind_of_answer(tmp_path, monkeypatch):
    from cryptography.fernet import Fernet

    from portal import create_app

    monkeypatch.setenv("LATCHKEY_INSTANCE_PATH", str(tmp_path))
    app = create_app(
        {
            "ENV": {
                "LATCHKEY_ENV": "production",
                "SECRET_KEY": "y" * 40,
                "LATCHKEY_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
                "LATCHKEY_AUDIT_KEYS": secrets.token_urlsafe(32),
                "LATCHKEY_BASE_URL": "https://latchkey.example.com",
                "LATCHKEY_SANDBOX": "0",
                "DATABASE_URL": f"sqlite:///{tmp_path / 'p.sqlite3'}",
            }
        }
    )
    client = app.test_client()
    for path in ("/", "/auth/login", "/static/css/app.css", "/nowhere", "/api/v1/openapi.json"):
        response = client.get(path)
        assert "max-age=63072000" in response.headers["Strict-Transport-Security"], path
        assert response.headers["X-Frame-Options"] == "DENY", path
    assert client.get("/sandbox/pinterest/www.pinterest.com/oauth/").status_code == 404
