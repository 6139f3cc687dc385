"""The account's own pages: security, password change, choosing among several agencies."""

from __future__ import annotations

from conftest import PASSWORD, Auth, make_agency
from helpers_auth import NEW_PASSWORD, events, html, post_form, sign_in

from portal.auth.passwords import verify_password
from portal.extensions import db
from portal.models import Membership

SECURITY = "/app/account/security"
CHANGE = "/app/account/password"


def _change(client, current: str, new: str = NEW_PASSWORD, confirm: str | None = None):
    data = {"pw-current_password": current, "pw-password": new, "pw-confirm": confirm or new}
    return post_form(client, CHANGE, data, SECURITY)


def test_it_needs_a_signed_in_person(client):
    response = client.get(SECURITY)

    assert response.status_code == 302
    assert "/auth/login" in response.headers["Location"]


def test_it_shows_the_security_page(client, auth, owner):
    auth.login(owner)

    response = client.get(SECURITY)

    assert response.status_code == 200
    page = html(response)
    assert "Change your password" in page
    assert "Set up two-factor authentication" in page


def test_it_changes_the_password_and_signs_out_other_sessions(client, app, auth, owner):
    elsewhere = app.test_client()
    Auth(elsewhere).login(owner)
    auth.login(owner)

    response = _change(client, PASSWORD)

    assert response.status_code == 303
    db.session.refresh(owner)
    assert verify_password(owner.password_hash, NEW_PASSWORD)
    assert client.get("/app/").status_code == 200  # this session continues
    assert elsewhere.get("/app/").status_code == 302  # the others end
    assert len(events("auth.password_changed")) == 1


def test_it_refuses_a_wrong_current_password_in_place(client, auth, owner):
    auth.login(owner)

    response = _change(client, "not my password at all")

    assert response.status_code == 422
    assert "This is not your current password." in html(response)
    db.session.refresh(owner)
    assert verify_password(owner.password_hash, PASSWORD)


def test_it_applies_the_password_policy_to_the_new_password(client, auth, owner):
    auth.login(owner)

    response = _change(client, PASSWORD, "acmeacmeacme")

    assert response.status_code == 422
    assert "too common or easy to guess" in html(response)


def test_it_counts_wrong_current_passwords_toward_the_account_limit(client, auth, owner):
    auth.login(owner)
    for _ in range(10):
        assert _change(client, "guess guess guess").status_code == 422

    response = _change(client, PASSWORD)

    assert response.status_code == 429
    assert sign_in(client.application.test_client(), owner.email).status_code == 429


def test_it_lets_a_person_in_several_agencies_switch_between_them(client, auth, owner):
    other, _ = make_agency("Second Shop", "boss@second.test")
    db.session.add(Membership(agency_id=other.id, user_id=owner.id, role="viewer"))
    db.session.commit()
    auth.login(owner)
    assert "Second Shop" in html(client.get(SECURITY))

    response = post_form(client, "/auth/agency", {"agency_id": str(other.id)}, SECURITY)

    assert response.status_code == 303
    assert "Second Shop" in html(client.get("/app/"))


def test_it_refuses_to_switch_to_an_agency_the_person_is_not_in(client, auth, owner, outsider):
    auth.login(owner)
    foreign = outsider.memberships[0].agency_id

    response = post_form(client, "/auth/agency", {"agency_id": str(foreign)}, SECURITY)

    assert response.status_code == 404
    assert "Acme Agency" in html(client.get("/app/"))
    assert "Other Agency" not in html(client.get("/app/"))


def test_it_offers_the_remaining_agencies_after_a_removal(client, auth, agency, owner, admin):
    other, _ = make_agency("Second Shop", "boss@second.test")
    db.session.add(Membership(agency_id=other.id, user_id=admin.id, role="member"))
    db.session.commit()
    auth.login(admin, agency_id=agency.id)
    db.session.delete(
        db.session.query(Membership).filter_by(agency_id=agency.id, user_id=admin.id).one()
    )
    db.session.commit()

    response = client.get("/app/")
    assert response.headers["Location"].endswith("/auth/no-agency")
    page = html(client.get("/auth/no-agency"))

    assert "Choose an agency" in page
    assert "Second Shop" in page
    assert "Acme Agency" not in page.split("<main", 1)[1]
