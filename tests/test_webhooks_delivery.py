"""Signed webhook deliveries: signatures, retries, 410, redirects, the SSRF
guard, secret rotation, the delivery log, test events and redelivery."""

from __future__ import annotations

import json
import random
from datetime import timedelta

import pytest
from helpers_requests import csrf_from, fake_connection, make_request
from sqlalchemy import select
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError
from test_api_support import no_retry_wait, running_receiver

from portal.extensions import db
from portal.models import WebhookDelivery, WebhookEndpoint
from portal.models.base import utcnow
from portal.services.requests import revoke_request
from portal.webhooks import delivery, service, signing
from portal.webhooks.ssrf import UnsafeURL, resolve

pytestmark = pytest.mark.usefixtures("needs_redis")


@pytest.fixture
def receiver():
    yield from running_receiver()


@pytest.fixture
def fast_retries(app):
    yield from no_retry_wait(app)


@pytest.fixture
def endpoint(agency, receiver):
    fake_connection(agency)
    row, secret = service.create_endpoint(agency.id, receiver.url, ["*"], "CRM", None)
    row.plain_secret = secret
    return row


def revoke_one(agency, owner):
    access_request, _token = make_request(agency, owner)
    revoke_request(access_request)
    return access_request


def deliveries():
    db.session.expire_all()
    return db.session.execute(select(WebhookDelivery).order_by(WebhookDelivery.id)).scalars().all()


# -------------------------------------------------------------- signatures


def test_it_signs_deliveries_verifiably_with_the_endpoint_secret(
    agency, owner, endpoint, receiver, rq_worker
):
    access_request = revoke_one(agency, owner)
    rq_worker()
    assert len(receiver.received) == 1
    got = receiver.received[0]
    assert got["headers"]["webhook-id"].startswith("msg_")
    payload = Webhook(endpoint.plain_secret).verify(got["body"], got["headers"])
    assert payload["type"] == "access_request.revoked"
    assert payload["timestamp"].endswith("Z")
    assert payload["data"]["id"] == access_request.id
    assert payload["data"]["status"] == "revoked"
    assert {"grants", "items", "client", "url"} <= set(payload["data"])
    row = deliveries()[0]
    assert (row.status, row.attempts, row.last_status_code) == ("succeeded", 1, 200)
    assert row.last_latency_ms is not None


def test_it_signatures_reject_a_tampered_body_and_an_old_timestamp(endpoint):
    body = json.dumps({"type": "grant.verified", "data": {"id": 1}})
    good = signing.headers([endpoint.plain_secret], "msg_1", utcnow(), body)
    Webhook(endpoint.plain_secret).verify(body, good)
    with pytest.raises(WebhookVerificationError):
        Webhook(endpoint.plain_secret).verify(body.replace("1", "2"), good)
    old = signing.headers([endpoint.plain_secret], "msg_1", utcnow() - timedelta(minutes=6), body)
    with pytest.raises(WebhookVerificationError):
        Webhook(endpoint.plain_secret).verify(body, old)
    with pytest.raises(WebhookVerificationError):
        Webhook(signing.new_secret()).verify(body, good)


def test_it_sends_both_signatures_while_a_rotated_secret_overlaps(
    agency, owner, endpoint, receiver, rq_worker
):
    new_secret = service.rotate_secret(endpoint, 24, None)
    revoke_one(agency, owner)
    rq_worker()
    got = receiver.received[0]
    assert len(got["headers"]["webhook-signature"].split(" ")) == 2
    Webhook(new_secret).verify(got["body"], got["headers"])
    Webhook(endpoint.plain_secret).verify(got["body"], got["headers"])
    # Without an overlap the old secret stops at once.
    newest = service.rotate_secret(endpoint, 0, None)
    assert service.signing_secrets(endpoint) == [newest]


def test_it_sends_only_the_events_an_endpoint_chose(agency, owner, receiver, rq_worker):
    fake_connection(agency)
    service.create_endpoint(agency.id, receiver.url, ["grant.verified"], None, None)
    revoke_one(agency, owner)
    rq_worker()
    assert receiver.received == []
    assert deliveries() == []


# ---------------------------------------------------------------- retries


def test_it_retries_until_the_receiver_answers_with_the_same_webhook_id(
    agency,
    owner,
    endpoint,
    receiver,
    rq_worker,
    fast_retries,
):
    receiver.reply(500, body="boom")
    receiver.reply(503)
    revoke_one(agency, owner)
    rq_worker()
    ids = {r["headers"]["webhook-id"] for r in receiver.received}
    assert len(receiver.received) == 3
    assert len(ids) == 1
    bodies = {r["body"] for r in receiver.received}
    assert len(bodies) == 1
    row = deliveries()[0]
    assert (row.status, row.attempts) == ("succeeded", 3)
    assert [a["status_code"] for a in row.attempt_log] == [500, 503, 200]
    assert row.event_id in ids
    db.session.refresh(endpoint)
    assert endpoint.failing_since is None


def test_it_gives_up_after_the_last_retry(
    agency,
    owner,
    endpoint,
    receiver,
    rq_worker,
    fast_retries,
):
    for _ in range(8):
        receiver.reply(500, body="still down")
    revoke_one(agency, owner)
    rq_worker()
    assert len(receiver.received) == 8
    row = deliveries()[0]
    assert (row.status, row.attempts, row.response_excerpt) == ("failed", 8, "still down")


def test_it_waits_as_long_as_retry_after_asks(agency, owner, endpoint, receiver, rq_worker):
    receiver.reply(429, {"Retry-After": "600"})
    revoke_one(agency, owner)
    rq_worker()
    row = deliveries()[0]
    assert row.status == "retrying"
    wait = (row.next_attempt_at - utcnow()).total_seconds()
    assert 590 <= wait <= 600
    from rq import Queue

    from portal.kv import redis_connection

    scheduled = Queue("webhooks", connection=redis_connection()).scheduled_job_registry
    assert scheduled.count == 1


def test_it_spreads_retries_on_a_jittered_schedule():
    rng = random.Random(7)
    waits = [delivery.jittered(s, rng) for s in delivery.RETRY_SCHEDULE]
    for wait, planned in zip(waits, delivery.RETRY_SCHEDULE, strict=True):
        assert planned * 0.9 - 1 <= wait <= planned * 1.1 + 1
    assert waits != list(delivery.RETRY_SCHEDULE)
    assert delivery.RETRY_SCHEDULE == (5, 300, 1800, 7200, 18000, 36000, 36000)
    assert delivery.next_delay(1, delivery.RETRY_SCHEDULE, None) == 5
    assert delivery.next_delay(2, delivery.RETRY_SCHEDULE, 900) == 900
    assert delivery.parse_retry_after("120") == 120
    assert delivery.parse_retry_after("soon") is None
    assert delivery.parse_retry_after("999999999") == delivery.MAX_RETRY_AFTER


# --------------------------------------------------------- giving up for good


def test_it_disables_an_endpoint_that_answers_410(
    agency, owner, endpoint, receiver, rq_worker, outbox
):
    receiver.reply(410)
    revoke_one(agency, owner)
    rq_worker()
    db.session.refresh(endpoint)
    assert endpoint.disabled_at is not None
    assert "410" in endpoint.disabled_reason
    assert deliveries()[0].status == "failed"
    assert len(receiver.received) == 1
    # Later events are not sent to it.
    revoke_one(agency, owner)
    rq_worker()
    assert len(receiver.received) == 1
    assert any("disabled" in str(m["Subject"]) for m in outbox())


def test_it_disables_an_endpoint_failing_for_five_days_and_tells_the_agency(
    agency, owner, endpoint, receiver, rq_worker, outbox
):
    endpoint.failing_since = utcnow() - timedelta(days=5, minutes=1)
    db.session.commit()
    receiver.reply(500)
    revoke_one(agency, owner)
    rq_worker()
    db.session.refresh(endpoint)
    assert endpoint.disabled_at is not None
    assert "5 days" in endpoint.disabled_reason
    mails = [m for m in outbox() if "disabled" in str(m["Subject"])]
    assert [m["To"] for m in mails] == ["owner@acme.test"]
    assert f"/app/webhooks/{endpoint.id}" in mails[0].get_body(("plain",)).get_content()


def test_it_never_follows_a_redirect(agency, owner, endpoint, receiver, rq_worker):
    receiver.reply(302, {"Location": receiver.url + "/elsewhere"})
    revoke_one(agency, owner)
    rq_worker()
    assert [r["path"] for r in receiver.received] == ["/hooks"]
    row = deliveries()[0]
    assert row.last_status_code == 302
    assert "redirect" in row.last_error
    assert row.status in ("retrying", "failed")


# ------------------------------------------------------------------- SSRF


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://localhost:8080/hook",
        "http://10.1.2.3/",
        "http://192.168.0.10/",
        "http://172.16.5.4/",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/",
        "http://[fe80::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://0.0.0.0/",
        "http://224.0.0.1/",
        "http://100.64.0.1/",
        "http://2130706433/",
    ],
)
def test_it_refuses_private_addresses_in_production(app, monkeypatch, url):
    monkeypatch.setitem(app.config, "LATCHKEY_ENV", "production")
    with pytest.raises(UnsafeURL):
        resolve(url)


def test_it_allows_public_addresses_in_production(app, monkeypatch):
    monkeypatch.setitem(app.config, "LATCHKEY_ENV", "production")
    target = resolve("https://93.184.215.14:8443/hooks?x=1")
    assert (target.ip, target.port, target.path) == ("93.184.215.14", 8443, "/hooks?x=1")


def test_it_allows_loopback_but_not_link_local_outside_production():
    assert resolve("http://127.0.0.1:9/x").ip == "127.0.0.1"
    with pytest.raises(UnsafeURL):
        resolve("http://169.254.169.254/")


def test_it_refuses_a_private_receiver_at_delivery_time_in_production(
    app, monkeypatch, agency, owner, endpoint, receiver, rq_worker
):
    revoke_one(agency, owner)
    monkeypatch.setitem(app.config, "LATCHKEY_ENV", "production")
    rq_worker()
    assert receiver.received == []
    row = deliveries()[0]
    assert "private" in row.last_error


def test_it_refuses_a_private_endpoint_when_created_in_production(app, monkeypatch, agency):
    monkeypatch.setitem(app.config, "LATCHKEY_ENV", "production")
    with pytest.raises(service.EndpointError) as caught:
        service.create_endpoint(agency.id, "https://127.0.0.1/x", ["*"], None, None)
    assert caught.value.errors[0]["field"] == "url"


# ------------------------------------------------------------ agency area


def test_it_sends_a_test_event_and_redelivers_with_the_same_id(
    client, auth, agency, owner, endpoint, receiver, rq_worker
):
    auth.login(owner)
    page = client.get(f"/app/webhooks/{endpoint.id}")
    assert page.status_code == 200
    token = csrf_from(page.get_data(as_text=True))
    assert (
        client.post(f"/app/webhooks/{endpoint.id}/test", data={"csrf_token": token}).status_code
        == 303
    )
    rq_worker()
    first = receiver.received[0]
    payload = Webhook(endpoint.plain_secret).verify(first["body"], first["headers"])
    assert payload["type"] == "webhook.test"
    row = deliveries()[0]
    answer = client.post(f"/app/webhooks/deliveries/{row.id}/redeliver", data={"csrf_token": token})
    assert answer.status_code == 303
    rq_worker()
    assert len(receiver.received) == 2
    assert receiver.received[1]["headers"]["webhook-id"] == first["headers"]["webhook-id"]
    html = client.get(f"/app/webhooks/{endpoint.id}").get_data(as_text=True)
    assert "webhook.test" in html
    assert row.event_id in html
    assert "200" in html


def test_it_creates_an_endpoint_in_the_agency_area_showing_the_secret_once(
    client, auth, agency, owner, receiver
):
    auth.login(owner)
    page = client.get("/app/webhooks/new")
    token = csrf_from(page.get_data(as_text=True))
    answer = client.post(
        "/app/webhooks/new",
        data={"csrf_token": token, "url": receiver.url, "events": ["grant.verified"]},
    )
    assert answer.status_code == 200
    html = answer.get_data(as_text=True)
    assert "whsec_" in html
    endpoint = db.session.execute(select(WebhookEndpoint)).scalar_one()
    assert endpoint.events == ["grant.verified"]
    assert "whsec_" not in client.get(f"/app/webhooks/{endpoint.id}").get_data(as_text=True)
    assert "whsec_" not in endpoint.secret_encrypted


def test_it_keeps_webhooks_from_members(client, auth, agency, member):
    auth.login(member)
    assert client.get("/app/webhooks").status_code == 403
