"""The one-link client flow on TikTok and on LinkedIn, end to end.

The test client plays the client's browser (link → connect → platform consent
→ choose assets → grant → results → summary); the connectors reach the
emulated platforms over real HTTP on the live server; RQ's worker runs the
verification jobs from the agency's side.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from helpers_requests import audit_actions, consent, csrf_from, form_fields, make_request, path_of
from sqlalchemy import select

from portal import platforms
from portal.extensions import db
from portal.models import AccessRequest, AgencyConnection, Grant
from portal.sandbox import core
from portal.services.connections import save_connection

pytestmark = pytest.mark.usefixtures("live_server")

ITEMS = {
    "tiktok": [
        {"platform": "tiktok", "asset_type": "ADVERTISER", "permissions": ["OPERATOR"]},
        {"platform": "tiktok", "asset_type": "CATALOG", "permissions": ["AD_PROMOTE"]},
    ],
    "linkedin": [
        {"platform": "linkedin", "asset_type": "AD_ACCOUNT", "permissions": ["CAMPAIGN_MANAGER"]},
        {
            "platform": "linkedin",
            "asset_type": "ORGANIZATION",
            "permissions": ["DIRECT_SPONSORED_CONTENT_POSTER", "ANALYST"],
        },
    ],
}
NAMES = {"tiktok": "TikTok", "linkedin": "LinkedIn"}


def connect_agency(agency, platform: str) -> AgencyConnection:
    """The agency's own connection to the emulated platform (as Connections saves it)."""
    token = core.sandbox_token(platform, "business", name=agency.name)
    world = core.world_data(platform, token.pop("sandbox_world_id"))
    identity = core.platform(platform).agency_identity(world)
    return save_connection(agency.id, platforms.get(platform), token, identity, user_id=None)


def connect(client, token: str, platform: str, persona: str = "business"):
    """From the link: Connect, choose a persona on the platform's page, Allow; the step page."""
    page = client.get(f"/r/{token}")
    html = page.get_data(as_text=True)
    assert f"Connect {NAMES[platform]}" in html
    started = client.post(f"/r/{token}/p/{platform}/connect", data={"csrf_token": csrf_from(html)})
    assert started.status_code == 303
    callback = consent(client, started.headers["Location"], persona)
    back = client.get(path_of(callback))
    assert back.status_code == 303, back.get_data(as_text=True)[:800]
    assert back.headers["Location"].endswith(f"/r/{token}/p/{platform}")
    return client.get(f"/r/{token}/p/{platform}")


def grant_preselected(client, token: str, platform: str, page_html: str):
    fields = form_fields(page_html, f"/r/{token}/p/{platform}/grant")
    return client.post(f"/r/{token}/p/{platform}/grant", data=fields)


def share_catalog_by_hand(client, token: str, connection: AgencyConnection) -> None:
    """TikTok's API shares no catalog with a partner: the catalog item waits on the
    client, who shares it in Business Center (the sandbox's stand-in page, linked
    from the step) and says it is done; the agency side then checks it."""
    (catalog,) = [g for g in grants() if g.asset_type == "CATALOG"]
    assert catalog.status == "needs_action" and catalog.manual
    steps = client.get(f"/r/{token}/steps").get_data(as_text=True)
    assert connection.identity["business_id"] in steps
    page = client.get("/sandbox/tiktok/business.tiktok.com/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and catalog.asset_id in html
    shared = client.post(
        "/sandbox/tiktok/business.tiktok.com/",
        data={
            "csrf_token": csrf_from(html),
            "catalog_id": catalog.asset_id,
            "partner_id": connection.identity["business_id"],
            "role": "AD_PROMOTE",
        },
    )
    assert shared.status_code == 303
    done_url = f"/r/{token}/grants/{catalog.id}/done"
    assert client.post(done_url, data=form_fields(steps, done_url)).status_code in (302, 303)


def grants() -> list[Grant]:
    db.session.expire_all()
    return list(db.session.execute(select(Grant).order_by(Grant.id)).scalars())


@pytest.mark.parametrize("platform", ["tiktok", "linkedin"])
def test_it_takes_a_client_from_the_link_to_verified_access(
    client, agency, owner, rq_worker, platform
):
    connection = connect_agency(agency, platform)
    access_request, token = make_request(agency, owner, items=ITEMS[platform])

    picker = connect(client, token, platform)
    html = picker.get_data(as_text=True)
    assert picker.status_code == 200 and "Grant access" in html
    chosen = form_fields(html, f"/r/{token}/p/{platform}/grant")
    assert [k for k in chosen if k.startswith("item-")] == ["item-0", "item-1"]
    answer = grant_preselected(client, token, platform, html)
    assert answer.status_code == 303
    results = client.get(f"/r/{token}/p/{platform}").get_data(as_text=True)
    assert "Granted" in results or "Verifying" in results

    rq_worker()
    if platform == "tiktok":
        share_catalog_by_hand(client, token, connection)
        rq_worker()
    rows = grants()
    assert [(g.item_index, g.status) for g in rows] == [(0, "verified"), (1, "verified")], [
        (g.error, g.fix) for g in rows
    ]
    if platform == "tiktok":
        assert rows[0].external["client_business_id"]
        assert rows[0].external["agency_business_id"] == connection.identity["business_id"]
    else:
        assert rows[0].external["agency_person_urn"] == connection.identity["person_urn"]
    request_row = db.session.get(AccessRequest, access_request.id)
    assert request_row.status == "completed"
    summary = client.get(f"/r/{token}/summary").get_data(as_text=True)
    assert "All set" in summary
    actions = audit_actions(agency.id)
    for action in ("oauth.client_connected", "grant.granted", "grant.verified"):
        assert action in actions


def test_tiktoks_sign_in_comes_back_with_its_auth_code(client, agency, owner):
    connect_agency(agency, "tiktok")
    _access_request, token = make_request(agency, owner, items=ITEMS["tiktok"])
    page = client.get(f"/r/{token}").get_data(as_text=True)
    started = client.post(f"/r/{token}/p/tiktok/connect", data={"csrf_token": csrf_from(page)})

    authorize = parse_qs(urlsplit(started.headers["Location"]).query)
    callback = parse_qs(urlsplit(consent(client, started.headers["Location"])).query)

    assert authorize["app_id"] == ["sandbox-tiktok"]
    # TikTok's authorization page takes these only: no scope, no PKCE.
    assert set(authorize) == {"app_id", "state", "redirect_uri"}
    assert callback["auth_code"] == callback["code"]


@pytest.mark.parametrize(
    ("platform", "persona", "words"),
    [
        ("tiktok", "personal", "no Business Center"),
        ("tiktok", "not_admin", "not an admin"),
        ("linkedin", "personal", "manages no ad account"),
        ("linkedin", "not_admin", "cannot add people"),
    ],
)
def test_it_explains_each_obstacle_with_its_fix(client, agency, owner, platform, persona, words):
    connect_agency(agency, platform)
    _access_request, token = make_request(agency, owner, items=ITEMS[platform])

    html = connect(client, token, platform, persona).get_data(as_text=True)

    assert words in html
    assert "Retry" in html or "Check again" in html  # the button to check again
    assert "Grant access" not in html  # a blocking problem stops the flow


@pytest.mark.parametrize("platform", ["tiktok", "linkedin"])
def test_it_reports_a_failure_mid_grant_with_its_fix_and_a_retry(
    client, agency, owner, rq_worker, platform
):
    connect_agency(agency, platform)
    _access_request, token = make_request(agency, owner, items=ITEMS[platform][:1])
    picker = connect(client, token, platform, "fails_mid_grant")

    grant_preselected(client, token, platform, picker.get_data(as_text=True))
    rq_worker()

    (failed,) = grants()
    assert failed.status == "failed" and failed.error and failed.fix
    assert failed.external["retryable"] is True
    summary = client.get(f"/r/{token}/summary").get_data(as_text=True)
    assert "Retry" in summary
    assert failed.fix.split(".")[0] in summary.replace("&#39;", "'")


@pytest.mark.parametrize("platform", ["tiktok", "linkedin"])
def test_a_rate_limited_client_gets_through_by_waiting_as_told(
    client, agency, owner, rq_worker, platform
):
    connection = connect_agency(agency, platform)
    access_request, token = make_request(agency, owner, items=ITEMS[platform])

    picker = connect(client, token, platform, "rate_limited")
    html = picker.get_data(as_text=True)
    assert "Grant access" in html, html[html.find('id="step"') :][:1500]
    grant_preselected(client, token, platform, html)
    rq_worker()
    if platform == "tiktok":
        share_catalog_by_hand(client, token, connection)
        rq_worker()

    assert [g.status for g in grants()] == ["verified", "verified"]
    assert db.session.get(AccessRequest, access_request.id).status == "completed"


def test_tiktok_explains_a_business_center_that_requires_two_step_verification(
    client, agency, owner
):
    connect_agency(agency, "tiktok")
    _access_request, token = make_request(agency, owner, items=ITEMS["tiktok"][:1])
    picker = connect(client, token, "tiktok", "two_factor_off")

    grant_preselected(client, token, "tiktok", picker.get_data(as_text=True))

    (failed,) = grants()
    assert failed.status == "failed"
    assert "2-step verification" in failed.error
    page = client.get(f"/r/{token}/p/tiktok").get_data(as_text=True)
    assert "2-step verification" in page


@pytest.mark.parametrize("platform", ["tiktok", "linkedin"])
def test_a_revoked_grant_is_found_removed_by_the_nightly_check(
    client, agency, owner, rq_worker, platform
):
    from worker.jobs import reverify_grant

    connection = connect_agency(agency, platform)
    _access_request, token = make_request(agency, owner, items=ITEMS[platform][:1])
    picker = connect(client, token, platform)
    grant_preselected(client, token, platform, picker.get_data(as_text=True))
    rq_worker()
    (grant,) = grants()
    assert grant.status == "verified"
    assert reverify_grant(grant.id) == "verified"

    from portal.services.connections import agency_access

    access = agency_access(agency.id, platform)
    connector = platforms.get(platform)
    assert connector.revoke(
        access.token, access.identity, grant.asset_type, grant.asset_id, dict(grant.external)
    )

    assert reverify_grant(grant.id) == "removed"
    (grant,) = grants()
    assert grant.status == "removed"
    assert connection.identity  # the agency's connection is what verified and revoked


def test_the_sandbox_connects_an_agency_to_tiktok_and_linkedin(agency):
    from portal.sandbox.connect import connect_agency_to_sandbox

    connected = connect_agency_to_sandbox(agency)

    assert {"tiktok", "linkedin"} <= set(connected)
    rows = {
        c.platform: c
        for c in db.session.execute(
            select(AgencyConnection).where(AgencyConnection.agency_id == agency.id)
        ).scalars()
    }
    assert rows["tiktok"].account_name == agency.name
    assert rows["linkedin"].identity["person_urn"].startswith("urn:li:person:")


# ------------------------------------------------- the agency's side, Connections


def connect_in_connections(client, platform: str):
    """Admin → Connections → Connect, Allow on the platform's page; the page after."""
    page = client.get("/app/connections").get_data(as_text=True)
    started = client.post(
        f"/app/connections/{platform}/connect", data={"csrf_token": csrf_from(page)}
    )
    assert started.status_code == 303
    back = client.get(path_of(consent(client, started.headers["Location"])))
    assert back.status_code == 303 and back.headers["Location"].endswith("/app/connections")
    return client.get("/app/connections").get_data(as_text=True)


def connection_of(agency, platform: str) -> AgencyConnection | None:
    db.session.expire_all()
    return db.session.execute(
        select(AgencyConnection).where(
            AgencyConnection.agency_id == agency.id, AgencyConnection.platform == platform
        )
    ).scalar_one_or_none()


def test_an_admin_connects_tiktok_and_linkedin_in_connections(auth, agency, owner):
    client = auth.login(owner)

    tiktok_page = connect_in_connections(client, "tiktok")
    linkedin_page = connect_in_connections(client, "linkedin")

    tiktok = connection_of(agency, "tiktok")
    linkedin = connection_of(agency, "linkedin")
    assert tiktok.status == "active" and tiktok.identity["business_id"].isdigit()
    assert "TikTok is connected as Juniper Home Goods" in tiktok_page
    assert linkedin.identity["name"] == "Maya Okafor"
    assert "LinkedIn is connected as Maya Okafor" in linkedin_page
    assert linkedin.refresh_token_encrypted and linkedin.expires_at


def test_tiktok_connects_the_business_center_named_in_receiving_identities(auth, agency, owner):
    agency.identities = {"tiktok": {"business_id": "7000000000000000001"}}
    db.session.commit()
    client = auth.login(owner)

    page = connect_in_connections(client, "tiktok")

    assert connection_of(agency, "tiktok") is None
    assert "not a member of the Business Center 7000000000000000001" in page
    assert "Receiving identities" in page


def test_receiving_identities_take_a_tiktok_business_center_id(auth, agency, owner):
    client = auth.login(owner)
    page = client.get("/app/connections").get_data(as_text=True)
    assert "TikTok Business Center id" in page

    bad = client.post(
        "/app/connections/identities",
        data={"csrf_token": csrf_from(page), "tiktok.business_id": "not-digits"},
    )
    good = client.post(
        "/app/connections/identities",
        data={"csrf_token": csrf_from(page), "tiktok.business_id": "7012345678901234567"},
    )

    assert bad.status_code == 422
    assert good.status_code == 303
    db.session.refresh(agency)
    assert agency.identities["tiktok"] == {"business_id": "7012345678901234567"}


# ------------------------------------------------------------ around the grant


def test_removal_steps_name_the_place_and_the_person():
    from portal.notifications.removal import removal_steps

    tiktok = Grant(platform="tiktok", asset_type="ADVERTISER", asset_id="1", asset_name="Shop US")
    page = Grant(
        platform="linkedin",
        asset_type="ORGANIZATION",
        asset_id="2",
        external={"agency_person_name": "Sam Rivera"},
    )
    account = Grant(platform="linkedin", asset_type="AD_ACCOUNT", asset_id="3", asset_name="Ads")

    assert any("Users → Partners" in s for s in removal_steps(tiktok, "Northwind"))
    assert any("Shop US" in s for s in removal_steps(tiktok, "Northwind"))
    assert any("Manage admins" in s for s in removal_steps(page, "Northwind"))
    assert any("Sam Rivera (Northwind)" in s for s in removal_steps(page, "Northwind"))
    assert any("Manage access" in s for s in removal_steps(account, "Northwind"))


def test_the_demo_templates_ask_for_real_roles():
    from portal.services.demo import LINKEDIN_ONBOARDING, TIKTOK_ADS
    from portal.services.requests import normalise_items

    assert normalise_items(TIKTOK_ADS) == TIKTOK_ADS
    assert normalise_items(LINKEDIN_ONBOARDING) == LINKEDIN_ONBOARDING
