"""Guided manual platforms: Snapchat, Microsoft Advertising and Shopify.

No OAuth and no grant API: the client reads exact steps with the agency's
receiving identity filled in, sends back what the platform needs (checked for
format at once), and the grant waits on the agency, which confirms the access
on the platform and marks the step done. Then, and only then, it is verified.
"""

from __future__ import annotations

import io
import json

import pytest
from helpers_requests import (
    PINTEREST_ITEMS,
    audit_actions,
    consent,
    csrf_from,
    form_fields,
    make_request,
    path_of,
    sandbox_connection,
)
from pypdf import PdfReader
from sqlalchemy import select
from test_api_support import api_key, bearer

from portal import platforms
from portal.extensions import db
from portal.models import AccessRequest, Grant, WebhookDelivery
from portal.platforms.base import PlatformError

IDENTITIES = {
    "snapchat": {"email": "ads@acme.test"},
    "microsoft_ads": {"manager_account_id": "987654321"},
    "shopify": {"partner_organization": "Acme Partners"},
}
SHOPIFY = [{"platform": "shopify", "asset_type": "STORE", "permissions": ["APPS", "ONLINE_STORE"]}]
SNAPCHAT = [{"platform": "snapchat", "asset_type": "AD_ACCOUNT", "permissions": ["general"]}]
MICROSOFT = [{"platform": "microsoft_ads", "asset_type": "ACCOUNT", "permissions": ["CLIENT_LINK"]}]
AD_ACCOUNT_ID = "4f2c8a1e-9b7d-4c3e-8f21-6a5b4c3d2e1f"


@pytest.fixture
def identified(agency):
    """Acme with its receiving identities for the three platforms filled in."""
    agency.identities = json.loads(json.dumps(IDENTITIES))
    db.session.commit()
    return agency


def reply_url(token: str, platform: str, index: int = 0) -> str:
    return f"/r/{token}/p/{platform}/items/{index}/reply"


def send(client, token: str, platform: str, index: int = 0, headers=None, **values):
    """Fill in the item's form as a person would and press Send."""
    html = client.get(f"/r/{token}/p/{platform}").get_data(as_text=True)
    fields = form_fields(html, reply_url(token, platform, index))
    for name, value in values.items():
        fields.setlist(name, [value])
    return client.post(reply_url(token, platform, index), data=fields, headers=headers or {})


def grants() -> list[Grant]:
    db.session.expire_all()
    return list(db.session.execute(select(Grant).order_by(Grant.id)).scalars())


def confirm_as_agency(client, auth, user, access_request, grant):
    """The agency's "Mark the step done" on the request page (the existing action)."""
    auth.login(user)
    page = client.get(f"/app/requests/{access_request.id}")
    assert page.status_code == 200
    csrf = csrf_from(page.get_data(as_text=True))
    answer = client.post(
        f"/app/requests/{access_request.id}/grants/{grant.id}/done", data={"csrf_token": csrf}
    )
    assert answer.status_code == 303
    auth.logout()
    return answer


def pdf_text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


# ------------------------------------------------------------------ registry


@pytest.mark.parametrize(
    ("platform", "asset_type", "roles"),
    [
        ("snapchat", "AD_ACCOUNT", {"admin", "general", "creative", "reports", "audience"}),
        ("microsoft_ads", "ACCOUNT", {"CLIENT_LINK", "BILL_TO_AGENCY"}),
        (
            "shopify",
            "STORE",
            {
                "PRODUCTS",
                "ORDERS",
                "CUSTOMERS",
                "ANALYTICS",
                "MARKETING",
                "DISCOUNTS",
                "ONLINE_STORE",
                "APPS",
                "SETTINGS",
            },
        ),
    ],
)
def test_it_registers_each_guided_platform_with_its_real_role_names(platform, asset_type, roles):
    connector = platforms.get(platform)
    assert connector.needs_agency_connection is False
    assert all(t.manual for t in connector.asset_types)
    found = connector.asset_type(asset_type)
    assert {p.id for p in found.permissions} == roles
    assert all(str(p.label) and str(p.explanation) for p in found.permissions)
    with pytest.raises(PlatformError) as refused:
        connector.oauth_endpoints()
    assert refused.value.fix


def test_it_offers_the_guided_platforms_in_the_api_and_the_template_editor(
    client, auth, agency, owner
):
    body = client.get("/api/v1/platforms", headers=bearer(api_key(agency))).get_json()
    listed = {p["id"]: p for p in body["data"]}
    assert listed["snapchat"]["name"] == "Snapchat"
    assert listed["microsoft_ads"]["asset_types"][0]["id"] == "ACCOUNT"
    shopify_roles = {p["id"] for p in listed["shopify"]["asset_types"][0]["permissions"]}
    assert {"APPS", "ONLINE_STORE"} <= shopify_roles
    auth.login(owner)
    editor = client.get("/app/templates/new").get_data(as_text=True)
    for value in ("snapchat|AD_ACCOUNT|general", "microsoft_ads|ACCOUNT|CLIENT_LINK"):
        assert f'value="{value}"' in editor
    assert 'value="shopify|STORE|APPS"' in editor


def test_it_says_on_the_request_form_which_receiving_identity_is_missing(
    client, auth, agency, owner
):
    auth.login(owner)
    form = client.get("/app/requests/new").get_data(as_text=True)
    assert "Clients cannot follow the Snapchat steps until you set: Snapchat member e-mail" in form
    assert "Shopify Partner organisation name" in form
    # No agency connection is needed: the permissions can be ticked.
    assert 'value="shopify|STORE|APPS" aria-describedby' in form
    assert "Shopify is not connected" not in form
    agency.identities = json.loads(json.dumps(IDENTITIES))
    db.session.commit()
    form = client.get("/app/requests/new").get_data(as_text=True)
    assert "Clients cannot follow" not in form


def test_it_saves_the_receiving_identities_and_checks_their_format(client, auth, agency, owner):
    auth.login(owner)
    page = client.get("/app/connections").get_data(as_text=True)
    # Guided platforms need no connection: only their identity is asked for.
    assert "Connect Snapchat" not in page and "Connect Shopify" not in page
    csrf = csrf_from(page)
    bad = client.post(
        "/app/connections/identities",
        data={
            "csrf_token": csrf,
            "snapchat.email": "not an e-mail",
            "microsoft_ads.manager_account_id": "F12-abc",
        },
    )
    assert bad.status_code == 422
    assert "Enter a valid e-mail address." in bad.get_data(as_text=True)
    good = client.post(
        "/app/connections/identities",
        data={
            "csrf_token": csrf,
            "snapchat.email": "Ads@Acme.test",
            "microsoft_ads.manager_account_id": "987654321",
            "shopify.partner_organization": "Acme Partners",
        },
    )
    assert good.status_code == 303
    db.session.refresh(agency)
    assert agency.identities["snapchat"] == {"email": "Ads@acme.test"}
    assert agency.identities["microsoft_ads"] == {"manager_account_id": "987654321"}
    assert agency.identities["shopify"] == {"partner_organization": "Acme Partners"}


# --------------------------------------------------------------- client flow


def test_it_skips_sign_in_and_shows_the_exact_steps_with_the_agency_filled_in(
    client, identified, owner
):
    _ar, token = make_request(identified, owner, items=SNAPCHAT)
    welcome = client.get(f"/r/{token}").get_data(as_text=True)
    assert "Connect Snapchat" not in welcome
    assert f'href="/r/{token}/p/snapchat"' in welcome
    assert "Start with Snapchat" in welcome
    # Connecting makes no sense here: it leads to the steps.
    csrf = csrf_from(welcome)
    started = client.post(f"/r/{token}/p/snapchat/connect", data={"csrf_token": csrf})
    assert started.status_code == 303
    assert started.headers["Location"].endswith(f"/r/{token}/p/snapchat")
    page = client.get(f"/r/{token}/p/snapchat")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "ads@acme.test" in html  # the agency's member e-mail, to invite
    assert "organisation role Member" in html
    assert "give it the role General" in html
    assert 'name="ad_account_id"' in html
    assert "https://business.snapchat.com/" in html
    assert "I can't do this" in html
    assert grants() == []


def test_it_keeps_the_step_needs_action_waiting_on_the_agency_once_the_client_sends(
    client, identified, owner
):
    access_request, token = make_request(identified, owner, items=SHOPIFY)
    answer = send(
        client,
        token,
        "shopify",
        store="https://Blue-Harbor.myshopify.com/admin",
        collaborator_code="0123",
    )
    assert answer.status_code == 303
    assert answer.headers["Location"].endswith(f"/r/{token}/p/shopify")
    (grant,) = grants()
    assert grant.status == "needs_action"
    assert grant.manual is True
    assert grant.asset_id == "blue-harbor.myshopify.com"
    assert grant.permissions == ["ONLINE_STORE", "APPS"]  # the platform's order
    assert grant.external["waiting_on"] == "agency"
    assert grant.external["sent_back"] == {
        "store": "blue-harbor.myshopify.com",
        "collaborator_code": "0123",
    }
    page = client.get(f"/r/{token}/p/shopify").get_data(as_text=True)
    assert "Sent: Acme Agency's turn" in page
    assert "Review request" in page and "“Acme Partners”" in page  # what comes next
    assert "0123" in page
    db.session.refresh(access_request)
    assert access_request.status == "in_progress"
    assert "grant.manual_done" in audit_actions(identified.id)


@pytest.mark.parametrize(
    ("items", "platform", "values", "message"),
    [
        (
            SHOPIFY,
            "shopify",
            {"store": "blueharbor.com", "collaborator_code": "0123"},
            "Enter the address that ends in .myshopify.com",
        ),
        (
            SHOPIFY,
            "shopify",
            {"store": "blue-harbor.myshopify.com", "collaborator_code": "12"},
            "The collaborator request code has exactly 4 digits",
        ),
        (
            SNAPCHAT,
            "snapchat",
            {"ad_account_id": "12345"},
            "An ad account ID is a long code like",
        ),
        (
            MICROSOFT,
            "microsoft_ads",
            {"account_number": "149012345"},
            "An account number has 8 letters and digits",
        ),
        (MICROSOFT, "microsoft_ads", {"account_number": ""}, "Fill in “Account number”."),
    ],
)
def test_it_checks_the_format_of_what_the_client_sends_back(
    client, identified, owner, items, platform, values, message
):
    _ar, token = make_request(identified, owner, items=items)
    answer = send(client, token, platform, **values)
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert message in html
    assert 'aria-invalid="true"' in html
    assert grants() == []


def test_it_normalises_what_is_sent_back(client, identified, owner):
    _ar, token = make_request(identified, owner, items=SNAPCHAT + MICROSOFT)
    assert send(client, token, "snapchat", ad_account_id=AD_ACCOUNT_ID.upper()).status_code == 303
    answer = send(client, token, "microsoft_ads", 1, account_number=" f123 4abc ")
    assert answer.status_code == 303
    snap, microsoft = grants()
    assert snap.asset_id == AD_ACCOUNT_ID
    assert microsoft.asset_id == "F1234ABC"
    assert microsoft.external["sent_back"] == {"account_number": "F1234ABC"}


def test_it_answers_an_htmx_send_with_the_step_and_its_errors_in_place(client, identified, owner):
    _ar, token = make_request(identified, owner, items=SHOPIFY)
    wrong = send(
        client,
        token,
        "shopify",
        headers={"HX-Request": "true"},
        store="blue-harbor.myshopify.com",
        collaborator_code="abcd",
    )
    assert wrong.status_code == 200
    html = wrong.get_data(as_text=True)
    assert "<html" not in html and 'id="step"' in html
    assert "exactly 4 digits" in html
    assert 'value="blue-harbor.myshopify.com"' in html  # what was typed stays
    right = send(
        client,
        token,
        "shopify",
        headers={"HX-Request": "true"},
        store="blue-harbor.myshopify.com",
        collaborator_code="4321",
    )
    assert right.status_code == 200
    assert "Sent. Acme Agency takes it from here" in right.get_data(as_text=True)


def test_it_lets_the_client_correct_and_add_more_until_the_agency_confirms(
    client, auth, identified, owner
):
    access_request, token = make_request(identified, owner, items=SHOPIFY)
    send(client, token, "shopify", store="blue-harbor.myshopify.com", collaborator_code="1111")
    # The same store again corrects the code; another store is one more grant.
    send(client, token, "shopify", store="blue-harbor.myshopify.com", collaborator_code="2222")
    send(client, token, "shopify", store="blue-harbor-eu.myshopify.com", collaborator_code="3333")
    first, second = grants()
    assert first.external["sent_back"]["collaborator_code"] == "2222"
    assert second.asset_id == "blue-harbor-eu.myshopify.com"
    confirm_as_agency(client, auth, owner, access_request, first)
    again = send(client, token, "shopify", store="blue-harbor.myshopify.com", collaborator_code="9")
    assert again.status_code == 422  # the format, before anything else
    again = send(
        client, token, "shopify", store="blue-harbor.myshopify.com", collaborator_code="9999"
    )
    assert again.status_code == 422
    assert "already shared and confirmed" in again.get_data(as_text=True)
    assert grants()[0].external["sent_back"]["collaborator_code"] == "2222"


def test_it_waits_for_the_agency_to_fill_in_its_identity(client, agency, owner):
    _ar, token = make_request(agency, owner, items=SNAPCHAT)
    page = client.get(f"/r/{token}/p/snapchat").get_data(as_text=True)
    assert "has not finished setting up Snapchat yet" in page
    assert 'name="ad_account_id"' not in page
    csrf = csrf_from(page)
    answer = client.post(
        reply_url(token, "snapchat"), data={"csrf_token": csrf, "ad_account_id": AD_ACCOUNT_ID}
    )
    assert answer.status_code == 303
    assert grants() == []


def test_it_lets_the_client_skip_an_item_and_settles_the_request(client, identified, owner):
    access_request, token = make_request(identified, owner, items=MICROSOFT)
    csrf = csrf_from(client.get(f"/r/{token}/p/microsoft_ads").get_data(as_text=True))
    skipped = client.post(f"/r/{token}/p/microsoft_ads/items/0/skip", data={"csrf_token": csrf})
    assert skipped.status_code == 303
    (grant,) = grants()
    assert grant.status == "declined"
    db.session.refresh(access_request)
    assert access_request.status == "partially_completed"
    page = client.get(f"/r/{token}/p/microsoft_ads").get_data(as_text=True)
    assert "You skipped this" in page
    # Sending after all reopens the request and reuses the skipped item.
    assert send(client, token, "microsoft_ads", account_number="F1234ABC").status_code == 303
    (grant,) = grants()
    assert grant.status == "needs_action"
    db.session.refresh(access_request)
    assert access_request.status == "in_progress"


def test_it_refuses_items_that_are_not_part_of_the_request(client, identified, owner):
    _ar, token = make_request(identified, owner, items=SHOPIFY)
    csrf = csrf_from(client.get(f"/r/{token}").get_data(as_text=True))
    data = {"csrf_token": csrf, "store": "x.myshopify.com"}
    assert client.post(reply_url(token, "shopify", 5), data=data).status_code == 404
    assert client.post(reply_url(token, "snapchat", 0), data=data).status_code == 404
    assert client.post(reply_url(token, "pinterest", 0), data=data).status_code == 404
    without_csrf = client.post(reply_url(token, "shopify"), data={"store": "x.myshopify.com"})
    assert without_csrf.status_code == 400
    assert grants() == []


# ------------------------------------------------------------ agency's side


def test_the_agency_sees_what_came_back_and_confirms_it(client, auth, identified, owner):
    access_request, token = make_request(identified, owner, items=MICROSOFT)
    send(client, token, "microsoft_ads", account_number="F1234ABC")
    (grant,) = grants()
    auth.login(owner)
    detail = client.get(f"/app/requests/{access_request.id}").get_data(as_text=True)
    assert "Account number" in detail and "F1234ABC" in detail
    assert "Your turn:" in detail and "What to do now:" in detail
    # What the agency does now, with the account number filled in.
    assert "enter the account number F1234ABC" in detail
    assert "manager account 987654321" in detail
    assert "Mark the step done" in detail
    auth.logout()
    confirm_as_agency(client, auth, owner, access_request, grant)
    (grant,) = grants()
    assert grant.status == "verified"
    assert grant.verified_at is not None
    assert grant.external["confirmed_by"] == owner.email
    db.session.refresh(access_request)
    assert access_request.status == "completed"
    actions = audit_actions(identified.id)
    assert actions.count("grant.verified") == 1
    assert "access_request.completed" in actions
    summary = client.get(f"/r/{token}/summary").get_data(as_text=True)
    assert "All set" in summary


def test_the_connector_verifies_only_what_the_agency_confirmed(client, auth, identified, owner):
    connector = platforms.get("shopify")
    args = ({}, {}, "STORE", "x.myshopify.com", ["APPS"])
    assert connector.verify(*args, {}).status == "pending"
    waiting = connector.verify(*args, {"waiting_on": "agency"})
    assert waiting.status == "pending" and "mark the step done" in waiting.message
    assert connector.verify(*args, {"confirmed_at": "2025-01-01T00:00:00+00:00"}).status == (
        "verified"
    )
    # A client cannot confirm its own step: only the agency sees the access.
    from portal.services import requests as service

    _access_request, token = make_request(identified, owner, items=SHOPIFY)
    send(client, token, "shopify", store="blue-harbor.myshopify.com", collaborator_code="0123")
    (grant,) = grants()
    assert service.mark_manual_done(grant, service.client_actor(grant.access_request)) is False
    assert grants()[0].status == "needs_action"


def test_the_webhook_payload_and_the_pdf_carry_what_was_sent_back(
    client, auth, identified, owner, rq_worker
):
    from portal.reports import render_report
    from portal.webhooks import service as webhooks

    webhooks.create_endpoint(identified.id, "https://example.com/hooks", ["*"], None, None)
    access_request, token = make_request(identified, owner, items=SHOPIFY)
    send(client, token, "shopify", store="blue-harbor.myshopify.com", collaborator_code="0123")
    text = pdf_text(render_report(access_request.id))
    assert "blue-harbor.myshopify.com" in text
    assert "Collaborator request code: 0123" in text
    assert "is confirming the access" in text
    (grant,) = grants()
    confirm_as_agency(client, auth, owner, access_request, grant)
    rq_worker(queues=("webhooks",), max_jobs=2)  # the fan-outs, not the HTTP deliveries
    payloads = [
        json.loads(row.payload)
        for row in db.session.execute(select(WebhookDelivery).order_by(WebhookDelivery.id))
        .scalars()
        .all()
    ]
    verified = next(p for p in payloads if p["type"] == "grant.verified")
    (sent,) = verified["data"]["grants"]
    assert sent["status"] == "verified"
    assert sent["sent_back"] == {"store": "blue-harbor.myshopify.com", "collaborator_code": "0123"}
    api = client.get(
        f"/api/v1/access-requests/{access_request.id}", headers=bearer(api_key(identified))
    )
    assert api.get_json()["grants"][0]["sent_back"]["collaborator_code"] == "0123"


def test_it_tells_the_client_how_to_remove_the_access_later():
    from portal.models import Grant as GrantRow
    from portal.notifications.removal import removal_steps

    for platform, expected in (
        ("snapchat", "Members"),
        ("microsoft_ads", "unlink"),
        ("shopify", "Remove collaborator"),
    ):
        grant = GrantRow(platform=platform, asset_type="X", asset_id="a1", asset_name="A1")
        steps = removal_steps(grant, "Acme Agency")
        assert any(expected in line for line in steps), (platform, steps)


# ------------------------------------------- one request, Pinterest + Shopify


@pytest.mark.usefixtures("live_server")
def test_a_request_mixing_pinterest_and_shopify_flows_to_one_summary(
    client, auth, identified, owner, rq_worker
):
    sandbox_connection(identified)
    access_request, token = make_request(identified, owner, items=PINTEREST_ITEMS + SHOPIFY)
    welcome = client.get(f"/r/{token}").get_data(as_text=True)
    assert "Connect Pinterest" in welcome  # Pinterest first, with its own sign-in
    assert "No sign-in here" in welcome  # Shopify: steps instead
    started = client.post(
        f"/r/{token}/p/pinterest/connect", data={"csrf_token": csrf_from(welcome)}
    )
    back = client.get(path_of(consent(client, started.headers["Location"])))
    assert back.headers["Location"].endswith(f"/r/{token}/p/pinterest")
    picker = client.get(f"/r/{token}/p/pinterest").get_data(as_text=True)
    fields = form_fields(picker, f"/r/{token}/p/pinterest/grant")
    assert client.post(f"/r/{token}/p/pinterest/grant", data=fields).status_code == 303
    results = client.get(f"/r/{token}/p/pinterest").get_data(as_text=True)
    # The next step is Shopify's page, straight to its steps.
    assert f'href="/r/{token}/p/shopify"' in results
    steps = client.get(f"/r/{token}/p/shopify").get_data(as_text=True)
    assert "Step 3 of 4" in steps
    assert 'name="collaborator_code"' in steps
    # Shopify's item comes after Pinterest's two in the request.
    send(client, token, "shopify", 2, store="blue-harbor.myshopify.com", collaborator_code="0123")
    rq_worker()
    statuses = [(g.platform, g.status) for g in grants()]
    assert statuses == [
        ("pinterest", "verified"),
        ("pinterest", "verified"),
        ("shopify", "needs_action"),
    ]
    db.session.refresh(access_request)
    assert access_request.status == "in_progress"  # the agency still has to confirm
    summary = client.get(f"/r/{token}/summary").get_data(as_text=True)
    assert summary.count('class="grant-row"') == 3
    assert "Sent: Acme Agency's turn" in summary
    assert "Finishing touches" not in summary  # Shopify's steps were on its own page
    confirm_as_agency(client, auth, owner, access_request, grants()[2])
    db.session.expire_all()
    assert db.session.get(AccessRequest, access_request.id).status == "completed"
    summary = client.get(f"/r/{token}/summary").get_data(as_text=True)
    assert "All set: Acme Agency has access" in summary


def test_the_demo_names_every_guided_platforms_receiving_identity():
    from portal.platforms.manual import guided_connectors
    from portal.services.demo import GUIDED_IDENTITIES, SHOPIFY_AND_PINTEREST
    from portal.services.requests import normalise_items

    assert normalise_items(SHOPIFY_AND_PINTEREST)[0]["platform"] == "shopify"
    for connector in guided_connectors():
        for key, _label in connector.identity_fields:
            assert GUIDED_IDENTITIES[connector.id][key], (connector.id, key)
