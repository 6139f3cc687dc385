"""Owners can delete their agency and everything it owns; nobody else can."""

from __future__ import annotations

from conftest import PASSWORD, add_member
from helpers_auth import csrf_token

from portal.extensions import db
from portal.models import AccessRequest, Agency, AuditEvent, Grant, Membership, User
from tests.helpers_requests import add_grant, fake_connection, make_request

URL = "/app/team/delete-agency"


def _post(client, **data):
    token = csrf_token(client, URL)
    return client.post(URL, data={"csrf_token": token, **data})


def test_it_deletes_the_agency_its_data_and_accounts_left_without_an_agency(
    client, auth, agency, owner, outsider
):
    fake_connection(agency)
    make_request(agency, owner)
    add_member(agency, "solo@acme.test", "member")
    other_agency_id = outsider.memberships[0].agency_id
    shared = add_member(agency, "shared@acme.test", "viewer")
    db.session.add(Membership(agency_id=other_agency_id, user_id=shared.id, role="viewer"))
    db.session.commit()
    other_agency = db.session.get(Agency, other_agency_id)
    fake_connection(other_agency)
    make_request(other_agency, outsider, client_email="client@other.test")
    agency_id = agency.id

    auth.login(owner)
    response = _post(client, confirm_name="Acme Agency", password=PASSWORD)

    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(Agency, agency_id) is None
    assert AccessRequest.query.filter_by(agency_id=agency_id).count() == 0
    assert Grant.query.filter_by(agency_id=agency_id).count() == 0
    assert AuditEvent.query.filter_by(agency_id=agency_id).count() == 0
    emails = {u.email for u in User.query.all()}
    assert "owner@acme.test" not in emails and "solo@acme.test" not in emails
    assert "shared@acme.test" in emails  # still belongs to another agency
    assert AccessRequest.query.filter_by(agency_id=other_agency_id).count() == 1
    [event] = AuditEvent.query.filter_by(action="agency.deleted").all()
    assert event.agency_id is None and event.details["slug"] == "acme-agency"
    assert client.get("/app/").status_code == 302  # signed out


def test_it_refuses_a_wrong_name_or_password_and_deletes_nothing(client, auth, agency, owner):
    auth.login(owner)
    wrong_name = _post(client, confirm_name="Acme", password=PASSWORD)
    assert wrong_name.status_code == 422
    assert "exactly as shown" in wrong_name.get_data(as_text=True)
    wrong_password = _post(client, confirm_name="Acme Agency", password="not the password at all")
    assert wrong_password.status_code == 422
    db.session.expire_all()
    assert db.session.get(Agency, agency.id) is not None


def test_only_owners_may_delete_the_agency(client, auth, agency, admin):
    auth.login(admin)
    assert client.get(URL).status_code == 403
    token = csrf_token(client, "/app/team")
    response = client.post(
        URL, data={"csrf_token": token, "confirm_name": "Acme Agency", "password": PASSWORD}
    )
    assert response.status_code == 403
    db.session.expire_all()
    assert db.session.get(Agency, agency.id) is not None


def test_it_lists_the_clients_whose_access_to_remove_first(client, auth, agency, owner):
    fake_connection(agency)
    first, _t = make_request(agency, owner, client_name="Blue Harbor")
    second, _t = make_request(agency, owner, client_name="Northwind", client_email="n@n.test")
    for index, (request, status) in enumerate(
        [(first, "verified"), (first, "granted"), (second, "verified"), (second, "removed")]
    ):
        add_grant(request, 0, status, asset_id=f"a-{index}")
    auth.login(owner)

    html = " ".join(client.get(URL).get_data(as_text=True).split())

    assert "Assets of 2 clients still give your agency access." in html
    assert f'href="/app/clients/{first.client_id}">Blue Harbor</a> · 2 assets' in html
    assert f'href="/app/clients/{second.client_id}">Northwind</a> · 1 asset<' in html
