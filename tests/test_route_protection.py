"""Every agency-area route, found from the URL map, refuses signed-out visitors
and another agency's members. A new route is covered without anyone listing it."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from portal.extensions import db
from portal.models import Grant, Invitation, Membership, Template
from portal.models.base import utcnow

# Arguments of id-bearing routes, and how to make an object of Acme's for each.
OBJECT_FACTORIES = {
    "request_id": "access_request",
    "membership_id": "membership",
    "invitation_id": "invitation",
    "template_id": "template",
    "client_id": "client",
    "grant_id": "grant",
    "key_id": "api_key",
    "endpoint_id": "webhook_endpoint",
    "delivery_id": "webhook_delivery",
}
# Non-id arguments: a value that exists for every agency.
PLAIN_VALUES = {"platform": "pinterest", "code": "LK-2345-6789", "job_id": "no-such-job"}
PUBLIC_APP_ENDPOINTS: set[str] = set()


def _agency_rules(app):
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/app") or rule.endpoint in PUBLIC_APP_ENDPOINTS:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method


def _csrf(client) -> str:
    html = client.get("/", follow_redirects=True).get_data(as_text=True)
    return re.search(r'"X-CSRFToken": "([^"]+)"', html).group(1)


def _objects(agency, owner) -> dict[str, int]:
    from tests.helpers_requests import fake_connection, make_request

    fake_connection(agency)
    access_request, _token = make_request(agency, owner)
    other = Membership.query.filter_by(agency_id=agency.id).first()
    invitation = Invitation(
        agency_id=agency.id,
        email="new@acme.test",
        role="member",
        token_hash="i" * 64,
        expires_at=utcnow() + timedelta(days=7),
        invited_by_id=owner.id,
    )
    db.session.add(invitation)
    template = Template(agency_id=agency.id, name="Ads", items=access_request.items)
    grant = Grant(
        agency_id=agency.id,
        access_request_id=access_request.id,
        item_index=0,
        platform="pinterest",
        asset_type="TAG",
        asset_id="tag-1",
        status="needs_action",
        manual=True,
    )
    db.session.add_all([template, grant])
    db.session.commit()
    return {
        **_api_objects(agency),
        "access_request": access_request.id,
        "membership": other.id,
        "invitation": invitation.id,
        "template": template.id,
        "client": access_request.client_id,
        "grant": grant.id,
    }


def _api_objects(agency) -> dict[str, int]:
    from portal.api.keys import create_key
    from portal.models import WebhookDelivery
    from portal.webhooks import service as webhooks

    key, _plain = create_key(agency.id, "CRM")
    endpoint, _secret = webhooks.create_endpoint(
        agency.id, "https://example.com/hooks", ["*"], None, None
    )
    delivery = WebhookDelivery(
        agency_id=agency.id,
        endpoint_id=endpoint.id,
        event_id="msg_test",
        event_type="grant.verified",
        payload="{}",
    )
    db.session.add(delivery)
    db.session.commit()
    return {"api_key": key.id, "webhook_endpoint": endpoint.id, "webhook_delivery": delivery.id}


def _url(rule, ids: dict[str, int]) -> str:
    values = {}
    for argument in rule.arguments:
        if argument in OBJECT_FACTORIES:
            values[argument] = ids[OBJECT_FACTORIES[argument]]
        elif argument in PLAIN_VALUES:
            values[argument] = PLAIN_VALUES[argument]
        else:
            pytest.fail(f"{rule.rule}: add a factory for <{argument}> to this test")
    return rule.build(values)[1]


def test_every_agency_route_sends_a_signed_out_visitor_to_sign_in(app, client, agency, owner):
    ids = _objects(agency, owner)
    token = _csrf(client)
    checked = 0
    for rule, method in _agency_rules(app):
        response = client.open(_url(rule, ids), method=method, headers={"X-CSRFToken": token})
        assert response.status_code == 302, (rule.rule, method, response.status_code)
        assert response.location.startswith("/auth/login"), (rule.rule, method)
        checked += 1
    assert checked >= 15


def test_every_id_bearing_route_answers_404_to_another_agency(
    app, client, auth, agency, owner, outsider
):
    ids = _objects(agency, owner)
    auth.login(outsider)
    token = _csrf(client)
    checked = 0
    for rule, method in _agency_rules(app):
        if not set(rule.arguments) & set(OBJECT_FACTORIES):
            continue
        response = client.open(_url(rule, ids), method=method, headers={"X-CSRFToken": token})
        assert response.status_code == 404, (rule.rule, method, response.status_code)
        checked += 1
    assert checked >= 5


def test_viewers_cannot_change_anything(app, client, auth, agency, owner, viewer):
    ids = _objects(agency, owner)
    auth.login(viewer)
    token = _csrf(client)
    # A viewer may change their own account (password, two-factor) but nothing of the agency's.
    own_account = ("/app/account/",)
    for rule, method in _agency_rules(app):
        if method != "POST" or rule.rule.startswith(own_account):
            continue
        response = client.open(_url(rule, ids), method=method, headers={"X-CSRFToken": token})
        assert response.status_code == 403, (rule.rule, method, response.status_code)
