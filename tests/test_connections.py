"""Connections: the agency's own platform accounts, encrypted, refreshed, audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from helpers_requests import (
    audit_actions,
    consent,
    csrf_from,
    fake_connection,
    path_of,
    query_params,
    sandbox_connection,
)
from sqlalchemy import select

from portal import crypto, oauth
from portal.extensions import db
from portal.models import AgencyConnection
from portal.models.base import utcnow
from portal.services.connections import (
    ConnectionUnavailable,
    agency_access,
    get_agency_token,
)

pytestmark = pytest.mark.usefixtures("live_server")


def connection_row(agency_id: int, platform: str = "pinterest") -> AgencyConnection | None:
    db.session.expire_all()
    return db.session.execute(
        select(AgencyConnection).where(
            AgencyConnection.agency_id == agency_id, AgencyConnection.platform == platform
        )
    ).scalar_one_or_none()


def press(client, url: str, page: str = "/app/connections"):
    html = client.get(page).get_data(as_text=True)
    return client.post(url, data={"csrf_token": csrf_from(html)})


def test_it_lists_every_platform_with_its_status(auth, agency, viewer):
    auth.login(viewer)
    page = auth.client.get("/app/connections")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Pinterest" in html
    assert "Not connected" in html
    assert "Only admins can connect" in html
    assert 'href="/app/connections"' in html  # in the navigation

    fake_connection(agency)
    html = auth.client.get("/app/connections").get_data(as_text=True)
    assert "Acme Agency Business" in html
    assert "Renews automatically" in html


def test_it_shows_a_broken_connection_with_what_to_do(auth, agency, owner):
    fake_connection(agency, status="expired", last_error="The Pinterest connection expired.")
    auth.login(owner)
    html = auth.client.get("/app/connections").get_data(as_text=True)
    assert "Expired" in html
    assert "The Pinterest connection expired." in html
    assert "Reconnect Pinterest" in html


def test_it_connects_pinterest_through_the_platform_sign_in(auth, agency, owner):
    client = auth.login(owner)
    started = press(client, "/app/connections/pinterest/connect")
    assert started.status_code == 303
    params = query_params(started.headers["Location"])
    # Pinterest's description defines no PKCE (portal/platforms/pinterest/calls.py).
    assert "code_challenge" not in params and params["response_type"] == "code"
    callback = consent(client, started.headers["Location"])
    back = client.get(path_of(callback))
    assert back.status_code == 303
    assert back.headers["Location"].endswith("/app/connections")

    row = connection_row(agency.id)
    assert row.status == "active"
    assert row.identity["business_id"] == row.account_id
    assert row.account_name
    assert row.connected_by_id == owner.id
    assert row.expires_at > utcnow()
    # Encrypted at rest: the stored value is not the token itself.
    assert crypto.decrypt(row.access_token_encrypted).startswith("pina_")
    assert not row.access_token_encrypted.startswith("pina_")
    assert "connection.connected" in audit_actions(agency.id)
    page = client.get("/app/connections").get_data(as_text=True)
    assert "is connected as" in page


def test_it_refuses_connections_to_members(auth, agency, member):
    client = auth.login(member)
    assert press(client, "/app/connections/pinterest/connect").status_code == 403
    fake_connection(agency)
    assert press(client, "/app/connections/pinterest/disconnect").status_code == 403
    assert connection_row(agency.id) is not None


def test_it_refuses_an_agency_callback_for_another_agency(app, auth, agency, owner, outsider):
    client = auth.login(owner)
    started = press(client, "/app/connections/pinterest/connect")
    callback = consent(client, started.headers["Location"])
    other = app.test_client()
    from conftest import Auth

    Auth(other).login(outsider)
    answer = other.get(path_of(callback))
    assert answer.status_code == 400
    assert connection_row(agency.id) is None


def test_it_disconnects_and_audits(auth, agency, admin):
    fake_connection(agency)
    client = auth.login(admin)
    answer = press(client, "/app/connections/pinterest/disconnect")
    assert answer.status_code == 303
    assert connection_row(agency.id) is None
    assert "connection.disconnected" in audit_actions(agency.id)


def test_it_says_when_the_agency_cancels_the_sign_in(auth, agency, owner):
    client = auth.login(owner)
    started = press(client, "/app/connections/pinterest/connect")
    back = client.get(path_of(consent(client, started.headers["Location"], decision="deny")))
    assert back.status_code == 303
    assert connection_row(agency.id) is None
    assert "was not connected" in client.get("/app/connections").get_data(as_text=True)


def test_it_refreshes_an_expired_agency_token(agency):
    row = sandbox_connection(agency)
    old_token = crypto.decrypt(row.access_token_encrypted)
    row.expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    token = get_agency_token(agency.id, "pinterest")
    assert token["access_token"] != old_token
    row = connection_row(agency.id)
    assert crypto.decrypt(row.access_token_encrypted) == token["access_token"]
    assert row.expires_at > utcnow() + timedelta(days=1)
    assert row.status == "active"
    assert "connection.refreshed" in audit_actions(agency.id)


def test_it_marks_the_connection_expired_when_refresh_fails(agency):
    fake_connection(agency, expires_at=utcnow() - timedelta(minutes=1))
    with pytest.raises(ConnectionUnavailable) as error:
        agency_access(agency.id, "pinterest")
    assert "Reconnect Pinterest" in error.value.fix
    row = connection_row(agency.id)
    assert row.status in ("expired", "error")
    assert row.last_error
    assert "connection.failed" in audit_actions(agency.id)


def test_it_says_connect_first_when_there_is_no_connection(agency):
    with pytest.raises(ConnectionUnavailable) as error:
        get_agency_token(agency.id, "pinterest")
    assert error.value.fix == "Connect Pinterest in Connections first."


def test_it_lets_csp_allow_the_platform_sign_in_pages(app):
    from portal import create_app

    real = create_app({"ENV": {"LATCHKEY_ENV": "test", "LATCHKEY_SANDBOX": "0"}})
    assert "https://www.pinterest.com" in real.config["CSP_FORM_ACTION_EXTRA"]
    oauth.init_app(app)  # the sandbox lives on our own origin: nothing to add
    assert "https://www.pinterest.com" not in app.config["CSP_FORM_ACTION_EXTRA"]


def test_it_exchanges_a_meta_token_days_before_it_expires(agency):
    """Meta has no refresh tokens: a live token is traded for a new long-lived one."""
    sandbox_connection(agency)
    row = connection_row(agency.id, "meta")
    old_token = crypto.decrypt(row.access_token_encrypted)
    row.refresh_token_encrypted = None
    row.expires_at = utcnow() + timedelta(days=3)  # within the week before expiry
    db.session.commit()

    access = agency_access(agency.id, "meta")

    assert access.token["access_token"] != old_token
    row = connection_row(agency.id, "meta")
    assert row.expires_at > utcnow() + timedelta(days=30)
    assert row.status == "active"


def test_an_expired_meta_token_asks_the_agency_to_connect_again(agency):
    sandbox_connection(agency)
    row = connection_row(agency.id, "meta")
    row.refresh_token_encrypted = None
    row.expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()

    with pytest.raises(ConnectionUnavailable) as error:
        agency_access(agency.id, "meta")
    assert "Reconnect Meta" in error.value.fix
    assert connection_row(agency.id, "meta").status == "expired"
