"""Done when: a script using only the contract creates a template and a
request, follows it to completion while receiving verified webhooks, and
fetches the PDF. The client's side is played by the test client + sandbox."""

from __future__ import annotations

import pytest
from helpers_requests import sandbox_connection
from standardwebhooks import Webhook
from test_api_support import api_key, bearer, running_receiver
from test_client_flow import connect, grant_preselected

pytestmark = pytest.mark.usefixtures("live_server")


@pytest.fixture
def receiver():
    yield from running_receiver()


def test_it_follows_a_request_from_the_api_to_completion_with_signed_webhooks(
    app,
    client,
    agency,
    receiver,
    rq_worker,
):
    sandbox_connection(agency)
    headers = bearer(api_key(agency))
    api = app.test_client()

    platforms = api.get("/api/v1/platforms", headers=headers).get_json()["data"]
    pinterest = next(p for p in platforms if p["id"] == "pinterest")
    types = {t["id"]: t for t in pinterest["asset_types"]}
    items = [
        {
            "platform": "pinterest",
            "asset_type": "AD_ACCOUNT",
            "permissions": [types["AD_ACCOUNT"]["permissions"][-1]["id"]],
        },
        {
            "platform": "pinterest",
            "asset_type": "PROFILE",
            "permissions": [types["PROFILE"]["permissions"][-1]["id"]],
        },
    ]
    hook = api.post(
        "/api/v1/webhook-endpoints",
        json={"url": receiver.url, "events": ["*"], "description": "CRM"},
        headers=headers,
    )
    assert hook.status_code == 201
    secret = hook.get_json()["secret"]
    template = api.post(
        "/api/v1/templates", json={"name": "Ads onboarding", "items": items}, headers=headers
    )
    assert template.status_code == 201
    created = api.post(
        "/api/v1/access-requests",
        json={
            "client": {"name": "Blue Harbor", "email": "marketing@blueharbor.test"},
            "template_id": template.get_json()["id"],
            "external_id": "crm-7",
        },
        headers={**headers, "Idempotency-Key": "crm-7-onboarding"},
    )
    assert created.status_code == 201
    access_request = created.get_json()
    token = access_request["url"].rsplit("/r/", 1)[1]

    # The client, in a browser: open the link, connect Pinterest, grant.
    picker = connect(client, token)
    grant_preselected(client, token, picker.get_data(as_text=True))
    rq_worker()

    final = api.get(f"/api/v1/access-requests/{access_request['id']}", headers=headers)
    body = final.get_json()
    assert body["status"] == "completed"
    assert {g["status"] for g in body["grants"]} == {"verified"}

    verified = [Webhook(secret).verify(r["body"], r["headers"]) for r in receiver.received]
    types_seen = [e["type"] for e in verified]
    for expected in (
        "access_request.opened",
        "grant.granted",
        "grant.verified",
        "access_request.completed",
    ):
        assert expected in types_seen, types_seen
    completed = next(e for e in verified if e["type"] == "access_request.completed")
    assert completed["data"]["id"] == access_request["id"]
    assert completed["data"]["external_id"] == "crm-7"
    assert len(completed["data"]["grants"]) == 2
    ids = [r["headers"]["webhook-id"] for r in receiver.received]
    assert len(set(ids)) == len(ids)

    listed = api.get("/api/v1/access-requests?external_id=crm-7", headers=headers).get_json()
    assert [r["id"] for r in listed["data"]] == [access_request["id"]]

    pdf = api.get(f"/api/v1/access-requests/{access_request['id']}/report.pdf", headers=headers)
    assert pdf.status_code == 200
    assert pdf.data.startswith(b"%PDF")
