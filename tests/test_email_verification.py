"""An agency's e-mail address is confirmed before Latchkey e-mails its clients,
and sign-up does not tell whether an address already has an account."""

from __future__ import annotations

import re

import pytest
from helpers_auth import NEW_PASSWORD, actions, html, link_in, post_form, relative, sign_in
from helpers_requests import csrf_from, fake_connection, make_request
from sqlalchemy import func, select
from test_api_support import api_key, bearer

from portal.extensions import db
from portal.models import AccessRequest, Agency, User
from portal.services.agencies import create_agency
from worker import jobs

SIGNUP = "/auth/signup"
VERIFY = "/auth/verify/"


def _signup(client, email="nora@northwind.test", **overrides):
    data = {
        "agency_name": "Northwind Media",
        "name": "Nora West",
        "email": email,
        "password": NEW_PASSWORD,
        "confirm": NEW_PASSWORD,
        **overrides,
    }
    return post_form(client, SIGNUP, data)


def _main(response, email: str) -> str:
    """The page's content, with what differs on every page view (tokens) left out."""
    page = html(response)
    main = re.search(r"<main.*?</main>", page, re.S).group(0)
    return main.replace(email, "EMAIL")


def _unconfirmed_agency():
    agency, owner = create_agency("Fresh Agency", "fresh@fresh.test", NEW_PASSWORD)
    fake_connection(agency)
    return agency, owner


# ------------------------------------------------------------------ sign-up


def test_sign_up_answers_the_same_for_a_new_and_a_known_address(app, client, owner, outbox):
    new = _signup(client, email="nora@northwind.test")
    known = _signup(app.test_client(), email="owner@acme.test")

    assert new.status_code == known.status_code == 200
    assert _main(new, "nora@northwind.test") == _main(known, "owner@acme.test")
    assert "Check your e-mail" in html(known)
    # Each address got the e-mail that fits it.
    mails = {m["To"]: m for m in outbox()}
    assert mails["owner@acme.test"]["Subject"] == "You already have a Latchkey account"
    assert mails["nora@northwind.test"]["Subject"] == "Confirm your e-mail address for Latchkey"
    assert db.session.scalar(select(func.count()).select_from(User)) == 2
    assert db.session.scalar(select(func.count()).select_from(Agency)) == 2


def test_sign_up_signs_nobody_in_and_leaves_the_agency_unconfirmed(client):
    _signup(client)
    assert client.get("/app/").status_code == 302
    agency = db.session.execute(select(Agency)).scalar_one()
    assert agency.email_verified_at is None
    assert actions(agency.id) == ["agency.created", "agency.email_verification_sent"]


def test_the_link_confirms_the_address_with_a_button_not_by_opening(app, client, outbox):
    _signup(client)
    base = app.config["LATCHKEY_BASE_URL"]
    [message] = outbox()
    link = relative(link_in(message, base, VERIFY), base)

    page = client.get(link)
    assert page.status_code == 200
    assert "Confirm my address" in html(page)
    assert db.session.execute(select(Agency)).scalar_one().email_verified_at is None

    done = client.post(link, data={"csrf_token": csrf_from(html(page))})
    assert done.status_code == 303 and "/auth/login" in done.headers["Location"]
    agency = db.session.execute(select(Agency)).scalar_one()
    db.session.refresh(agency)
    assert agency.email_verified_at is not None
    assert "agency.email_verified" in actions(agency.id)
    assert client.get(link).status_code == 410  # used
    assert client.get(VERIFY + "x" * 43).status_code == 400


def test_an_unconfirmed_agency_cannot_email_its_clients_and_is_told_why(app, client, auth, outbox):
    agency, owner = _unconfirmed_agency()
    access_request, _token = make_request(agency, owner)
    auth.login(owner)
    dashboard = html(client.get("/app/"))
    assert "Confirm your agency's e-mail address" in dashboard
    assert "Send me a new link" in dashboard

    page = client.get(f"/app/requests/{access_request.id}")
    answer = client.post(
        f"/app/requests/{access_request.id}/email",
        data={"csrf_token": csrf_from(html(page))},
        follow_redirects=True,
    )

    assert "e-mail address is not confirmed yet" in html(answer)
    assert jobs.send_request_email(access_request.id) == "refused"  # nor by the job
    assert outbox() == []


def test_the_api_answers_409_to_send_email_until_the_address_is_confirmed(client):
    agency, _owner = _unconfirmed_agency()
    headers = bearer(api_key(agency))
    body = {
        "client": {"name": "Blue Harbor", "email": "blue@harbor.test"},
        "items": [
            {"platform": "pinterest", "asset_type": "AD_ACCOUNT", "permissions": ["ANALYST"]}
        ],
        "send_email": True,
    }
    refused = client.post("/api/v1/access-requests", json=body, headers=headers)
    assert refused.status_code == 409
    assert refused.mimetype == "application/problem+json"
    assert "not confirmed" in refused.get_json()["detail"]
    assert db.session.scalar(select(func.count()).select_from(AccessRequest)) == 0
    body["send_email"] = False
    assert client.post("/api/v1/access-requests", json=body, headers=headers).status_code == 201


def test_an_admin_can_ask_for_a_new_link_and_a_member_cannot(app, client, auth, outbox):
    from conftest import add_member

    agency, owner = _unconfirmed_agency()
    member = add_member(agency, "member@fresh.test", "member")
    auth.login(member)
    assert "Send me a new link" not in html(client.get("/app/"))
    token = csrf_from(html(client.get("/app/")))
    assert client.post("/app/team/verify-email", data={"csrf_token": token}).status_code == 403

    auth.login(owner)
    answer = post_form(client, "/app/team/verify-email", page="/app/")
    assert answer.status_code == 303
    [message] = outbox()
    assert message["To"] == "fresh@fresh.test"
    base = app.config["LATCHKEY_BASE_URL"]
    link = relative(link_in(message, base, VERIFY), base)
    page = client.get(link)
    done = client.post(link, data={"csrf_token": csrf_from(html(page))})
    assert done.headers["Location"].endswith("/app/")  # signed in: back to work
    assert "Send me a new link" not in html(client.get("/app/"))


def test_agencies_made_on_the_command_line_or_as_the_demo_count_as_confirmed(app, runner):
    result = runner.invoke(
        args=[
            "agency",
            "create",
            "--name",
            "Cli Agency",
            "--owner-email",
            "cli@cli.test",
            "--password",
            NEW_PASSWORD,
        ]
    )
    assert result.exit_code == 0, result.output
    slug = result.output.strip().splitlines()[-1]
    agency = db.session.execute(select(Agency).where(Agency.slug == slug)).scalar_one()
    assert agency.email_verified_at is not None

    from portal.services.demo import create_demo

    create_demo()
    demo = db.session.execute(select(Agency).where(Agency.slug != slug)).scalar_one()
    assert demo.email_verified_at is not None


@pytest.mark.parametrize("existing", [False, True])
def test_sign_in_works_before_the_address_is_confirmed(client, owner, existing):
    if existing:
        assert sign_in(client, owner.email).status_code == 303
    else:
        _signup(client)
        assert sign_in(client, "nora@northwind.test", NEW_PASSWORD).status_code == 303
    assert client.get("/app/").status_code == 200
