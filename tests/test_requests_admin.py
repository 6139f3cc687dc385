"""Requests in the agency area: create, list, follow live, revoke; roles and tenancy."""

from __future__ import annotations

import re

from helpers_requests import audit_actions, csrf_from, fake_connection, make_request
from sqlalchemy import select

from portal import crypto
from portal.extensions import db
from portal.models import AccessRequest, Grant, Template
from portal.models.base import utcnow


def form_data(csrf: str, **overrides):
    data = {
        "csrf_token": csrf,
        "client_name": "Blue Harbor",
        "client_email": "ops@blueharbor.test",
        "locale": "fr",
        "message": "We will run your ads.",
        "expires_in_days": "7",
        "redirect_url": "",
        "perm": [
            "pinterest|AD_ACCOUNT|CAMPAIGN_MANAGER",
            "pinterest|AD_ACCOUNT|ANALYST",
            "pinterest|PROFILE|PROFILE_PUBLISHER",
        ],
    }
    data.update(overrides)
    return data


def test_it_creates_a_request_from_the_form(auth, agency, member):
    fake_connection(agency)
    client = auth.login(member)
    page = client.get("/app/requests/new")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "See reports and analytics; change nothing." in html  # each permission explained
    answer = client.post("/app/requests/new", data=form_data(csrf_from(html)))
    assert answer.status_code == 303
    access_request = db.session.execute(select(AccessRequest)).scalar_one()
    assert answer.headers["Location"].endswith(f"/app/requests/{access_request.id}")
    assert access_request.locale == "fr"
    assert access_request.items == [
        {
            "platform": "pinterest",
            "asset_type": "AD_ACCOUNT",
            "permissions": ["CAMPAIGN_MANAGER", "ANALYST"],
        },
        {"platform": "pinterest", "asset_type": "PROFILE", "permissions": ["PROFILE_PUBLISHER"]},
    ]
    detail = client.get(answer.headers["Location"]).get_data(as_text=True)
    token = crypto.decrypt(access_request.token_encrypted)
    assert f"/r/{token}" in detail
    assert 'data-copy="request-link"' in detail
    assert "Revoke" in detail


def test_it_shows_what_to_fix_in_the_form(auth, agency, member):
    fake_connection(agency)
    client = auth.login(member)
    csrf = csrf_from(client.get("/app/requests/new").get_data(as_text=True))
    answer = client.post("/app/requests/new", data=form_data(csrf, client_email="nope", perm=[]))
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert "Enter a valid e-mail address" in html
    assert "Choose at least one thing to ask for." in html
    assert db.session.execute(select(AccessRequest)).first() is None


def test_it_says_to_connect_pinterest_first(auth, agency, member):
    client = auth.login(member)
    html = client.get("/app/requests/new").get_data(as_text=True)
    assert "Connect Pinterest in Connections first" in html
    assert 'href="/app/connections"' in html
    answer = client.post("/app/requests/new", data=form_data(csrf_from(html)))
    assert answer.status_code == 422
    assert "Connect Pinterest in Connections first." in answer.get_data(as_text=True)


def test_it_prefills_the_form_from_a_template(auth, agency, member):
    fake_connection(agency)
    template = Template(
        agency_id=agency.id,
        name="Reporting",
        message="Read-only, for reports.",
        items=[{"platform": "pinterest", "asset_type": "AD_ACCOUNT", "permissions": ["ANALYST"]}],
    )
    db.session.add(template)
    db.session.commit()
    client = auth.login(member)
    html = client.get(f"/app/requests/new?template_id={template.id}").get_data(as_text=True)
    box = re.search(
        r'<input type="checkbox"[^>]*value="pinterest\|AD_ACCOUNT\|ANALYST"[^>]*>', html
    )
    assert box and "checked" in box.group(0)
    other = re.search(
        r'<input type="checkbox"[^>]*value="pinterest\|AD_ACCOUNT\|ADMIN"[^>]*>', html
    )
    assert "checked" not in other.group(0)
    assert "Read-only, for reports." in html


def _folding(html: str) -> dict[str, tuple[bool, str]]:
    """Each platform of the picker: (open?, what its name line says)."""
    found = re.findall(
        r'<details class="platform-items"( open)?>\s*<summary><h2 id="pf-([a-z_-]+)">(.*?)</h2>',
        html,
        re.S,
    )
    return {pid: (bool(is_open), re.sub(r"<[^>]+>", "", text)) for is_open, pid, text in found}


def test_the_picker_opens_only_the_platforms_in_use(auth, agency, member):
    fake_connection(agency)  # Pinterest only: its section opens by itself
    client = auth.login(member)
    folding = _folding(client.get("/app/requests/new").get_data(as_text=True))
    assert folding["pinterest"] == (True, "Pinterest")
    assert folding["meta"] == (False, "Meta · not connected")
    assert folding["shopify"] == (False, "Shopify")

    fake_connection(agency, "meta")
    template = Template(
        agency_id=agency.id,
        name="Ads",
        items=[{"platform": "meta", "asset_type": "AD_ACCOUNT", "permissions": ["ADVERTISE"]}],
    )
    db.session.add(template)
    db.session.commit()
    folding = _folding(
        client.get(f"/app/requests/new?template_id={template.id}").get_data(as_text=True)
    )
    assert folding["meta"] == (True, "Meta · 1 chosen")
    assert folding["pinterest"] == (False, "Pinterest")  # two connected: none opens by itself


def test_it_lists_requests_most_recent_first_with_pages(auth, agency, viewer, owner):
    fake_connection(agency)
    for n in range(27):
        make_request(agency, owner, client_name=f"Client {n:02d}", client_email=f"c{n}@x.test")
    client = auth.login(viewer)
    first = client.get("/app/requests").get_data(as_text=True)
    assert first.index("Client 26") < first.index("Client 25")
    assert "Client 01" not in first
    assert "Page 1 of 2" in first
    second = client.get("/app/requests?page=2").get_data(as_text=True)
    assert "Client 01" in second and "Client 00" in second
    assert "New access request" not in first  # viewers read only


def test_it_shows_live_per_asset_status_that_stops_when_settled(auth, agency, viewer, owner):
    fake_connection(agency)
    access_request, _token = make_request(agency, owner)
    access_request.status = "in_progress"
    access_request.grants.append(
        Grant(
            agency_id=agency.id,
            item_index=0,
            platform="pinterest",
            asset_type="AD_ACCOUNT",
            permissions=["CAMPAIGN_MANAGER"],
            asset_id="299315577927",
            asset_name="Juniper Home Goods",
            status="verifying",
            granted_at=utcnow(),
        )
    )
    db.session.commit()
    client = auth.login(viewer)
    url = f"/app/requests/{access_request.id}"
    page = client.get(url).get_data(as_text=True)
    assert "Juniper Home Goods" in page
    assert 'hx-trigger="load delay:2s"' in page
    assert "/r/" not in page  # viewers do not get the client's link
    status = client.get(url, headers={"HX-Request": "true", "HX-Target": "request-status"})
    fragment = status.get_data(as_text=True)
    assert fragment.lstrip().startswith('<div id="request-status"')
    assert "Verifying" in fragment

    grant = access_request.grants[0]
    grant.status = "verified"
    access_request.grants.append(
        Grant(
            agency_id=agency.id,
            item_index=1,
            platform="pinterest",
            asset_type="PROFILE",
            permissions=["PROFILE_PUBLISHER"],
            asset_id="1",
            status="verified",
        )
    )
    access_request.status = "completed"
    db.session.commit()
    done = client.get(url, headers={"HX-Request": "true", "HX-Target": "request-status"})
    assert "hx-get" not in done.get_data(as_text=True)
    assert "Completed" in done.get_data(as_text=True)


def test_it_revokes_a_request_and_its_link_answers_410(auth, client, agency, member, owner):
    fake_connection(agency)
    access_request, token = make_request(agency, owner)
    auth.login(member)
    url = f"/app/requests/{access_request.id}"
    answer = client.post(
        f"{url}/revoke", data={"csrf_token": csrf_from(client.get(url).get_data(as_text=True))}
    )
    assert answer.status_code == 303
    assert "access_request.revoked" in audit_actions(agency.id)
    auth.logout()
    assert client.get(f"/r/{token}").status_code == 410


def test_it_refuses_viewers_to_create_or_revoke(auth, agency, viewer, owner):
    fake_connection(agency)
    access_request, _token = make_request(agency, owner)
    client = auth.login(viewer)
    assert client.get("/app/requests/new").status_code == 403
    csrf = csrf_from(client.get("/app/requests").get_data(as_text=True))
    assert client.post("/app/requests/new", data=form_data(csrf)).status_code == 403
    assert (
        client.post(
            f"/app/requests/{access_request.id}/revoke", data={"csrf_token": csrf}
        ).status_code
        == 403
    )


def test_it_hides_other_agencies_requests(auth, agency, owner, outsider):
    fake_connection(agency)
    access_request, _token = make_request(agency, owner)
    client = auth.login(outsider)
    assert client.get(f"/app/requests/{access_request.id}").status_code == 404
    csrf = csrf_from(client.get("/app/requests").get_data(as_text=True))
    revoke = client.post(f"/app/requests/{access_request.id}/revoke", data={"csrf_token": csrf})
    assert revoke.status_code == 404
    assert "Blue Harbor" not in client.get("/app/requests").get_data(as_text=True)
    db.session.refresh(access_request)
    assert access_request.status == "sent"


def test_it_puts_requests_in_the_navigation(auth, agency, viewer):
    html = auth.login(viewer).get("/app/").get_data(as_text=True)
    assert 'href="/app/requests"' in html
    assert 'href="/app/connections"' in html


def test_it_polls_calmly_while_waiting_for_the_client(auth, agency, viewer, owner):
    fake_connection(agency)
    access_request, _token = make_request(agency, owner)
    html = auth.login(viewer).get(f"/app/requests/{access_request.id}").get_data(as_text=True)
    assert 'hx-trigger="load delay:10s"' in html
    assert "Waiting for the client" in html
