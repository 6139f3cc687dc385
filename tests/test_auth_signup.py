"""Sign-up: a new agency and its owner, signed in, or errors shown in place."""

from __future__ import annotations

from helpers_auth import NEW_PASSWORD, actions, html, post_form
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Agency, Membership, User

SIGNUP = "/auth/signup"


def _signup(client, **overrides):
    data = {
        "agency_name": "Northwind Media",
        "name": "Nora West",
        "email": "nora@northwind.test",
        "password": NEW_PASSWORD,
        "confirm": NEW_PASSWORD,
    }
    data.update(overrides)
    return post_form(client, SIGNUP, data)


def _count(model) -> int:
    return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def test_it_shows_the_signup_form(client):
    response = client.get(SIGNUP)
    assert response.status_code == 200
    page = html(response)
    assert 'name="agency_name"' in page
    assert 'autocomplete="new-password"' in page


def test_it_creates_the_agency_and_its_owner_and_asks_to_confirm_the_address(client, outbox):
    response = _signup(client)

    assert response.status_code == 200
    assert "Check your e-mail" in html(response)
    agency = db.session.execute(select(Agency)).scalar_one()
    user = db.session.execute(select(User)).scalar_one()
    assert agency.name == "Northwind Media"
    assert user.name == "Nora West"
    assert user.password_hash.startswith("$argon2id$")
    membership = db.session.execute(select(Membership)).scalar_one()
    assert (membership.agency_id, membership.user_id, membership.role) == (
        agency.id,
        user.id,
        "owner",
    )
    [message] = outbox()
    assert message["To"] == "nora@northwind.test"
    # Not signed in by the form: the answer must look the same for a known address.
    assert client.get("/app/").status_code == 302
    assert actions(agency.id) == ["agency.created", "agency.email_verification_sent"]


def test_it_normalises_the_email(client):
    _signup(client, email="  Nora@NorthWind.TEST ")

    assert db.session.execute(select(User.email)).scalar_one() == "nora@northwind.test"


def test_a_known_email_gets_the_same_answer_and_an_email_and_nothing_is_saved(
    client, owner, outbox
):
    agencies, users = _count(Agency), _count(User)

    response = _signup(client, email="OWNER@acme.test")

    assert response.status_code == 200
    assert "Check your e-mail" in html(response)
    assert "already has an account" not in html(response)
    assert (_count(Agency), _count(User)) == (agencies, users)
    assert client.get("/app/").status_code == 302  # not signed in
    [message] = outbox()
    assert message["To"] == "owner@acme.test"
    assert message["Subject"] == "You already have a Latchkey account"


def test_it_explains_a_password_that_is_too_short(client):
    response = _signup(client, password="short", confirm="short")

    assert response.status_code == 422
    assert "Use at least 12 characters." in html(response)
    assert _count(Agency) == 0


def test_it_refuses_a_common_password(client):
    response = _signup(client, password="password1234", confirm="password1234")

    assert response.status_code == 422
    assert "too common or easy to guess" in html(response)
    assert _count(User) == 0


def test_it_refuses_a_password_made_of_the_agency_name(client):
    response = _signup(
        client, password="northwindmedia", confirm="northwindmedia", email="x@northwind.test"
    )

    assert response.status_code == 422
    assert "too common or easy to guess" in html(response)


def test_it_refuses_a_confirmation_that_differs(client):
    response = _signup(client, confirm=NEW_PASSWORD + "x")

    assert response.status_code == 422
    assert "The two passwords are not the same." in html(response)
    assert _count(User) == 0


def test_it_refuses_an_invalid_email_in_place(client):
    response = _signup(client, email="nora-at-northwind")

    assert response.status_code == 422
    assert "Enter a valid e-mail address" in html(response)


def test_it_reports_oversized_fields_in_place_instead_of_failing(client):
    response = _signup(
        client,
        agency_name="A" * 500,
        name="N" * 500,
        email="n" * 300 + "@northwind.test",
        password="p" * 5000,
        confirm="p" * 5000,
    )

    assert response.status_code == 422
    page = html(response)
    assert page.count("Use at most 120 characters.") == 2
    assert "Use at most 254 characters." in page
    assert "Use at most 256 characters." in page
    assert _count(Agency) == 0


def test_it_requires_every_field(client):
    response = post_form(client, SIGNUP, {})

    assert response.status_code == 422
    assert html(response).count("This field is required.") == 5


def test_it_refuses_a_post_without_the_csrf_token(client):
    response = client.post(
        SIGNUP,
        data={
            "agency_name": "Northwind Media",
            "name": "Nora",
            "email": "nora@northwind.test",
            "password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
        },
    )

    assert response.status_code == 400
    assert _count(Agency) == 0


def test_it_sends_a_signed_in_visitor_to_the_dashboard(client, auth, owner):
    auth.login(owner)

    response = client.get(SIGNUP)

    assert response.status_code == 302
    assert response.headers["Location"].endswith("/app/")


def test_it_keeps_names_on_one_line(client):
    # A line break in a one-line field is refused (portal/inputs.py); spaces are tidied.
    answer = _signup(client, agency_name="Northwind\r\nBcc: victim@example.com")
    assert answer.status_code == 422
    assert "line breaks" in html(answer)
    assert _count(Agency) == 0
    _signup(client, agency_name="  Northwind \t Media ", name="Nora\t West")

    agency = db.session.execute(select(Agency)).scalar_one()
    user = db.session.execute(select(User)).scalar_one()
    assert agency.name == "Northwind Media"
    assert user.name == "Nora West"
