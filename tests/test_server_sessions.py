"""Sessions have an identity on the server: signing out ends the session itself,
not only the cookie in this browser, and a person can sign out everywhere."""

from __future__ import annotations

from helpers_auth import NEW_PASSWORD, events, html, post_form, sign_in, sign_out
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import UserSession


def _copy_of(app, client):
    """Another browser holding a copy of `client`'s session cookie."""
    cookie = client.get_cookie("session")
    assert cookie is not None
    thief = app.test_client()
    thief.set_cookie("session", cookie.value)
    return thief


def test_a_cookie_copied_before_sign_out_no_longer_opens_the_app(app, client, owner):
    sign_in(client, owner.email)
    thief = _copy_of(app, client)
    assert thief.get("/app/").status_code == 200  # the copy works while the session lives

    sign_out(client)

    response = thief.get("/app/")
    assert response.status_code == 302
    assert "/auth/login" in response.headers["Location"]
    assert thief.get("/app/account/security").status_code == 302


def test_sign_in_again_after_sign_out_opens_a_new_session(app, client, owner):
    sign_in(client, owner.email)
    sign_out(client)
    sign_in(client, owner.email)
    assert client.get("/app/").status_code == 200
    live = db.session.scalar(
        select(func.count()).select_from(UserSession).where(UserSession.ended_at.is_(None))
    )
    assert live == 1


def test_sign_out_everywhere_ends_every_session_of_the_person(app, client, owner, admin):
    sign_in(client, owner.email)
    laptop = app.test_client()
    sign_in(laptop, owner.email)
    colleague = app.test_client()
    sign_in(colleague, admin.email)
    page = html(client.get("/app/account/security"))
    assert "You are signed in on 2 browsers or devices." in page
    assert "Sign out everywhere" in page

    response = post_form(client, "/app/account/sessions/end-all", page="/app/account/security")

    assert response.status_code == 303
    assert "/auth/login" in response.headers["Location"]
    assert client.get("/app/").status_code == 302
    assert laptop.get("/app/").status_code == 302
    assert colleague.get("/app/").status_code == 200  # another person's session stays
    [event] = events("auth.logout_everywhere")
    assert event.details == {"sessions": 2}


def test_a_new_password_ends_the_other_sessions_and_keeps_this_one(app, client, owner):
    sign_in(client, owner.email)
    thief = _copy_of(app, client)
    laptop = app.test_client()
    sign_in(laptop, owner.email)

    response = post_form(
        client,
        "/app/account/password",
        {
            "pw-current_password": "correct horse battery staple 42",
            "pw-password": NEW_PASSWORD,
            "pw-confirm": NEW_PASSWORD,
        },
        page="/app/account/security",
    )

    assert response.status_code == 303
    assert client.get("/app/").status_code == 200
    assert thief.get("/app/").status_code == 302
    assert laptop.get("/app/").status_code == 302


def test_a_session_without_a_server_identity_is_not_signed_in(app, client, owner):
    """A cookie made without a session row (or from before sessions had one)."""
    sign_in(client, owner.email)
    with client.session_transaction() as sess:
        sess.pop("sid")
    assert client.get("/app/").status_code == 302


def test_the_nightly_cleanup_forgets_ended_sessions(app, client, owner):
    from worker import jobs

    laptop = app.test_client()
    sign_in(laptop, owner.email)
    sign_in(client, owner.email)
    sign_out(client)
    assert len(db.session.execute(select(UserSession)).scalars().all()) == 2
    jobs.prune_expired_records()
    db.session.expire_all()
    rows = db.session.execute(select(UserSession)).scalars().all()
    assert [row.ended_at for row in rows] == [None]  # the laptop's, still live
    assert laptop.get("/app/").status_code == 200
