"""The Pinterest connector's HTTP failures: an expired sign-in, a missing
scope, Pinterest's rate limit (against the emulated Pinterest), and what
`portal.platforms.http` does with closed or silent ports and odd answers (a
tiny stub server).
"""

from __future__ import annotations

import logging
import socket
import time
from contextlib import closing

import pytest
from helpers_pinterest import Stub, persona_token, point_api_at

from portal import platforms
from portal.platforms import http
from portal.platforms.base import PlatformError
from portal.sandbox import core


@pytest.fixture
def connector(live_server):
    return platforms.get("pinterest")


@pytest.fixture
def stub():
    server = Stub()
    yield server
    server.server.shutdown()
    server.server.server_close()


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
    point_api_at(app, monkeypatch, f"http://127.0.0.1:{_closed_port()}/v5")

    with pytest.raises(PlatformError) as unreachable:
        connector.preflight({"access_token": "pina_x"})

    assert unreachable.value.code == "unreachable" and unreachable.value.retryable
    assert "could not reach Pinterest" in unreachable.value.message


def test_it_gives_up_on_a_silent_pinterest_after_its_timeout(connector, app, monkeypatch):
    with closing(socket.socket()) as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # accepts connections, never answers
        point_api_at(app, monkeypatch, f"http://127.0.0.1:{silent.getsockname()[1]}/v5")
        monkeypatch.setattr(connector, "timeout", 0.3)
        started = time.monotonic()

        with pytest.raises(PlatformError) as timed_out:
            connector.preflight({"access_token": "pina_x"})

    assert time.monotonic() - started < 5
    assert timed_out.value.code == "timeout" and timed_out.value.retryable
    assert "took too long" in timed_out.value.message


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
