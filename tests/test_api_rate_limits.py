"""API rate limits: a proved key spends its own budget, failed authentications
spend their address's budget, and neither can be spent by someone else."""

from __future__ import annotations

import secrets

from test_api_support import api_key, bearer

from portal.api.keys import prefix_of

GUESSER = {"REMOTE_ADDR": "203.0.113.9"}
OWNER = {"REMOTE_ADDR": "198.51.100.20"}


def _get(client, key: str | None, environ: dict):
    headers = bearer(key) if key else {}
    return client.get("/api/v1/platforms", headers=headers, environ_base=environ)


def test_guesses_carrying_a_keys_prefix_never_spend_that_keys_budget(
    app, client, agency, monkeypatch
):
    monkeypatch.setitem(app.config, "API_RATE_LIMIT", "3 per minute")
    monkeypatch.setitem(app.config, "API_AUTH_FAILURE_LIMIT", "1000 per minute")
    key = api_key(agency)
    prefix = prefix_of(key)
    for _ in range(10):
        guess = f"lk_{prefix}_{secrets.token_urlsafe(32)}"
        assert _get(client, guess, GUESSER).status_code == 401
    # The real key still has its whole budget, then its own limit applies.
    for _ in range(3):
        assert _get(client, key, OWNER).status_code == 200
    limited = _get(client, key, OWNER)
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["Retry-After"]) <= 60


def test_failed_authentications_are_counted_per_address_whatever_the_prefix(
    app, client, agency, monkeypatch
):
    monkeypatch.setitem(app.config, "API_AUTH_FAILURE_LIMIT", "5 per minute")
    key = api_key(agency)
    codes = []
    for _ in range(7):
        guess = f"lk_{secrets.token_hex(6)}_{secrets.token_urlsafe(32)}"
        codes.append(_get(client, guess, GUESSER).status_code)
    assert codes == [401] * 5 + [429] * 2
    stopped = _get(client, key, GUESSER)
    assert stopped.status_code == 429 and stopped.mimetype == "application/problem+json"
    assert 1 <= int(stopped.headers["Retry-After"]) <= 60
    assert "invalid API key" in stopped.get_json()["detail"]
    # Another address, with the real key, is not affected.
    assert _get(client, key, OWNER).status_code == 200


def test_calls_without_a_key_count_as_failures_too(app, client, agency, monkeypatch):
    monkeypatch.setitem(app.config, "API_AUTH_FAILURE_LIMIT", "3 per minute")
    codes = [_get(client, None, GUESSER).status_code for _ in range(4)]
    assert codes == [401, 401, 401, 429]


def test_the_openapi_document_is_limited_per_address(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "API_RATE_LIMIT", "2 per minute")
    codes = [client.get("/api/v1/openapi.json", environ_base=GUESSER).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    assert client.get("/api/v1/openapi.json", environ_base=OWNER).status_code == 200
