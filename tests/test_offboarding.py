"""Offboarding: an agency admin removes access it no longer needs, through the
platform's API (the real connector against the emulated Pinterest) or by hand
where no API can, and everything ends in the audit trail."""

from __future__ import annotations

import pytest
from helpers_requests import add_grant, audit_actions, csrf_from, fake_connection, make_request
from helpers_requests import sandbox_connection as connect_sandbox
from sqlalchemy import select

from portal import audit, platforms
from portal.extensions import db
from portal.models import AuditEvent, Grant
from portal.services.connections import agency_access
from worker import enqueue, jobs


def _page(client, path: str) -> str:
    answer = client.get(path)
    assert answer.status_code == 200, answer.status_code
    return answer.get_data(as_text=True)


def _remove(client, grant: Grant, how: str, csrf: str):
    return client.post(
        f"/app/requests/{grant.access_request_id}/grants/{grant.id}/remove",
        data={"csrf_token": csrf, "how": how},
    )


def _last_event(agency_id: int) -> AuditEvent:
    return (
        db.session.execute(
            select(AuditEvent)
            .where(AuditEvent.agency_id == agency_id)
            .order_by(AuditEvent.seq.desc())
        )
        .scalars()
        .first()
    )


def _shopify_store(access_request) -> Grant:
    """A verified guided grant: no API can remove it."""
    return add_grant(
        access_request,
        0,
        platform="shopify",
        asset_type="STORE",
        permissions=["PRODUCTS"],
        manual=True,
        external={"guided": True},
    )


def test_an_admin_removes_verified_access_through_the_platform(
    client, auth, agency, owner, outbox, rq_worker, live_server
):
    from test_client_flow import connect, grant_preselected

    connect_sandbox(agency)
    access_request, token = make_request(agency, owner)
    grant_preselected(client, token, connect(client, token).get_data(as_text=True))
    rq_worker()
    db.session.expire_all()
    removed, kept = db.session.execute(select(Grant).order_by(Grant.id)).scalars().all()
    assert (removed.status, kept.status) == ("verified", "verified")

    admin = auth.login(owner)
    detail = _page(admin, f"/app/requests/{access_request.id}")
    remove_url = f"/app/requests/{access_request.id}/grants/{removed.id}/remove"
    assert remove_url in detail
    page = _page(admin, remove_url)
    assert "Remove access on Pinterest" in page
    assert "Blue Harbor keeps the asset" in page

    answer = _remove(admin, removed, "api", csrf_from(page))

    assert answer.status_code == 303
    db.session.expire_all()
    removed, kept = (db.session.get(Grant, g.id) for g in (removed, kept))
    assert (removed.status, kept.status) == ("removed", "verified")
    assert removed.removed_at is not None and removed.error is None
    event = _last_event(agency.id)
    assert (event.action, event.actor_type, event.actor_label) == (
        "grant.revoked",
        "user",
        owner.email,
    )
    assert event.details["how"] == "api"
    # The platform itself no longer shows the agency the asset.
    access = agency_access(agency.id, "pinterest")
    seen = platforms.get("pinterest").verify(
        access.token,
        access.identity,
        removed.asset_type,
        removed.asset_id,
        list(removed.permissions),
        dict(removed.external),
    )
    assert seen.status != "verified"
    # The page says so, and offers nothing more to remove for it.
    detail = _page(admin, f"/app/requests/{access_request.id}")
    assert "Access removed on Pinterest" in detail
    assert "Access removed by the agency" in detail  # the timeline
    assert remove_url not in detail
    # The nightly check leaves a removed grant alone: no "access lost" alert.
    before = len(outbox())
    enqueue(jobs.reverify_active_grants, queue="verify")
    rq_worker()
    assert db.session.get(Grant, removed.id).status == "removed"
    assert len(outbox()) == before
    assert "grant.removed" not in audit_actions(agency.id)


def test_where_no_api_can_the_admin_follows_the_steps_and_records_it(auth, agency, owner):
    fake_connection(agency)
    access_request, _token = make_request(agency, owner)
    shopify = _shopify_store(access_request)
    admin = auth.login(owner)

    page = _page(admin, f"/app/requests/{access_request.id}/grants/{shopify.id}/remove")

    assert "Remove access on" not in page  # no API button
    assert "Press Remove collaborator, then confirm." in page
    assert _remove(admin, shopify, "api", csrf_from(page)).status_code == 422
    db.session.refresh(shopify)
    assert shopify.status == "verified"

    assert _remove(admin, shopify, "by_hand", csrf_from(page)).status_code == 303
    db.session.refresh(shopify)
    assert shopify.status == "removed"
    event = _last_event(agency.id)
    assert (event.action, event.details["how"]) == ("grant.revoked", "by_hand")


def test_a_refusal_is_explained_kept_in_the_trail_and_changes_nothing(auth, agency, owner):
    connection = fake_connection(agency)
    access_request, _token = make_request(agency, owner)
    grant = add_grant(access_request, 0)
    connection.status = "expired"  # the agency's Pinterest connection stopped working
    db.session.commit()
    admin = auth.login(owner)
    page = _page(admin, f"/app/requests/{access_request.id}/grants/{grant.id}/remove")

    answer = _remove(admin, grant, "api", csrf_from(page))

    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert 'role="alert"' in html and "Pinterest" in html
    assert "It is removed: record it" in html  # the manual way stays open
    db.session.refresh(grant)
    assert grant.status == "verified" and grant.removed_at is None
    assert _last_event(agency.id).action == "grant.revoke_failed"


def test_the_pinterest_tag_has_nothing_to_remove_through_the_api(
    client, auth, agency, owner, live_server
):
    connect_sandbox(agency)
    access_request, _token = make_request(agency, owner)
    tag = add_grant(access_request, 0, asset_type="TAG", permissions=["VIEW"])
    admin = auth.login(owner)
    page = _page(admin, f"/app/requests/{access_request.id}/grants/{tag.id}/remove")

    answer = _remove(admin, tag, "api", csrf_from(page))

    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert "The Pinterest Tag gives the agency no access to remove." in html
    assert "Remove access on Pinterest" not in html
    assert "remove the tag&#39;s code from your website" in html


@pytest.mark.parametrize("status", ["failed", "declined", "removed", "pending"])
def test_only_access_the_agency_holds_can_be_removed(auth, agency, owner, status):
    fake_connection(agency)
    access_request, _token = make_request(agency, owner)
    grant = add_grant(access_request, 0, status)
    admin = auth.login(owner)
    path = f"/app/requests/{access_request.id}/grants/{grant.id}/remove"

    assert admin.get(path).status_code == 303
    csrf = csrf_from(_page(admin, f"/app/requests/{access_request.id}"))
    assert path not in _page(admin, f"/app/requests/{access_request.id}")
    assert _remove(admin, grant, "by_hand", csrf).status_code == 303
    db.session.refresh(grant)
    assert grant.status == status


def test_members_see_no_remove_link_and_cannot_remove(auth, agency, owner, member):
    fake_connection(agency)
    access_request, _token = make_request(agency, owner)
    grant = add_grant(access_request, 0)
    client = auth.login(member)
    detail = _page(client, f"/app/requests/{access_request.id}")
    path = f"/app/requests/{access_request.id}/grants/{grant.id}/remove"

    assert path not in detail
    assert _remove(client, grant, "by_hand", csrf_from(detail)).status_code == 403
    db.session.refresh(grant)
    assert grant.status == "verified"


def test_an_admin_removes_all_of_a_clients_access_in_one_go(
    client, auth, agency, owner, rq_worker, live_server
):
    from test_client_flow import connect, grant_preselected

    connect_sandbox(agency)
    access_request, token = make_request(agency, owner)
    grant_preselected(client, token, connect(client, token).get_data(as_text=True))
    rq_worker()
    shopify = _shopify_store(access_request)
    admin = auth.login(owner)
    page = _page(admin, f"/app/clients/{access_request.client_id}")
    assert "3 assets of this client's still give your agency access" in page
    assert "Remove access to all 2 assets Latchkey can remove" in page

    answer = admin.post(
        f"/app/clients/{access_request.client_id}/offboard", data={"csrf_token": csrf_from(page)}
    )
    assert answer.status_code == 303
    rq_worker()

    db.session.expire_all()
    statuses = {
        g.platform + ":" + g.asset_type: g.status
        for g in db.session.execute(select(Grant)).scalars()
    }
    assert statuses == {
        "pinterest:AD_ACCOUNT": "removed",
        "pinterest:PROFILE": "removed",
        "shopify:STORE": "verified",
    }
    events = (
        db.session.execute(select(AuditEvent).where(AuditEvent.action == "grant.revoked"))
        .scalars()
        .all()
    )
    assert [(e.actor_label, e.details["how"]) for e in events] == [(owner.email, "api")] * 2
    page = _page(admin, f"/app/clients/{access_request.client_id}")
    assert "1 asset of this client's still gives your agency access" in page
    assert f"/grants/{shopify.id}/remove" in page
    assert "Latchkey can remove" not in page  # nothing left for the API

    # Again (a double click, an RQ retry of the job): nothing more happens.
    before = len(audit_actions(agency.id))
    again = admin.post(
        f"/app/clients/{access_request.client_id}/offboard", data={"csrf_token": csrf_from(page)}
    )
    assert again.status_code == 303
    removed = [g.id for g in db.session.execute(select(Grant)).scalars() if g.status == "removed"]
    enqueue(jobs.remove_access, removed, ["user", str(owner.id)], queue="verify")
    rq_worker()
    assert len(audit_actions(agency.id)) == before


def test_a_platform_asking_to_wait_makes_the_removal_job_retry(agency, owner, monkeypatch):
    from portal.platforms.base import PlatformError
    from portal.services import offboarding

    fake_connection(agency)
    access_request, _token = make_request(agency, owner)
    grant = add_grant(access_request, 0)
    calls = []

    def busy(*args):
        calls.append(args)
        raise PlatformError("Pinterest is busy.", "Try again later.", retryable=True)

    monkeypatch.setattr(type(platforms.get("pinterest")), "revoke", lambda self, *a: busy(*a))

    with pytest.raises(jobs.RemovalIncomplete):
        jobs.remove_access([grant.id], ["user", str(owner.id)])

    assert len(calls) == 1
    db.session.refresh(grant)
    assert grant.status == "verified"
    assert offboarding.remove_all([grant.id], audit.SYSTEM) == (0, 1, True)
