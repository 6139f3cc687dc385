"""The one-link client flow for Google, end to end, against the emulated Google.

The test client plays the client's browser (the link pages, Google's consent
page and Search Console's Users and permissions page); the connector reaches
the sandbox over real HTTP on the live server; RQ's worker runs verification.
"""

from __future__ import annotations

from urllib.parse import parse_qs, quote, urlsplit

import pytest
from helpers_requests import (
    audit_actions,
    consent,
    csrf_from,
    form_fields,
    make_request,
    path_of,
)
from sqlalchemy import select

from portal.extensions import db
from portal.models import AccessRequest, AgencyConnection, Grant

pytestmark = pytest.mark.usefixtures("live_server")

ITEMS = [
    {"platform": "google", "asset_type": "ADS_ACCOUNT", "permissions": ["MANAGER_LINK"]},
    {
        "platform": "google",
        "asset_type": "GA4_PROPERTY",
        "permissions": ["predefinedRoles/analyst"],
    },
    {"platform": "google", "asset_type": "TAG_MANAGER_CONTAINER", "permissions": ["publish"]},
    {"platform": "google", "asset_type": "MERCHANT_CENTER_ACCOUNT", "permissions": ["STANDARD"]},
    {"platform": "google", "asset_type": "BUSINESS_PROFILE_LOCATION", "permissions": ["MANAGER"]},
    {
        "platform": "google",
        "asset_type": "SEARCH_CONSOLE_PROPERTY",
        "permissions": ["siteFullUser"],
    },
]


@pytest.fixture
def google(agency):
    """The agency's real connection to the emulated Google."""
    from portal.sandbox.connect import connect_agency_to_sandbox

    connect_agency_to_sandbox(agency)
    return db.session.execute(
        select(AgencyConnection).where(
            AgencyConnection.agency_id == agency.id, AgencyConnection.platform == "google"
        )
    ).scalar_one()


def connect(client, token: str, persona: str = "business"):
    """From the link: Connect Google, choose a persona, Allow; back on the link."""
    page = client.get(f"/r/{token}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Connect Google" in html
    started = client.post(f"/r/{token}/p/google/connect", data={"csrf_token": csrf_from(html)})
    assert started.status_code == 303
    location = started.headers["Location"]
    query = parse_qs(urlsplit(location).query)
    assert "/sandbox/google/accounts.google.com/o/oauth2/v2/auth" in location
    assert query["access_type"] == ["offline"] and query["code_challenge_method"] == ["S256"]
    callback = consent(client, location, persona)
    back = client.get(path_of(callback))
    assert back.status_code == 303, back.get_data(as_text=True)[:800]
    assert back.headers["Location"].endswith(f"/r/{token}/p/google")
    return client.get(f"/r/{token}/p/google")


def grants_by_type() -> dict[str, Grant]:
    db.session.expire_all()
    return {g.asset_type: g for g in db.session.execute(select(Grant)).scalars()}


def test_it_takes_a_client_from_the_link_to_verified_google_access(
    client, agency, owner, google, rq_worker
):
    access_request, token = make_request(agency, owner, items=ITEMS)
    picker = connect(client, token)
    html = picker.get_data(as_text=True)
    assert picker.status_code == 200 and "Grant access" in html
    assert "Juniper Home Goods - Search" in html and "Juniper Home Goods shop" in html
    chosen = form_fields(html, f"/r/{token}/p/google/grant")
    assert [k for k in chosen if k.startswith("item-")] == [f"item-{i}" for i in range(6)]

    granted = client.post(f"/r/{token}/p/google/grant", data=chosen)
    assert granted.status_code == 303
    results = client.get(f"/r/{token}/p/google").get_data(as_text=True)
    assert "Checking that the agency can see it" in results

    rq_worker()
    grants = grants_by_type()
    assert {t: g.status for t, g in grants.items()} == {
        "ADS_ACCOUNT": "verified",
        "GA4_PROPERTY": "verified",
        "TAG_MANAGER_CONTAINER": "verified",
        "MERCHANT_CENTER_ACCOUNT": "verified",
        "BUSINESS_PROFILE_LOCATION": "verified",
        "SEARCH_CONSOLE_PROPERTY": "needs_action",
    }
    # The invitations were pending until verification accepted them for the agency.
    assert grants["BUSINESS_PROFILE_LOCATION"].external["awaiting_acceptance"] is True
    assert grants["MERCHANT_CENTER_ACCOUNT"].external["waiting_for"] == "agency_acceptance"
    assert grants["ADS_ACCOUNT"].external["manager_id"] == google.identity["manager_id"]
    assert db.session.get(AccessRequest, access_request.id).status == "in_progress"

    # Search Console has no API: the client follows the steps in Search Console.
    steps = client.get(f"/r/{token}/steps")
    steps_html = steps.get_data(as_text=True)
    assert steps.status_code == 200
    assert "Add the agency in Search Console" in steps_html
    assert "Settings → Users and permissions" in steps_html
    assert "/sandbox/google/search.google.com/search-console/users" in steps_html
    # The steps name the agency's Google account, taken from its connection.
    assert google.identity["email"] in steps_html
    assert "ask the agency for it" not in steps_html
    site = grants["SEARCH_CONSOLE_PROPERTY"]
    users_page = "/sandbox/google/search.google.com/search-console/users"
    shown = client.get(f"{users_page}?resource_id={quote(site.asset_id, safe='')}")
    assert shown.status_code == 200 and site.asset_id in shown.get_data(as_text=True)
    added = client.post(
        users_page,
        data={
            "csrf_token": csrf_from(shown.get_data(as_text=True)),
            "resource_id": site.asset_id,
            "email": google.identity["email"],
            "level": "siteFullUser",
        },
    )
    assert added.status_code == 303

    done_url = f"/r/{token}/grants/{site.id}/done"
    answer = client.post(done_url, data=form_fields(steps_html, done_url))
    assert answer.status_code == 303
    rq_worker()
    db.session.expire_all()
    assert db.session.get(Grant, site.id).status == "verified"
    request_row = db.session.get(AccessRequest, access_request.id)
    assert request_row.status == "completed" and request_row.completed_at is not None
    summary = client.get(f"/r/{token}/summary").get_data(as_text=True)
    assert "All set" in summary
    actions = audit_actions(agency.id)
    for action in (
        "oauth.client_connected",
        "grant.granted",
        "grant.needs_action",
        "grant.manual_done",
        "grant.verified",
        "access_request.completed",
    ):
        assert action in actions


def test_it_stops_a_personal_account_with_what_to_do(client, agency, owner, google):
    _access_request, token = make_request(agency, owner, items=ITEMS[:2])

    html = connect(client, token, persona="personal").get_data(as_text=True)

    assert "has nothing to share with the agency" in html
    assert "work address" in html
    assert 'id="check-again-hint"' in html and "Grant access" not in html


def test_it_warns_a_member_without_admin_rights_and_explains_each_refusal(
    client, agency, owner, google, rq_worker
):
    _access_request, token = make_request(agency, owner, items=ITEMS[:4])
    picker = connect(client, token, persona="not_admin")
    html = picker.get_data(as_text=True)
    assert "not an Administrator" in html and "Grant access" in html

    client.post(f"/r/{token}/p/google/grant", data=form_fields(html, f"/r/{token}/p/google/grant"))
    rq_worker()

    grants = grants_by_type()
    assert {g.status for g in grants.values()} == {"failed"}
    assert all(g.error and g.fix for g in grants.values())
    summary = client.get(f"/r/{token}/summary").get_data(as_text=True)
    assert "Retry" in summary
    assert "Only an administrator of this Google Ads account" in summary
