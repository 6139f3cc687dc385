"""The request services: creation rules, snapshots, states and their audit trail."""

from __future__ import annotations

from datetime import timedelta

import pytest
from helpers_requests import PINTEREST_ITEMS, audit_actions, fake_connection, make_request
from sqlalchemy import func, select

from portal import crypto
from portal.extensions import db
from portal.models import AccessRequest, Client, Grant, Template
from portal.models.base import utcnow
from portal.services import requests as service


@pytest.fixture
def connected(agency):
    fake_connection(agency)
    return agency


def errors_of(excinfo) -> dict[str, str]:
    return {e["field"]: e["message"] for e in excinfo.value.errors}


def test_it_creates_a_request_with_a_hashed_token_and_an_audit_event(connected, owner):
    access_request, token = make_request(connected, owner, message="Hello")
    assert len(token) >= 43
    assert access_request.token_hash == crypto.token_hash(token)
    assert crypto.decrypt(access_request.token_encrypted) == token
    assert token not in (access_request.token_hash, access_request.token_encrypted)
    assert access_request.status == "sent"
    assert access_request.expires_at - access_request.created_at == timedelta(days=14)
    assert access_request.items == PINTEREST_ITEMS
    assert service.request_url(access_request).endswith(f"/r/{token}")
    assert service.find_by_token(token).id == access_request.id
    assert "access_request.created" in audit_actions(connected.id)


def test_it_refuses_unknown_platforms_asset_types_and_permissions(connected, owner):
    with pytest.raises(service.RequestError) as error:
        make_request(
            connected,
            owner,
            items=[
                {"platform": "myspace", "asset_type": "PAGE", "permissions": ["ADMIN"]},
                {"platform": "pinterest", "asset_type": "BOARD", "permissions": ["ADMIN"]},
                {"platform": "pinterest", "asset_type": "AD_ACCOUNT", "permissions": ["OWNER"]},
                {"platform": "pinterest", "asset_type": "CATALOG", "permissions": []},
            ],
        )
    found = errors_of(error)
    assert "myspace" in found["items[0].platform"]
    assert "BOARD" in found["items[1].asset_type"]
    assert "OWNER" in found["items[2].permissions"]
    assert "items[3].permissions" in found
    assert db.session.scalar(select(func.count()).select_from(AccessRequest)) == 0


def test_it_names_every_bad_field(connected, owner):
    with pytest.raises(service.RequestError) as error:
        make_request(
            connected,
            owner,
            client_name=" ",
            client_email="not-an-address",
            locale="de",
            expires_in_days=91,
            redirect_url="javascript:alert(1)",
            items=[],
        )
    assert set(errors_of(error)) == {
        "client.name",
        "client.email",
        "client.locale",
        "expires_in_days",
        "redirect_url",
        "items",
    }


def test_it_refuses_a_platform_the_agency_has_not_connected(agency, owner):
    with pytest.raises(service.RequestError) as error:
        make_request(agency, owner)
    assert errors_of(error)["items"] == "Connect Pinterest in Connections first."


def test_it_refuses_a_platform_whose_connection_is_broken(agency, owner):
    fake_connection(agency, status="expired")
    with pytest.raises(service.RequestError) as error:
        make_request(agency, owner)
    assert "reconnect" in errors_of(error)["items"]


def test_it_merges_duplicate_items_and_orders_permissions(connected, owner):
    access_request, _token = make_request(
        connected,
        owner,
        items=[
            {"platform": "pinterest", "asset_type": "AD_ACCOUNT", "permissions": ["ANALYST"]},
            {"platform": "pinterest", "asset_type": "AD_ACCOUNT", "permissions": ["ADMIN"]},
        ],
    )
    assert access_request.items == [
        {"platform": "pinterest", "asset_type": "AD_ACCOUNT", "permissions": ["ADMIN", "ANALYST"]}
    ]


def test_it_snapshots_the_template_so_later_edits_never_reach_a_sent_request(connected, owner):
    template = Template(
        agency_id=connected.id,
        name="Ads",
        message="We run your ads.",
        items=[{"platform": "pinterest", "asset_type": "AD_ACCOUNT", "permissions": ["ANALYST"]}],
    )
    db.session.add(template)
    db.session.commit()
    access_request, _token = service.create_request(
        connected, owner, "Blue Harbor", "a@blueharbor.test", "en", None, template=template
    )
    template.items = [{"platform": "pinterest", "asset_type": "CATALOG", "permissions": ["X"]}]
    template.items[0]["permissions"].append("CATALOGS_VIEWER")
    template.message = "Changed"
    db.session.commit()
    db.session.expire_all()
    fresh = db.session.get(AccessRequest, access_request.id)
    assert fresh.items == [
        {"platform": "pinterest", "asset_type": "AD_ACCOUNT", "permissions": ["ANALYST"]}
    ]
    assert fresh.message == "We run your ads."
    assert fresh.template_id == template.id


def test_it_reuses_the_client_by_email(connected, owner):
    first, _ = make_request(connected, owner, client_email="Ops@BlueHarbor.test")
    second, _ = make_request(
        connected, owner, client_email="ops@blueharbor.test", client_name="Blue Harbor Ltd"
    )
    assert first.client_id == second.client_id
    assert db.session.scalar(select(func.count()).select_from(Client)) == 1
    assert db.session.get(Client, first.client_id).name == "Blue Harbor Ltd"


def test_it_marks_the_request_opened_once(connected, owner):
    access_request, _token = make_request(connected, owner)
    assert service.mark_opened(access_request) is True
    assert service.mark_opened(access_request) is False
    assert access_request.status == "opened"
    assert audit_actions(connected.id).count("access_request.opened") == 1


def test_it_revokes_a_request(connected, owner):
    access_request, _token = make_request(connected, owner)
    assert service.revoke_request(access_request) is True
    assert access_request.status == "revoked"
    assert access_request.revoked_at is not None
    assert service.revoke_request(access_request) is False
    assert "access_request.revoked" in audit_actions(connected.id)


def test_it_expires_a_request_whose_date_has_passed(connected, owner):
    access_request, _token = make_request(connected, owner)
    assert service.expire_if_due(access_request) is False
    access_request.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert service.expire_if_due(access_request) is True
    assert access_request.status == "expired"
    assert "access_request.expired" in audit_actions(connected.id)


def _grant(access_request, index: int, status: str, asset_id: str) -> Grant:
    item = access_request.items[index]
    grant = Grant(
        agency_id=access_request.agency_id,
        item_index=index,
        platform=item["platform"],
        asset_type=item["asset_type"],
        permissions=item["permissions"],
        asset_id=asset_id,
        status=status,
    )
    access_request.grants.append(grant)
    db.session.commit()
    return grant


def test_it_settles_completed_when_every_item_is_verified(connected, owner):
    access_request, _ = make_request(connected, owner)
    access_request.status = "in_progress"
    ad = _grant(access_request, 0, "verified", "1")
    profile = _grant(access_request, 1, "verifying", "2")
    assert service.settle_request(access_request) is False  # one still running
    service.mark_verified(profile)
    assert service.settle_request(access_request) is True
    assert access_request.status == "completed"
    assert access_request.completed_at is not None
    assert ad.status == "verified"
    assert "access_request.completed" in audit_actions(connected.id)


def test_it_settles_partially_when_something_failed_or_was_not_shared(connected, owner):
    access_request, _ = make_request(connected, owner)
    access_request.status = "in_progress"
    _grant(access_request, 0, "verified", "1")
    assert service.settle_request(access_request) is True  # the profile item has no grant
    assert access_request.status == "partially_completed"

    other, _ = make_request(connected, owner, client_email="b@client.test")
    other.status = "in_progress"
    _grant(other, 0, "verified", "1")
    failed = _grant(other, 1, "verifying", "2")
    service.mark_failed(failed, "Not visible", "Retry")
    assert service.settle_request(other) is True
    assert other.status == "partially_completed"


def test_it_keeps_a_request_open_while_a_manual_step_waits(connected, owner):
    access_request, _ = make_request(
        connected,
        owner,
        items=[{"platform": "pinterest", "asset_type": "TAG", "permissions": ["VERIFY_TAG"]}],
    )
    access_request.status = "in_progress"
    grant = _grant(access_request, 0, "needs_action", "1")
    grant.manual = True
    db.session.commit()
    assert service.settle_request(access_request) is False
    assert service.mark_manual_done(grant) is True
    assert grant.status == "verifying"
    assert "grant.manual_done" in audit_actions(connected.id)


def test_it_never_settles_a_revoked_request(connected, owner):
    access_request, _ = make_request(connected, owner)
    _grant(access_request, 0, "verified", "1")
    _grant(access_request, 1, "verified", "2")
    service.revoke_request(access_request)
    assert service.settle_request(access_request) is False
    assert access_request.status == "revoked"


def test_it_refuses_grants_on_a_closed_request(connected, owner):
    access_request, _ = make_request(connected, owner)
    service.revoke_request(access_request)
    with pytest.raises(service.RequestClosed):
        service.grant_assets(access_request, "pinterest", {}, {"access_token": "x"})
