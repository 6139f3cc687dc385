"""The one-link client flow on Meta, end to end, against the emulated Graph API.

The test client plays the client's browser (Facebook Login's dialog
included); the connector reaches the sandbox over real HTTP on the live
server; RQ's worker runs the verification jobs from the agency's side.
"""

from __future__ import annotations

import pytest
from helpers_requests import (
    audit_actions,
    consent,
    csrf_from,
    form_fields,
    make_request,
    path_of,
    query_params,
)
from sqlalchemy import select

from portal import crypto, oauth, platforms
from portal.extensions import db
from portal.models import AccessRequest, AgencyConnection, Grant
from portal.sandbox import core
from portal.sandbox.connect import connect_agency_to_sandbox
from portal.services.connections import agency_access, save_connection

pytestmark = pytest.mark.usefixtures("live_server")

META_ITEMS = [
    {"platform": "meta", "asset_type": "AD_ACCOUNT", "permissions": ["ADVERTISE"]},
    {"platform": "meta", "asset_type": "PAGE", "permissions": ["CREATE_CONTENT"]},
    {"platform": "meta", "asset_type": "INSTAGRAM_ACCOUNT", "permissions": ["CONTENT"]},
]


def connect_agency_to_meta(agency) -> AgencyConnection:
    """The agency's own Meta connection, as signing in through Connections makes it."""
    token = core.sandbox_token("meta", core.DEFAULT_PERSONA, name=agency.name)
    world = core.world_data("meta", token.pop("sandbox_world_id"))
    identity = core.platform("meta").agency_identity(world)
    return save_connection(agency.id, platforms.get("meta"), token, identity, user_id=None)


@pytest.fixture
def link(agency, owner):
    """A Meta request (ad account, Page, Instagram) from an agency connected to Meta."""
    connect_agency_to_meta(agency)
    return make_request(agency, owner, items=META_ITEMS)


def connect(client, token: str, persona: str = "business"):
    """From the link: Connect Meta, choose a persona in Facebook's dialog, Allow; the page."""
    page = client.get(f"/r/{token}/p/meta")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    # The Connect Meta button (or Retry, after a failure) posts to the connect step.
    fields = form_fields(html, f"/r/{token}/p/meta/connect")
    started = client.post(f"/r/{token}/p/meta/connect", data=fields)
    assert started.status_code == 303
    location = started.headers["Location"]
    assert "/sandbox/meta/www.facebook.com/v25.0/dialog/oauth?" in location
    assert "auth_type=rerequest" in location and "code_challenge_method=S256" in location
    callback = consent(client, location, persona)
    back = client.get(path_of(callback))
    assert back.status_code == 303, back.get_data(as_text=True)[:800]
    assert back.headers["Location"].endswith(f"/r/{token}/p/meta")
    return client.get(f"/r/{token}/p/meta")


def grant_preselected(client, token: str, page_html: str):
    fields = form_fields(page_html, f"/r/{token}/p/meta/grant")
    return client.post(f"/r/{token}/p/meta/grant", data=fields)


def grants() -> list[Grant]:
    db.session.expire_all()
    return list(db.session.execute(select(Grant).order_by(Grant.id)).scalars())


def test_it_takes_a_client_from_the_link_to_verified_access(client, link, rq_worker):
    access_request, token = link
    first_visit = client.get(f"/r/{token}/p/meta").get_data(as_text=True)
    assert "Connect Meta" in first_visit
    picker = connect(client, token)
    html = picker.get_data(as_text=True)
    assert picker.status_code == 200 and "Grant access" in html
    for name in ("Juniper Home Goods - United States", "Juniper Home Goods", "@juniperhomegoods"):
        assert name in html
    chosen = form_fields(html, f"/r/{token}/p/meta/grant")
    assert [k for k in chosen if k.startswith("item-")] == ["item-0", "item-1", "item-2"]

    granted = grant_preselected(client, token, html)
    assert granted.status_code == 303
    assert oauth.client_token(access_request.id, "meta") is None  # used once, then forgotten
    assert [g.status for g in grants()] == ["granted", "granted", "granted"]

    rq_worker()
    rows = grants()
    assert [(g.asset_type, g.status) for g in rows] == [
        ("AD_ACCOUNT", "verified"),
        ("PAGE", "verified"),
        ("INSTAGRAM_ACCOUNT", "verified"),
    ]
    ad_account = rows[0]
    assert ad_account.external["node_id"] == f"act_{ad_account.asset_id}"
    assert ad_account.external["permitted_tasks"] == ["ADVERTISE", "ANALYZE", "DRAFT"]
    request_row = db.session.get(AccessRequest, access_request.id)
    assert request_row.status == "completed" and request_row.completed_at is not None

    summary = client.get(f"/r/{token}/summary").get_data(as_text=True)
    assert "All set" in summary
    actions = audit_actions(access_request.agency_id)
    for action in (
        "access_request.opened",
        "oauth.client_connected",
        "grant.granted",
        "grant.verified",
        "access_request.completed",
    ):
        assert action in actions

    # Offboarding from the agency's side takes it away again.
    access = agency_access(access_request.agency_id, "meta")
    connector = platforms.get("meta")
    assert connector.revoke(
        access.token, access.identity, "AD_ACCOUNT", ad_account.asset_id, ad_account.external
    )
    check = connector.verify(
        access.token,
        access.identity,
        "AD_ACCOUNT",
        ad_account.asset_id,
        ["ADVERTISE"],
        ad_account.external,
    )
    assert check.status == "missing"


def test_it_shows_a_personal_profile_how_to_create_a_business_portfolio(client, link):
    _access_request, token = link
    html = connect(client, token, persona="personal").get_data(as_text=True)

    assert "no business portfolio" in html
    assert "Create a business portfolio" in html or "business portfolio" in html
    assert 'id="check-again-hint"' in html
    assert "Grant access" not in html  # a blocking problem stops the flow


@pytest.mark.parametrize(
    ("persona", "words"),
    [
        ("not_admin", "not an admin of harbor coffee roasters"),
        ("two_factor_off", "requires two-factor authentication"),
    ],
)
def test_it_explains_each_obstacle_with_its_fix(client, link, persona, words):
    _access_request, token = link
    html = connect(client, token, persona=persona).get_data(as_text=True)

    assert words in html.lower().replace("&amp;", "&")
    assert 'id="check-again-hint"' in html and "Grant access" not in html


def test_it_reports_a_failure_mid_grant_and_the_client_grants_it_again(client, link, rq_worker):
    access_request, token = link
    picker = connect(client, token, persona="fails_mid_grant")
    grant_preselected(client, token, picker.get_data(as_text=True))
    rq_worker()

    first = grants()
    assert [(g.asset_type, g.status) for g in first] == [
        ("AD_ACCOUNT", "failed"),
        ("PAGE", "verified"),
        ("INSTAGRAM_ACCOUNT", "verified"),
    ]
    failed = first[0]
    assert failed.error and "Try again" in failed.fix
    summary = client.get(f"/r/{token}/summary").get_data(as_text=True)
    assert "Retry" in summary and "You will sign in to Meta again" in summary
    form_fields(summary, f"/r/{token}/p/meta/connect")  # Retry signs in again

    # Signing in again as the same person reaches the same portfolio.
    again = connect(client, token, persona="fails_mid_grant")
    grant_preselected(client, token, again.get_data(as_text=True))
    rq_worker()

    assert [g.status for g in grants()] == ["verified", "verified", "verified"]
    assert db.session.get(AccessRequest, access_request.id).status == "completed"


def test_it_waits_out_metas_throttling_and_completes(client, link, rq_worker):
    access_request, token = link
    picker = connect(client, token, persona="rate_limited")
    html = picker.get_data(as_text=True)
    assert "Grant access" in html, html[:2000]

    grant_preselected(client, token, html)
    rq_worker()

    assert [g.status for g in grants()] == ["verified", "verified", "verified"]
    assert db.session.get(AccessRequest, access_request.id).status == "completed"


def test_it_is_part_of_connecting_an_agency_to_every_emulated_platform(agency):
    assert "meta" in connect_agency_to_sandbox(agency)

    connection = db.session.execute(
        select(AgencyConnection).where(
            AgencyConnection.agency_id == agency.id, AgencyConnection.platform == "meta"
        )
    ).scalar_one()
    assert connection.status == "active" and connection.account_name == agency.name
    assert connection.identity["business_id"] == connection.account_id
    # Run again (the demo does), the working connection is kept as it is.
    assert "meta" in connect_agency_to_sandbox(agency)
    db.session.refresh(connection)
    assert connection.status == "active"


def press(client, url: str, page: str = "/app/connections"):
    html = client.get(page).get_data(as_text=True)
    return client.post(url, data={"csrf_token": csrf_from(html)})


def test_an_admin_connects_the_agencys_meta_portfolio_in_connections(auth, agency, owner):
    client = auth.login(owner)
    started = press(client, "/app/connections/meta/connect")
    assert started.status_code == 303
    params = query_params(started.headers["Location"])
    assert params["code_challenge_method"] == "S256" and params["auth_type"] == "rerequest"
    assert params["scope"].split(",") == list(platforms.get("meta").oauth_endpoints().scopes)

    back = client.get(path_of(consent(client, started.headers["Location"])))

    assert back.status_code == 303 and back.headers["Location"].endswith("/app/connections")
    row = db.session.execute(
        select(AgencyConnection).where(AgencyConnection.agency_id == agency.id)
    ).scalar_one()
    assert row.platform == "meta" and row.status == "active"
    assert row.identity["business_id"] == row.account_id and row.account_name
    assert crypto.decrypt(row.access_token_encrypted).startswith("EAA")
    assert row.refresh_token_encrypted is None  # Meta has no refresh tokens
    assert "is connected as" in client.get("/app/connections").get_data(as_text=True)


def test_it_refuses_a_portfolio_other_than_the_one_in_the_receiving_identities(auth, agency, owner):
    agency.identities = {"meta": {"business_id": "1234567890"}}
    db.session.commit()
    client = auth.login(owner)
    started = press(client, "/app/connections/meta/connect")

    back = client.get(path_of(consent(client, started.headers["Location"])))

    assert back.status_code == 303
    page = client.get("/app/connections").get_data(as_text=True)
    assert "1234567890" in page and "Receiving identities" in page
    assert db.session.execute(select(AgencyConnection)).first() is None
    assert "connection.failed" in audit_actions(agency.id)
