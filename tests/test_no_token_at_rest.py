"""No live client link is kept in clear in the database.

Link tokens are stored as a hash (and encrypted, so the agency can copy the
link again). Copies of answers that carry the link, the webhook bodies kept
for retries and the API answers kept for Idempotency-Key replays, are
encrypted at rest; what is delivered and replayed stays byte for byte the same.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from cryptography.fernet import Fernet
from helpers_requests import fake_connection, make_request, sandbox_connection
from sqlalchemy import select, text
from standardwebhooks import Webhook
from test_api_support import api_key, bearer, no_retry_wait, running_receiver
from test_client_flow import connect, grant_preselected

from portal.extensions import db
from portal.models import IdempotencyKey, WebhookDelivery, WebhookEndpoint
from portal.models.base import utcnow
from portal.services import privacy
from portal.services.requests import revoke_request
from portal.services.secrets import rotate_all
from portal.webhooks import service

pytestmark = pytest.mark.usefixtures("live_server")

PINTEREST = [
    {"platform": "pinterest", "asset_type": "AD_ACCOUNT", "permissions": ["ANALYST"]},
    {"platform": "pinterest", "asset_type": "PROFILE", "permissions": ["ANALYST"]},
]


@pytest.fixture
def receiver():
    yield from running_receiver()


@pytest.fixture
def fast_retries(app):
    yield from no_retry_wait(app)


def _raw_text(value) -> str:
    if isinstance(value, memoryview):
        value = value.tobytes()
    if isinstance(value, bytes):
        return value.decode("latin-1")
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return value if isinstance(value, str) else ""


def places_holding(needle: str) -> list[str]:
    """Every table.column whose stored value (as the database holds it) contains `needle`."""
    found = []
    with db.engine.connect() as conn:
        for table in db.metadata.sorted_tables:
            for column in table.columns:
                rows = conn.execute(
                    text(f'SELECT "{column.name}" FROM "{table.name}"')  # noqa: S608
                ).scalars()
                if any(needle in _raw_text(value) for value in rows):
                    found.append(f"{table.name}.{column.name}")
    return found


def test_a_whole_journey_leaves_no_link_token_in_any_table(
    app, client, agency, receiver, rq_worker, fast_retries
):
    sandbox_connection(agency)
    headers = bearer(api_key(agency))
    api = app.test_client()
    hook = api.post(
        "/api/v1/webhook-endpoints", json={"url": receiver.url, "events": ["*"]}, headers=headers
    )
    secret = hook.get_json()["secret"]
    receiver.reply(500, body="down for a moment")  # the first delivery is retried
    body = {
        "client": {"name": "Blue Harbor", "email": "marketing@blueharbor.test"},
        "items": PINTEREST,
        "send_email": True,
    }
    created = api.post(
        "/api/v1/access-requests", json=body, headers={**headers, "Idempotency-Key": "crm-7"}
    )
    assert created.status_code == 201
    token = created.get_json()["url"].rsplit("/r/", 1)[1]
    replay = api.post(
        "/api/v1/access-requests", json=body, headers={**headers, "Idempotency-Key": "crm-7"}
    )
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.get_data() == created.get_data()

    picker = connect(client, token)
    grant_preselected(client, token, picker.get_data(as_text=True))
    rq_worker()

    events = [Webhook(secret).verify(r["body"], r["headers"]) for r in receiver.received]
    assert "access_request.completed" in [e["type"] for e in events]
    assert all(e["data"]["url"].endswith(f"/r/{token}") for e in events)
    # The retried event went out again with the same id and the same bytes.
    first = receiver.received[0]
    first_id = first["headers"]["webhook-id"]
    again = [r for r in receiver.received[1:] if r["headers"]["webhook-id"] == first_id]
    assert again and again[0]["body"] == first["body"]

    stored = db.session.execute(select(IdempotencyKey)).scalar_one()
    assert stored.access_request_id == created.get_json()["id"]
    assert places_holding(token) == []


def test_a_receiver_echoing_the_body_does_not_put_the_link_in_the_delivery_log(
    agency, owner, receiver, rq_worker
):
    fake_connection(agency)
    service.create_endpoint(agency.id, receiver.url, ["*"], None, None)
    access_request, token = make_request(agency, owner)
    receiver.reply(200, body="you sent: /r/" + token)
    revoke_request(access_request)
    rq_worker()
    row = db.session.execute(select(WebhookDelivery)).scalar_one()
    assert row.status == "succeeded" and "[redacted]" in row.response_excerpt
    assert places_holding(token) == []


def test_copies_are_read_back_and_re_encrypted_when_keys_rotate(app, agency, monkeypatch):
    fake_connection(agency)
    endpoint, _secret = service.create_endpoint(
        agency.id, "https://example.com/hooks", ["*"], None, None
    )
    db.session.add(
        WebhookDelivery(
            agency_id=agency.id,
            endpoint_id=endpoint.id,
            event_id="msg_1",
            event_type="grant.verified",
            payload='{"type":"grant.verified","data":{"id":7}}',
            access_request_id=7,
        )
    )
    db.session.commit()
    old_keys = list(app.config["LATCHKEY_ENCRYPTION_KEYS"])
    monkeypatch.setitem(
        app.config, "LATCHKEY_ENCRYPTION_KEYS", [Fernet.generate_key().decode(), *old_keys]
    )
    assert rotate_all() >= 2
    newest = app.config["LATCHKEY_ENCRYPTION_KEYS"][:1]
    monkeypatch.setitem(app.config, "LATCHKEY_ENCRYPTION_KEYS", newest)
    db.session.expire_all()
    row = db.session.execute(select(WebhookDelivery)).scalar_one()
    assert json.loads(row.payload)["data"]["id"] == 7
    # The endpoint's signing secret was re-encrypted too.
    assert service.signing_secrets(db.session.get(WebhookEndpoint, endpoint.id))


def test_erasure_finds_the_encrypted_copies_by_their_request(agency, owner):
    fake_connection(agency)
    service.create_endpoint(agency.id, "https://example.com/hooks", ["*"], None, None)
    access_request, _token = make_request(agency, owner)
    access_request.status = "completed"
    access_request.completed_at = utcnow() - timedelta(days=1)
    db.session.commit()
    service.fan_out(
        "msg_x", "access_request.completed", agency.id, access_request.id, "2026-01-01T00:00:00Z"
    )
    privacy.erase_request(access_request)
    db.session.expire_all()
    row = db.session.execute(select(WebhookDelivery)).scalar_one()
    assert json.loads(row.payload)["data"] == {"id": access_request.id, "erased": True}
