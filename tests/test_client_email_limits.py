"""E-mails to clients go out only for confirmed agencies, within limits per
request, per recipient and per agency, whichever way they are asked for."""

from __future__ import annotations

from datetime import timedelta

import pytest
from helpers_auth import events, html
from helpers_requests import csrf_from, fake_connection, make_request
from sqlalchemy import func, select
from test_api_support import api_key, bearer

from portal.extensions import db
from portal.models import AccessRequest, Agency, NotificationLog
from portal.models.base import utcnow
from portal.notifications import client_mail
from worker import jobs

pytestmark = pytest.mark.usefixtures("needs_redis")


@pytest.fixture
def connected(agency):
    fake_connection(agency)
    return agency


def _click_email(client, access_request):
    page = client.get(f"/app/requests/{access_request.id}")
    return client.post(
        f"/app/requests/{access_request.id}/email",
        data={"csrf_token": csrf_from(html(page))},
        follow_redirects=True,
    )


def _to(outbox, address: str) -> list:
    return [m for m in outbox() if m["To"] == address]


def test_twelve_clicks_send_the_link_three_times_and_then_say_why_not(
    client, auth, connected, owner, outbox, rq_worker
):
    access_request, _token = make_request(connected, owner, client_email="ann@client.test")
    auth.login(owner)
    pages = []
    for _ in range(12):
        pages.append(html(_click_email(client, access_request)))
        rq_worker()
    assert len(_to(outbox, "ann@client.test")) == 3
    assert "The link is on its way" in pages[2]
    assert "already e-mailed 3 times in the last 24 hours" in pages[3]
    assert "Copy the link and send it yourself" in pages[3]


def test_clicks_queued_faster_than_the_worker_still_send_three(
    client, auth, connected, owner, outbox, rq_worker
):
    """The job checks again before sending: the limit holds whatever was queued."""
    access_request, _token = make_request(connected, owner, client_email="ann@client.test")
    auth.login(owner)
    _click_email(client, access_request)
    rq_worker()
    for _ in range(11):  # "Send again", faster than the worker
        _click_email(client, access_request)
    rq_worker()
    assert len(_to(outbox, "ann@client.test")) == 3
    refused = events(client_mail.REFUSED_ACTION)
    assert len(refused) == 9
    assert refused[0].details == {
        "to": "ann@client.test",
        "kind": "request_sent",
        "reason": "request",
    }
    timeline = html(client.get(f"/app/requests/{access_request.id}"))
    assert "E-mail to the client not sent: this link reached its daily limit" in timeline


def test_one_address_gets_a_limited_number_from_all_requests(
    app, connected, owner, outbox, monkeypatch
):
    monkeypatch.setitem(app.config, "CLIENT_EMAILS_PER_RECIPIENT", 2)
    results = []
    for _ in range(4):
        access_request, _token = make_request(connected, owner, client_email="Bob@Client.test")
        results.append(jobs.send_request_email(access_request.id))
    assert results == ["sent", "sent", "refused", "refused"]
    assert len(outbox()) == 2
    assert {e.details["reason"] for e in events(client_mail.REFUSED_ACTION)} == {"recipient"}


def test_a_new_agency_has_a_low_daily_allowance_raised_by_completed_requests(
    app, connected, owner, outbox, monkeypatch
):
    monkeypatch.setitem(app.config, "CLIENT_EMAILS_NEW_AGENCY", 2)
    monkeypatch.setitem(app.config, "CLIENT_EMAILS_AGENCY", 50)
    monkeypatch.setitem(app.config, "CLIENT_EMAILS_TRUST_COMPLETED", 2)
    assert client_mail.daily_allowance(connected) == 2
    sent = [
        jobs.send_request_email(make_request(connected, owner, client_email=f"c{n}@x.test")[0].id)
        for n in range(3)
    ]
    assert sent == ["sent", "sent", "refused"]
    refusal = client_mail.refusal(connected, "someone@x.test")
    assert refusal.reason == "agency" and refusal.status == 429
    assert 0 < refusal.retry_after <= 24 * 3600
    # Clients completing the agency's requests show it is a real agency.
    for row in db.session.execute(select(AccessRequest).limit(2)).scalars():
        row.status = "completed"
        row.completed_at = utcnow()
    db.session.commit()
    assert client_mail.daily_allowance(connected) == 50
    assert client_mail.refusal(connected, "someone@x.test") is None


def test_an_older_agency_gets_the_full_allowance(app, connected, monkeypatch):
    monkeypatch.setitem(app.config, "CLIENT_EMAILS_TRUST_DAYS", 30)
    connected.created_at = utcnow() - timedelta(days=31)
    db.session.commit()
    assert client_mail.daily_allowance(connected) == app.config["CLIENT_EMAILS_AGENCY"]


def test_the_window_is_the_last_24_hours(app, connected, owner, outbox, monkeypatch):
    monkeypatch.setitem(app.config, "CLIENT_EMAILS_PER_RECIPIENT", 1)
    first, _token = make_request(connected, owner, client_email="day@x.test")
    assert jobs.send_request_email(first.id) == "sent"
    second, _token = make_request(connected, owner, client_email="day@x.test")
    assert jobs.send_request_email(second.id) == "refused"
    db.session.execute(
        NotificationLog.__table__.update().values(created_at=utcnow() - timedelta(hours=25))
    )
    db.session.commit()
    assert jobs.send_request_email(second.id) == "sent"


def test_the_api_refuses_send_email_past_a_limit_and_creates_nothing(
    app, client, connected, monkeypatch
):
    monkeypatch.setitem(app.config, "CLIENT_EMAILS_PER_RECIPIENT", 1)
    headers = bearer(api_key(connected))
    body = {
        "client": {"name": "Blue Harbor", "email": "blue@harbor.test"},
        "items": [
            {"platform": "pinterest", "asset_type": "AD_ACCOUNT", "permissions": ["ANALYST"]}
        ],
        "send_email": True,
    }
    first = client.post("/api/v1/access-requests", json=body, headers=headers)
    assert first.status_code == 201
    assert jobs.send_request_email(first.get_json()["id"]) == "sent"

    second = client.post("/api/v1/access-requests", json=body, headers=headers)

    assert second.status_code == 429
    assert second.mimetype == "application/problem+json"
    assert int(second.headers["Retry-After"]) > 0
    assert "blue@harbor.test already got 1 e-mail from Latchkey" in second.get_json()["detail"]
    count = db.session.scalar(select(func.count()).select_from(AccessRequest))
    assert count == 1
    # Without send_email the request is made: the agency sends the link itself.
    body["send_email"] = False
    assert client.post("/api/v1/access-requests", json=body, headers=headers).status_code == 201


def test_client_emails_are_marked_and_agency_emails_are_not_limited(
    app, connected, owner, outbox, monkeypatch
):
    monkeypatch.setitem(app.config, "CLIENT_EMAILS_NEW_AGENCY", 0)
    monkeypatch.setitem(app.config, "CLIENT_EMAILS_AGENCY", 0)
    access_request, _token = make_request(connected, owner)
    assert jobs.send_request_email(access_request.id) == "refused"
    access_request.status = "completed"
    access_request.completed_at = utcnow()
    db.session.commit()
    assert jobs.send_completion_emails(access_request.id) == 1  # the agency's copy only
    assert [m["To"] for m in outbox()] == [owner.email]
    assert (
        db.session.scalar(
            select(func.count()).select_from(NotificationLog).where(NotificationLog.to_client)
        )
        == 0
    )
    agency = db.session.get(Agency, connected.id)
    assert agency.email_verified_at is not None
