"""API v1 against CONTRACT.md: every endpoint, its shapes and its errors."""

from __future__ import annotations

import re

import pytest
from helpers_requests import PINTEREST_ITEMS, audit_actions, fake_connection, make_request
from sqlalchemy import select
from test_api_support import api_key, bearer

from portal.api import OPERATIONS
from portal.extensions import db
from portal.models import AccessRequest, ApiKey, AuditEvent, Template

REQUEST_KEYS = {
    "id",
    "url",
    "status",
    "client",
    "external_id",
    "created_at",
    "expires_at",
    "completed_at",
    "items",
    "grants",
}


@pytest.fixture
def key(agency):
    fake_connection(agency)
    return api_key(agency)


@pytest.fixture
def api(client, key):
    """The test client with the key's Authorization header on every call."""

    class Api:
        def __getattr__(self, method):
            def call(path, **kwargs):
                headers = {**bearer(key), **kwargs.pop("headers", {})}
                return getattr(client, method)(f"/api/v1{path}", headers=headers, **kwargs)

            return call

    return Api()


def new_request(api, headers=None, **overrides):
    body = {
        "client": {"name": "Blue Harbor", "email": "marketing@blueharbor.test"},
        "items": PINTEREST_ITEMS,
    }
    body.update(overrides)
    return api.post("/access-requests", json=body, headers=headers or {})


def assert_problem(response, status: int, field: str | None = None):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert {"type", "title", "status", "detail"} <= set(body)
    assert body["status"] == status
    if field is not None:
        assert field in [e["field"] for e in body["errors"]], body
    return body


# ------------------------------------------------------------ authentication


def test_it_serves_the_openapi_document_without_a_key(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    spec = response.get_json()
    assert spec["openapi"].startswith("3.1")
    assert "/api/v1/access-requests/{id}/revoke" in spec["paths"]
    assert "AccessRequestOut" in spec["components"]["schemas"]


@pytest.mark.parametrize(
    "header",
    [None, "Bearer", "Bearer nope", "Basic abc", "Bearer lk_AAAAAAAAAAAA_" + "x" * 43],
)
def test_it_answers_401_without_a_valid_key(client, agency, header):
    headers = {"Authorization": header} if header else {}
    response = client.get("/api/v1/platforms", headers=headers)
    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_it_stops_a_revoked_key_at_once(api, client, key):
    assert api.get("/platforms").status_code == 200
    from portal.api.keys import revoke_key

    revoke_key(db.session.execute(select(ApiKey)).scalar_one())
    assert_problem(api.get("/platforms"), 401)


def test_it_refuses_writes_to_a_read_only_key(client, agency):
    key = api_key(agency, scopes=("read",))
    assert client.get("/api/v1/templates", headers=bearer(key)).status_code == 200
    response = client.post("/api/v1/templates", json={}, headers=bearer(key))
    assert_problem(response, 403)


def test_it_audits_every_call_with_the_key_name(api, agency):
    api.get("/platforms")
    new_request(api)
    events = (
        db.session.execute(
            select(AuditEvent).where(AuditEvent.actor_type == "api_key").order_by(AuditEvent.id)
        )
        .scalars()
        .all()
    )
    assert {e.actor_label for e in events} == {"CRM sync"}
    # A write is audited by its own event, as the key; reads get an api.call event.
    assert [e.action for e in events] == ["api.call", "access_request.created"]
    assert events[0].details == {"method": "GET", "path": "/api/v1/platforms", "status": 200}
    key = db.session.execute(select(ApiKey)).scalar_one()
    assert key.last_used_at is not None


def test_it_rate_limits_per_key_with_retry_after(app, api, agency, client):
    app.config["API_RATE_LIMIT"] = "3 per minute"
    try:
        for _ in range(3):
            assert api.get("/platforms").status_code == 200
        response = api.get("/platforms")
        assert_problem(response, 429)
        assert 1 <= int(response.headers["Retry-After"]) <= 60
        # Another key has its own budget.
        other = api_key(agency, name="Other")
        assert client.get("/api/v1/platforms", headers=bearer(other)).status_code == 200
    finally:
        app.config.pop("API_RATE_LIMIT")


# --------------------------------------------------------------- platforms


def test_it_lists_platforms_with_asset_types_and_permissions(api):
    body = api.get("/platforms").get_json()
    pinterest = next(p for p in body["data"] if p["id"] == "pinterest")
    assert set(pinterest) == {"id", "name", "asset_types"}
    ad = next(t for t in pinterest["asset_types"] if t["id"] == "AD_ACCOUNT")
    assert set(ad) == {"id", "name", "permissions"}
    assert {"id", "label"} == set(ad["permissions"][0])


# --------------------------------------------------------------- templates


def test_it_creates_lists_and_gets_templates(api):
    created = api.post(
        "/templates", json={"name": "Ads", "message": "Hello", "items": PINTEREST_ITEMS}
    )
    assert created.status_code == 201
    body = created.get_json()
    assert set(body) == {"id", "name", "message", "items", "created_at"}
    assert body["items"] == PINTEREST_ITEMS
    assert api.get("/templates").get_json()["data"] == [body]
    assert api.get(f"/templates/{body['id']}").get_json() == body


def test_it_explains_an_invalid_template_field_by_field(api):
    response = api.post(
        "/templates",
        json={
            "name": "",
            "items": [{"platform": "nowhere", "asset_type": "X", "permissions": ["A"]}],
        },
    )
    body = assert_problem(response, 422, "name")
    response = api.post(
        "/templates",
        json={
            "name": "x",
            "items": [{"platform": "nowhere", "asset_type": "X", "permissions": ["A"]}],
        },
    )
    body = assert_problem(response, 422, "items[0].platform")
    assert "nowhere" in body["errors"][0]["message"]


# --------------------------------------------------------- access requests


def test_it_creates_an_access_request_of_the_contract_shape(api, agency):
    response = new_request(api, external_id="crm-42", expires_in_days=30)
    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == REQUEST_KEYS
    assert body["status"] == "sent"
    # No locale asked for: the client's page follows their browser's language.
    assert body["client"] == {
        "name": "Blue Harbor",
        "email": "marketing@blueharbor.test",
        "locale": None,
    }
    assert body["external_id"] == "crm-42"
    assert body["items"] == PINTEREST_ITEMS
    assert body["grants"] == []
    assert re.search(r"/r/[A-Za-z0-9_-]{40,}$", body["url"])
    assert body["created_at"].endswith("Z")
    row = db.session.get(AccessRequest, body["id"])
    assert (row.expires_at - row.created_at).days == 30
    assert row.created_by_id is None
    # The same service function as the web: it audits the creation.
    assert "access_request.created" in audit_actions(agency.id)


def test_it_creates_a_request_from_a_template(api):
    template = api.post("/templates", json={"name": "Ads", "items": PINTEREST_ITEMS[:1]})
    response = new_request(api, items=None, template_id=template.get_json()["id"])
    assert response.status_code == 201
    assert response.get_json()["items"] == PINTEREST_ITEMS[:1]


def test_it_e_mails_the_link_when_asked(api, rq_worker, outbox):
    assert new_request(api, send_email=True).status_code == 201
    rq_worker()
    assert [m["To"] for m in outbox()] == ["marketing@blueharbor.test"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"expires_in_days": 0}, "expires_in_days"),
        ({"expires_in_days": 91}, "expires_in_days"),
        ({"expires_in_days": "14"}, "expires_in_days"),
        ({"expires_in_days": 1.5}, "expires_in_days"),
        ({"client": {"name": "A", "email": "not-an-email"}}, "client.email"),
        ({"client": {"email": "a@b.test"}}, "client.name"),
        ({"client": "Blue Harbor"}, "client"),
        ({"client": {"name": "A", "email": "a@b.test", "locale": "xx"}}, "client.locale"),
        ({"items": None}, "items"),
        ({"items": []}, "items"),
        (
            {"items": [{"platform": "pinterest", "asset_type": "AD_ACCOUNT"}]},
            "items[0].permissions",
        ),
        ({"template_id": 999999}, "template_id"),
        ({"template_id": 2**40}, "template_id"),
        ({"redirect_url": "javascript:alert(1)"}, "redirect_url"),
        ({"external_id": "x" * 201}, "external_id"),
        ({"send_email": "yes"}, "send_email"),
        ({"surprise": 1}, "surprise"),
        ({"client": {"name": "\u202e\U0001f600" * 150, "email": "a@b.test"}}, "client.name"),
    ],
)
def test_it_answers_422_naming_the_field(api, body, field):
    assert_problem(new_request(api, **body), 422, field)


@pytest.mark.parametrize(
    "data",
    [b"{", b"[]", b'"text"', b"null", b"\xff\xfe", b"[" * 5000 + b"]" * 5000, b"1e999999"],
)
def test_it_answers_422_to_a_body_that_is_not_a_json_object(api, data):
    response = api.post("/access-requests", data=data, headers={"Content-Type": "application/json"})
    assert_problem(response, 422, "body")


def test_it_refuses_a_huge_body_without_a_500(api):
    response = api.post(
        "/access-requests",
        data=b'{"a":"' + b"x" * (3 * 1024 * 1024) + b'"}',
        headers={"Content-Type": "application/json"},
    )
    assert_problem(response, 413)


def test_it_gets_a_request_and_lists_them_with_a_cursor(api):
    ids = [new_request(api, external_id=f"crm-{n}").get_json()["id"] for n in range(5)]
    assert api.get(f"/access-requests/{ids[0]}").get_json()["id"] == ids[0]
    seen = []
    cursor = None
    while True:
        query = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = api.get("/access-requests", query_string=query).get_json()
        assert len(page["data"]) <= 2
        seen += [r["id"] for r in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(ids, reverse=True)


def test_it_filters_by_status_and_external_id(api):
    first = new_request(api, external_id="crm-1").get_json()
    new_request(api, external_id="crm-2")
    api.post(f"/access-requests/{first['id']}/revoke")
    by_status = api.get("/access-requests?status=revoked").get_json()["data"]
    assert [r["id"] for r in by_status] == [first["id"]]
    by_external = api.get("/access-requests?external_id=crm-2").get_json()["data"]
    assert [r["external_id"] for r in by_external] == ["crm-2"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=ten", "limit"),
        ("status=lost", "status"),
        ("cursor=%%%", "cursor"),
        ("cursor=eyJiIjogImEifQ", "cursor"),
    ],
)
def test_it_answers_422_to_a_bad_list_query(api, query, field):
    assert_problem(api.get(f"/access-requests?{query}"), 422, field)


def test_it_revokes_a_request_and_its_link_answers_410(api, client):
    created = new_request(api).get_json()
    response = api.post(f"/access-requests/{created['id']}/revoke")
    assert response.status_code == 200
    assert response.get_json()["status"] == "revoked"
    path = created["url"].split("127.0.0.1", 1)[1].split("/", 1)[1]
    assert client.get("/" + path).status_code == 410
    # Revoking again is harmless.
    assert api.post(f"/access-requests/{created['id']}/revoke").status_code == 200


def test_it_serves_the_pdf_report(api):
    created = new_request(api).get_json()
    response = api.get(f"/access-requests/{created['id']}/report.pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF")
    assert "attachment" in response.headers["Content-Disposition"]


def test_it_answers_404_for_an_unknown_id(api):
    assert_problem(api.get("/access-requests/999999"), 404)
    assert_problem(api.get(f"/access-requests/{2**40}"), 404)
    assert_problem(api.get("/templates/0"), 404)


# -------------------------------------------------------------- idempotency


def test_it_replays_the_same_answer_for_the_same_idempotency_key(api):
    headers = {"Idempotency-Key": "order-1"}
    first = new_request(api, headers=headers)
    again = new_request(api, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.get_json() == again.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert db.session.query(AccessRequest).count() == 1


def test_it_refuses_an_idempotency_key_reused_with_another_body(api):
    headers = {"Idempotency-Key": "order-1"}
    assert new_request(api, headers=headers).status_code == 201
    response = new_request(api, headers=headers, external_id="other")
    assert_problem(response, 422, "Idempotency-Key")
    assert db.session.query(AccessRequest).count() == 1


def test_it_does_not_keep_a_failed_answer_for_an_idempotency_key(api):
    headers = {"Idempotency-Key": "order-1"}
    assert new_request(api, headers=headers, expires_in_days=0).status_code == 422
    assert new_request(api, headers=headers, expires_in_days=0).status_code == 422
    assert new_request(api, headers={"Idempotency-Key": "order-2"}).status_code == 201


def test_it_scopes_idempotency_keys_to_the_agency(api, client, outsider):
    from portal.models import Agency

    other = db.session.execute(select(Agency).where(Agency.name == "Other Agency")).scalar_one()
    fake_connection(other)
    other_key = api_key(other)
    headers = {"Idempotency-Key": "same"}
    assert new_request(api, headers=headers).status_code == 201
    body = {"client": {"name": "X", "email": "x@x.test"}, "items": PINTEREST_ITEMS}
    response = client.post(
        "/api/v1/access-requests", json=body, headers={**bearer(other_key), **headers}
    )
    assert response.status_code == 201


# --------------------------------------------------------- webhook endpoints


def test_it_creates_lists_and_deletes_webhook_endpoints(api):
    created = api.post(
        "/webhook-endpoints",
        json={"url": "https://example.com/hooks", "events": ["grant.verified"]},
    )
    assert created.status_code == 201
    body = created.get_json()
    assert {"id", "url", "events", "secret"} <= set(body)
    assert body["secret"].startswith("whsec_")
    listed = api.get("/webhook-endpoints").get_json()["data"]
    assert [e["id"] for e in listed] == [body["id"]]
    assert "secret" not in listed[0]
    assert api.delete(f"/webhook-endpoints/{body['id']}").status_code == 204
    assert api.get("/webhook-endpoints").get_json()["data"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://example.com", "events": ["*"]}, "url"),
        ({"url": "https://user:pw@example.com", "events": ["*"]}, "url"),
        ({"url": "https://example.com", "events": ["grant.lost"]}, "events[0]"),
        ({"url": "https://example.com", "events": []}, "events"),
    ],
)
def test_it_refuses_a_bad_webhook_endpoint(api, body, field):
    assert_problem(api.post("/webhook-endpoints", json=body), 422, field)


# ------------------------------------------------------------ cross-tenant


def test_it_answers_404_to_another_agencys_key_on_every_id_route(api, agency, client, outsider):
    from portal.models import Agency

    created = new_request(api).get_json()
    template = api.post("/templates", json={"name": "T", "items": PINTEREST_ITEMS}).get_json()
    endpoint = api.post(
        "/webhook-endpoints", json={"url": "https://example.com/h", "events": ["*"]}
    ).get_json()
    ids = {
        "/templates": template["id"],
        "/access-requests": created["id"],
        "/webhook-endpoints": endpoint["id"],
    }
    other = db.session.execute(select(Agency).where(Agency.name == "Other Agency")).scalar_one()
    other_key = api_key(other)
    checked = 0
    for op in OPERATIONS:
        if "<int:id>" not in op.rule:
            continue
        base = op.rule.split("/<int:id>")[0]
        path = "/api/v1" + op.rule.replace("<int:id>", str(ids[base]))
        response = client.open(path, method=op.method, headers=bearer(other_key))
        assert_problem(response, 404)
        checked += 1
    assert checked == 5
    # Nothing was changed on Acme's side.
    assert db.session.get(AccessRequest, created["id"]).status == "sent"
    assert db.session.get(Template, template["id"]) is not None


# ------------------------------------------------------------ CLI and admin


def test_it_creates_a_key_from_the_command_line(runner, agency, client):
    result = runner.invoke(args=["apikey", "create", "--agency", agency.slug, "--name", "Zapier"])
    assert result.exit_code == 0, result.output
    key = result.output.strip().splitlines()[-1]
    assert key.startswith("lk_")
    assert client.get("/api/v1/platforms", headers=bearer(key)).status_code == 200
    row = db.session.execute(select(ApiKey)).scalar_one()
    assert row.name == "Zapier"
    assert key not in str(row.key_hash)


def test_it_lets_an_admin_create_a_key_shown_once_and_revoke_it(client, auth, agency, owner):
    from helpers_requests import csrf_from

    auth.login(owner)
    page = client.get("/app/api/keys")
    assert page.status_code == 200
    token = csrf_from(page.get_data(as_text=True))
    created = client.post(
        "/app/api/keys",
        data={"csrf_token": token, "name": "HubSpot", "scopes": ["read", "write"]},
    )
    html = created.get_data(as_text=True)
    key = re.search(r'id="new-key">(lk_[^<]+)<', html).group(1)
    assert client.get("/api/v1/platforms", headers=bearer(key)).status_code == 200
    assert key not in client.get("/app/api/keys").get_data(as_text=True)
    row = db.session.execute(select(ApiKey)).scalar_one()
    revoked = client.post(f"/app/api/keys/{row.id}/revoke", data={"csrf_token": token})
    assert revoked.status_code == 303
    assert client.get("/api/v1/platforms", headers=bearer(key)).status_code == 401


def test_it_keeps_api_keys_from_members(client, auth, agency, member):
    auth.login(member)
    assert client.get("/app/api/keys").status_code == 403
    assert client.get("/app/api/docs").status_code == 200


def test_it_shows_the_human_api_page(client, auth, agency, owner):
    auth.login(owner)
    html = client.get("/app/api/docs").get_data(as_text=True)
    assert "/api/v1/access-requests/{id}/revoke" in html
    assert "webhook-signature" in html


def test_it_keeps_make_request_and_the_api_on_the_same_service(api, agency, owner):
    made, _token = make_request(agency, owner)
    body = api.get(f"/access-requests/{made.id}").get_json()
    assert body["id"] == made.id
    assert set(body) == REQUEST_KEYS


def test_the_client_locale_is_the_one_asked_for_or_null_for_the_browsers(api, agency):
    chosen = new_request(api, client={"name": "A", "email": "a@b.test", "locale": "fr"})
    assert chosen.status_code == 201
    assert chosen.get_json()["client"]["locale"] == "fr"
    left_open = new_request(api)
    assert left_open.get_json()["client"]["locale"] is None
    assert (
        api.get(f"/access-requests/{left_open.get_json()['id']}").get_json()["client"]["locale"]
        is None
    )
