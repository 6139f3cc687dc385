"""Two-factor authentication: enrolment, the code step, replay, recovery codes, the agency rule."""

from __future__ import annotations

import hashlib
import re
import time

import pyotp
from conftest import PASSWORD
from helpers_auth import csrf_token, events, html, post_form, sign_in, sign_out

from portal import crypto
from portal.auth import totp
from portal.extensions import db
from portal.models.base import utcnow

SETUP = "/app/account/two-factor"
CODE_STEP = "/auth/login/code"


def _enrol(user) -> tuple[str, list[str]]:
    """Turn 2FA on for `user` directly; return the secret and the recovery codes."""
    secret = pyotp.random_base32(length=32)
    user.totp_secret = crypto.encrypt(secret)
    codes = totp.enable(user, step=0)
    db.session.commit()
    return secret, codes


def _code(secret: str, offset_steps: int = 0) -> str:
    return pyotp.TOTP(secret).at(time.time() + 30 * offset_steps)


def _password_step(client, user):
    response = sign_in(client, user.email)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(CODE_STEP)
    return response


def _code_step(client, code: str):
    return post_form(client, CODE_STEP, {"code": code})


def test_it_enrols_with_a_qr_code_and_a_confirmation_code(client, auth, owner):
    auth.login(owner)

    page = client.get(SETUP)

    assert page.status_code == 200
    assert 'src="data:image/svg+xml' in html(page)
    assert "<script" not in html(page).split("</head>", 1)[1]
    secret = crypto.decrypt(owner.totp_secret)
    assert owner.totp_secret != secret  # encrypted at rest
    shown = re.search(r'<code id="totp-secret">([A-Z2-7 ]+)</code>', html(page)).group(1)
    assert shown.replace(" ", "") == secret
    assert not owner.totp_enabled

    wrong = post_form(client, SETUP, {"code": "000000" if _code(secret) != "000000" else "111111"})
    assert wrong.status_code == 422
    assert "This code does not match" in html(wrong)

    done = post_form(client, SETUP, {"code": _code(secret)})

    assert done.status_code == 200
    codes = re.findall(r"<li><code>([a-z0-9]{5}-[a-z0-9]{5})</code></li>", html(done))
    assert len(codes) == 10
    db.session.refresh(owner)
    assert owner.totp_enabled
    assert len(owner.recovery_codes) == 10
    assert hashlib.sha256(codes[0].replace("-", "").encode()).hexdigest() in owner.recovery_codes
    assert not any(c in str(owner.recovery_codes) for c in codes)
    assert len(events("auth.2fa_enabled")) == 1
    # The codes are shown once: the security page does not list them.
    assert codes[0] not in html(client.get("/app/account/security"))


def test_it_keeps_the_same_secret_until_enrolment_is_confirmed(client, auth, owner):
    auth.login(owner)
    client.get(SETUP)
    first = owner.totp_secret

    client.get(SETUP)

    db.session.refresh(owner)
    assert owner.totp_secret == first


def test_it_asks_for_a_code_after_the_password_and_signs_in_with_it(client, owner):
    secret, _codes = _enrol(owner)

    _password_step(client, owner)

    assert client.get("/app/").status_code == 302  # not signed in yet
    with client.session_transaction() as sess:
        assert "_user_id" not in sess
    response = _code_step(client, _code(secret))
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/app/")
    assert client.get("/app/").status_code == 200
    [login] = events("auth.login")
    assert login.details["method"] == "totp"


def test_it_refuses_a_wrong_code_and_audits_it(client, owner):
    secret, _codes = _enrol(owner)
    _password_step(client, owner)
    wrong = "123456" if _code(secret) != "123456" else "654321"

    response = _code_step(client, wrong)

    assert response.status_code == 422
    assert "This code is not right." in html(response)
    assert client.get("/app/").status_code == 302
    [failure] = events("auth.login_failed")
    assert failure.details == {"reason": "bad_2fa_code", "replay": False}


def test_it_refuses_a_replayed_code(client, owner):
    secret, _codes = _enrol(owner)
    code = _code(secret)
    _password_step(client, owner)
    assert _code_step(client, code).status_code == 303
    sign_out(client)

    _password_step(client, owner)
    replay = _code_step(client, code)

    assert replay.status_code == 422
    assert "This code was already used" in html(replay)
    assert events("auth.login_failed")[-1].details == {"reason": "bad_2fa_code", "replay": True}
    assert _code_step(client, _code(secret, offset_steps=1)).status_code == 303


def test_it_accepts_a_recovery_code_once(client, owner):
    _secret, codes = _enrol(owner)
    _password_step(client, owner)

    response = _code_step(client, codes[3].upper().replace("-", " "))

    assert response.status_code == 303
    db.session.refresh(owner)
    assert len(owner.recovery_codes) == 9
    assert events("auth.recovery_code_used")[0].details == {"remaining": 9}
    sign_out(client)
    _password_step(client, owner)
    assert _code_step(client, codes[3]).status_code == 422
    assert _code_step(client, codes[4]).status_code == 303


def test_it_forgets_the_password_step_after_five_minutes(client, owner, monkeypatch):
    secret, _codes = _enrol(owner)
    _password_step(client, owner)
    token = csrf_token(client, CODE_STEP)
    code = _code(secret)
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 5 * 60 + 1)

    response = client.post(CODE_STEP, data={"csrf_token": token, "code": code})

    assert response.status_code == 302
    assert response.headers["Location"].endswith("/auth/login")
    assert client.get("/app/").status_code == 302
    assert "more than 5 minutes" in html(client.get("/auth/login"))


def test_it_refuses_the_code_step_without_a_password_step(client, owner):
    _enrol(owner)

    response = client.get(CODE_STEP)

    assert response.status_code == 302
    assert response.headers["Location"].endswith("/auth/login")


def test_it_counts_wrong_codes_toward_the_account_limit(client, owner):
    secret, _codes = _enrol(owner)
    _password_step(client, owner)
    for _ in range(10):
        assert _code_step(client, "abcde-fghjk").status_code == 422

    response = _code_step(client, _code(secret))

    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0


def test_it_sends_members_to_set_up_two_factor_when_the_agency_requires_it(
    client, auth, agency, member
):
    agency.require_2fa = True
    db.session.commit()
    auth.login(member)

    response = client.get("/app/")

    assert response.status_code == 302
    assert "/app/account/two-factor" in response.headers["Location"]
    page = client.get(SETUP)
    assert "Acme Agency requires two-factor authentication" in html(page)
    secret = crypto.decrypt(member.totp_secret)
    post_form(client, SETUP, {"code": _code(secret)})
    assert client.get("/app/").status_code == 200


def test_it_turns_two_factor_off_only_with_the_password(client, auth, owner):
    _enrol(owner)
    auth.login(owner)
    page = "/app/account/security"

    wrong = post_form(client, "/app/account/two-factor/disable", {"off-password": "nope"}, page)
    assert wrong.status_code == 422
    assert "This is not your current password." in html(wrong)
    db.session.refresh(owner)
    assert owner.totp_enabled

    right = post_form(client, "/app/account/two-factor/disable", {"off-password": PASSWORD}, page)

    assert right.status_code == 303
    db.session.refresh(owner)
    assert not owner.totp_enabled
    assert owner.totp_secret is None
    assert owner.recovery_codes == []
    assert len(events("auth.2fa_disabled")) == 1


def test_it_keeps_two_factor_on_when_the_agency_requires_it(client, auth, agency, owner):
    _enrol(owner)
    agency.require_2fa = True
    db.session.commit()
    auth.login(owner)

    response = post_form(
        client, "/app/account/two-factor/disable", {"off-password": PASSWORD}, "/app/team"
    )

    assert response.status_code == 303
    db.session.refresh(owner)
    assert owner.totp_enabled
    assert "requires it for everyone" in html(client.get("/app/account/security"))


def test_it_makes_new_recovery_codes_and_retires_the_old_ones(client, auth, owner):
    _secret, old_codes = _enrol(owner)
    auth.login(owner)

    response = post_form(
        client,
        "/app/account/two-factor/recovery-codes",
        {"codes-password": PASSWORD},
        "/app/account/security",
    )

    assert response.status_code == 200
    new_codes = re.findall(r"<li><code>([a-z0-9]{5}-[a-z0-9]{5})</code></li>", html(response))
    assert len(new_codes) == 10
    assert set(new_codes).isdisjoint(old_codes)
    db.session.refresh(owner)
    assert not totp.use_recovery_code(owner, old_codes[0])
    assert totp.use_recovery_code(owner, new_codes[0])


def test_it_shows_when_two_factor_was_turned_on(client, auth, owner):
    _enrol(owner)
    auth.login(owner)

    page = html(client.get("/app/account/security"))

    assert "10 recovery codes left." in page
    assert str(utcnow().year) in page
