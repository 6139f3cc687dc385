"""Sign-in and sign-out: sessions, timeouts, per-account and per-IP rate limits, audit."""

from __future__ import annotations

import time

from argon2 import PasswordHasher
from conftest import PASSWORD
from helpers_auth import csrf_token, events, html, post_form, sign_in, sign_out
from sqlalchemy import delete

from portal.auth.passwords import verify_password
from portal.extensions import db
from portal.models import Membership

WRONG = "not the right password at all"
OTHER_IP = {"REMOTE_ADDR": "203.0.113.9"}


def _fail(client, email: str, times: int, **kwargs) -> None:
    for attempt in range(times):
        response = sign_in(client, email, WRONG, **kwargs)
        assert response.status_code == 422, f"attempt {attempt + 1}: {response.status_code}"


def _shift_clock(monkeypatch, seconds: int) -> None:
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + seconds)


def test_it_shows_the_sign_in_form_with_remember_me_unticked(client):
    response = client.get("/auth/login")

    assert response.status_code == 200
    page = html(response)
    assert 'name="remember"' in page
    assert 'name="remember" type="checkbox" value="y">' in page  # not checked
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_it_signs_in_with_the_right_password_and_audits_it(client, owner):
    response = sign_in(client, "Owner@Acme.test ")

    assert response.status_code == 303
    assert response.headers["Location"].endswith("/app/")
    assert client.get("/app/").status_code == 200
    [event] = events("auth.login")
    assert event.agency_id == owner.memberships[0].agency_id
    assert event.actor_id == str(owner.id)
    assert event.details == {"method": "password", "remember": False}
    assert owner.last_login_at is not None


def test_it_refuses_a_wrong_password_with_a_message_and_audits_the_reason(client, owner):
    response = sign_in(client, owner.email, WRONG)

    assert response.status_code == 422
    assert "The e-mail or the password is not right." in html(response)
    assert client.get("/app/").status_code == 302
    [event] = events("auth.login_failed")
    assert event.agency_id == owner.memberships[0].agency_id
    assert event.details == {"reason": "wrong_password"}
    assert WRONG not in str(event.details)


def test_it_gives_the_same_answer_for_an_unknown_email_and_audits_it_outside_agencies(
    client, owner
):
    response = sign_in(client, "nobody@acme.test", WRONG)

    assert response.status_code == 422
    assert "The e-mail or the password is not right." in html(response)
    [event] = events("auth.login_failed")
    assert event.agency_id is None
    assert event.details == {"reason": "unknown_email", "email": "nobody@acme.test"}


def test_it_redirects_to_a_same_site_next_page_only(client, owner):
    response = sign_in(client, owner.email, url="/auth/login?next=/app/team")
    assert response.headers["Location"].endswith("/app/team")

    sign_out(client)
    response = sign_in(client, owner.email, url="/auth/login?next=https://evil.example/x")
    assert response.headers["Location"].endswith("/app/")
    assert "evil" not in response.headers["Location"]


def test_it_rotates_the_session_on_sign_in(client, owner):
    before = csrf_token(client, "/auth/login")
    with client.session_transaction() as sess:
        sess["planted_by_attacker"] = "x"

    sign_in(client, owner.email)

    with client.session_transaction() as sess:
        assert "planted_by_attacker" not in sess
        assert sess["_user_id"] == owner.get_id()
    after = csrf_token(client, "/app/")
    assert after != before
    stale = client.post("/auth/logout", data={"csrf_token": before})
    assert stale.status_code == 400


def test_it_keeps_the_session_cookie_for_the_browser_session_unless_remember_me(client, owner):
    response = sign_in(client, owner.email)
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "Expires=" not in cookie

    sign_out(client)
    response = sign_in(client, owner.email, remember=True)
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "Expires=" in cookie
    assert "HttpOnly" in cookie
    assert "remember_token=" not in " ".join(response.headers.getlist("Set-Cookie"))


def test_it_ends_a_session_after_the_idle_limit(client, app, owner):
    sign_in(client, owner.email)
    idle = app.config["SESSION_IDLE_MINUTES"] * 60
    with client.session_transaction() as sess:
        sess["seen_at"] = int(time.time()) - idle - 5

    response = client.get("/app/")

    assert response.status_code == 302
    assert "/auth/login" in response.headers["Location"]
    assert client.get("/app/").status_code == 302
    assert "inactivity" in html(client.get("/auth/login"))


def test_it_ends_a_session_after_the_absolute_limit_even_when_active(client, app, owner):
    sign_in(client, owner.email)
    absolute = app.config["SESSION_ABSOLUTE_HOURS"] * 3600
    with client.session_transaction() as sess:
        sess["auth_at"] = int(time.time()) - absolute - 5

    assert client.get("/app/").status_code == 302


def test_it_signs_out_only_with_a_post_carrying_the_csrf_token(client, owner):
    sign_in(client, owner.email)

    assert client.get("/auth/logout").status_code == 405
    assert client.post("/auth/logout").status_code == 400
    assert client.get("/app/").status_code == 200

    response = sign_out(client)

    assert response.status_code == 303
    assert client.get("/app/").status_code == 302
    [event] = events("auth.logout")
    assert event.actor_id == str(owner.id)


def test_it_rehashes_an_outdated_password_hash_on_sign_in(client, owner):
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(PASSWORD)
    owner.password_hash = weak
    db.session.commit()

    assert sign_in(client, owner.email).status_code == 303

    db.session.refresh(owner)
    assert owner.password_hash != weak
    assert "m=19456,t=2,p=1" in owner.password_hash
    assert verify_password(owner.password_hash, PASSWORD)


def test_it_sends_a_person_without_an_agency_to_a_page_that_explains(client, owner):
    db.session.execute(delete(Membership).where(Membership.user_id == owner.id))
    db.session.commit()
    sign_in(client, owner.email)

    response = client.get("/app/")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/auth/no-agency")
    page = html(client.get("/auth/no-agency"))
    assert "You are not part of an agency" in page
    assert 'action="/auth/logout"' in page


def test_it_refuses_oversized_input_in_place(client, owner):
    response = post_form(
        client, "/auth/login", {"email": "a" * 400 + "@acme.test", "password": "p" * 9000}
    )

    assert response.status_code == 422
    page = html(response)
    assert "Use at most 254 characters." in page
    assert "Use at most 256 characters." in page


# ---------------------------------------------------------------- rate limits


def test_it_pauses_an_account_after_10_failed_sign_ins(client, owner):
    _fail(client, owner.email, 10)

    response = sign_in(client, owner.email)  # even the right password

    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    assert "Try again in 15 minutes" in html(response)
    assert client.get("/app/").status_code == 302
    reasons = [e.details["reason"] for e in events("auth.login_failed")]
    assert reasons == ["wrong_password"] * 10 + ["rate_limited"]
    assert events("auth.login_failed")[-1].details["scope"] == "account"


def test_it_keeps_the_account_paused_when_the_attacker_changes_ip(client, owner):
    _fail(client, owner.email, 10)

    response = sign_in(client, owner.email, environ_base=OTHER_IP)

    assert response.status_code == 429


def test_it_pauses_unknown_emails_too_so_the_limit_reveals_nothing(client):
    _fail(client, "ghost@acme.test", 10)

    assert sign_in(client, "ghost@acme.test", WRONG).status_code == 429


def test_it_lets_the_real_person_in_once_the_window_has_passed(client, owner, monkeypatch):
    _fail(client, owner.email, 10)
    assert sign_in(client, owner.email).status_code == 429

    _shift_clock(monkeypatch, 15 * 60 + 1)

    assert sign_in(client, owner.email).status_code == 303
    assert client.get("/app/").status_code == 200


def test_it_counts_only_failures_toward_the_account_limit(client, owner):
    for _ in range(12):
        assert sign_in(client, owner.email).status_code == 303
        sign_out(client)
    _fail(client, owner.email, 9)

    assert sign_in(client, owner.email).status_code == 303


def test_it_does_not_pause_other_accounts(client, owner, admin):
    _fail(client, owner.email, 10)

    assert sign_in(client, admin.email).status_code == 303


def test_it_limits_failed_sign_ins_per_ip_across_accounts(client, app, owner, monkeypatch):
    monkeypatch.setitem(app.config, "AUTH_IP_RATE_LIMIT", "5 per 15 minutes")
    for n in range(5):
        assert sign_in(client, f"guess{n}@acme.test", WRONG).status_code == 422

    response = sign_in(client, owner.email)

    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    assert "sign-in is paused" in html(response)
    last = events("auth.login_failed")[-1]
    assert last.details == {"reason": "rate_limited", "scope": "ip"}
    assert last.agency_id == owner.memberships[0].agency_id
    # Another address is not affected.
    assert sign_in(client, owner.email, environ_base=OTHER_IP).status_code == 303


def test_it_does_not_count_successful_sign_ins_against_the_ip(client, app, owner, monkeypatch):
    monkeypatch.setitem(app.config, "AUTH_IP_RATE_LIMIT", "3 per 15 minutes")
    for _ in range(5):
        assert sign_in(client, owner.email).status_code == 303
        sign_out(client)
