"""Data protection: a client's data exported and erased, the audit chain still
verifying afterwards, and the agency's retention rule for finished requests."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from conftest import make_agency
from helpers_auth import csrf_token
from helpers_requests import fake_connection, make_request
from sqlalchemy import select, text

from portal import audit
from portal.extensions import db
from portal.models import (
    AccessRequest,
    AuditEvent,
    Client,
    Grant,
    IdempotencyKey,
    NotificationLog,
    WebhookDelivery,
)
from portal.models.base import utcnow
from portal.services import privacy
from portal.services import requests as requests_service
from portal.services import templates as templates_service

NAME = "Blue Harbor"
EMAIL = "marketing@blueharbor.test"
EXTERNAL_ID = "CRM-4242-BH"
ANSWER = "Jane Roe signs off on budgets"
CLIENT_IP = "203.0.113.9"
CLIENT_UA = "HarborPhone/7.1 (personal device)"
ASSET_NAME = "Blue Harbor Ads"
SECRET_STRINGS = (NAME, EMAIL, EXTERNAL_ID, ANSWER, CLIENT_IP, CLIENT_UA, "Jane Roe")
QUESTIONS = [
    {"id": "q1", "label": "Who approves budgets?", "kind": "short_text", "required": False}
]


# ------------------------------------------------------------------ helpers


def _hits(*needles: str) -> list[tuple[str, str, str]]:
    """Every (table, column, needle) where a needle appears, in any table of the schema."""
    found = []
    lowered = [n.casefold() for n in needles]
    for table in db.metadata.sorted_tables:
        for row in db.session.execute(select(table)).mappings():
            for column, value in row.items():
                if value is None:
                    continue
                if isinstance(value, dict | list):
                    value = json.dumps(value, ensure_ascii=False)
                elif isinstance(value, bytes):
                    value = value.decode("utf-8", "replace")
                value = str(value).casefold()
                found.extend((table.name, column, n) for n in lowered if n in value)
    return found


def _client_visit(http, token: str):
    return http.get(
        f"/r/{token}", headers={"User-Agent": CLIENT_UA}, environ_base={"REMOTE_ADDR": CLIENT_IP}
    )


def _webhook_endpoint(agency):
    from portal.webhooks import service as webhooks

    endpoint, _secret = webhooks.create_endpoint(
        agency.id, "https://hooks.example.com/latchkey", ["*"], None, None
    )
    return endpoint


def _fan_out(agency, access_request, name="access_request.opened") -> list[WebhookDelivery]:
    from portal.webhooks import service as webhooks

    ids = webhooks.fan_out(
        webhooks.new_event_id(), name, agency.id, access_request.id, utcnow().isoformat()
    )
    return [db.session.get(WebhookDelivery, i) for i in ids]


@pytest.fixture
def history(app, client, agency, owner):
    """A client with everything Latchkey records: two requests (one completed
    with a verified grant, one still open), a visit from the client's phone,
    answers, an e-mail, webhook copies and a stored API answer."""
    from portal.api.keys import create_key
    from worker import jobs

    fake_connection(agency)
    done, token = make_request(
        agency, owner, client_name=NAME, client_email=EMAIL, external_id=EXTERNAL_ID
    )
    done.questions = QUESTIONS
    db.session.commit()
    assert _client_visit(client, token).status_code == 200  # audited with ip and browser
    with app.test_request_context(
        "/r/x", headers={"User-Agent": CLIENT_UA}, environ_base={"REMOTE_ADDR": CLIENT_IP}
    ):
        templates_service.save_answers(done, {"q1": ANSWER}, requests_service.client_actor(done))
    grant = Grant(
        agency_id=agency.id,
        access_request_id=done.id,
        item_index=0,
        platform="pinterest",
        asset_type="AD_ACCOUNT",
        asset_id="549755813001",
        asset_name=ASSET_NAME,
        permissions=["CAMPAIGN_MANAGER"],
        status="verifying",
        granted_at=utcnow(),
    )
    db.session.add(grant)
    db.session.commit()
    requests_service.mark_verified(grant, ["CAMPAIGN_MANAGER"])
    done.status = "completed"
    done.completed_at = utcnow()
    db.session.commit()
    open_request, open_token = make_request(agency, owner, client_name=NAME, client_email=EMAIL)
    assert jobs.send_request_email(open_request.id) == "sent"
    _webhook_endpoint(agency)
    deliveries = _fan_out(agency, done)
    assert deliveries and EMAIL in deliveries[0].payload
    _key, plain = create_key(agency.id, "CRM")
    answer = client.post(
        "/api/v1/access-requests",
        json={
            "client": {"name": NAME, "email": EMAIL},
            "items": [
                {"platform": "pinterest", "asset_type": "AD_ACCOUNT", "permissions": ["ANALYST"]}
            ],
        },
        headers={"Authorization": f"Bearer {plain}", "Idempotency-Key": "crm-onboarding-1"},
    )
    assert answer.status_code == 201, answer.get_data(as_text=True)
    from_api = db.session.get(AccessRequest, answer.get_json()["id"])
    return {
        "done": done,
        "token": token,
        "open": open_request,
        "open_token": open_token,
        "from_api": from_api,
        "grant": grant,
        "client_id": done.client_id,
    }


def _downgrade_to_version_1(agency_id: int) -> int:
    """Rewrite the agency's chain as the code before version 2 wrote it (raw
    values hashed), as a database of an earlier release holds it."""
    events = db.session.execute(
        select(AuditEvent).where(AuditEvent.agency_id == agency_id).order_by(AuditEvent.seq)
    ).scalars()
    prev = audit.GENESIS
    count = 0
    for event in events:
        event.hash_version = 1
        event.salts = None
        event.key_id = None
        event.prev_hash = prev
        event.hash = audit._digest(event)
        prev = event.hash
        count += 1
    # Those releases kept no signed head for the chain.
    db.session.execute(text("DELETE FROM audit_chain_head WHERE agency_id = :a"), {"a": agency_id})
    db.session.commit()
    return count


# ---------------------------------------------------------- the audit chain


def test_erasing_a_field_keeps_the_chain_and_only_a_digest(agency):
    event = audit.record(
        "test.event",
        agency_id=agency.id,
        actor=audit.Actor("client", "7", EMAIL),
        details={"to": EMAIL, "status": "sent", "nested": {"name": NAME, "n": 1}},
    )
    audit.record("test.after", agency_id=agency.id)
    db.session.commit()
    assert event.hash_version == 3 and set(event.salts) == {
        "/actor_label",
        "/details/to",
        "/details/status",
        "/details/nested/name",
        "/details/nested/n",
    }
    eraser = audit.Eraser()
    assert eraser.erase(event, ["/actor_label", "/details/to", "/details/nested/name"]) == 3
    eraser.record("test.erased", agency_id=agency.id)
    db.session.commit()
    db.session.expire_all()
    event = db.session.get(AuditEvent, event.id)
    assert event.actor_label is None
    assert event.details == {"status": "sent", "nested": {"n": 1}}
    assert set(event.erased) == {"/actor_label", "/details/to", "/details/nested/name"}
    assert "/details/to" not in event.salts  # the salt goes: the digest can no longer be tested
    assert audit.verify_chain(agency.id).ok
    assert not _hits(EMAIL, NAME)


def test_a_changed_digest_or_value_after_erasure_breaks_the_chain(agency):
    event = audit.record("test.event", agency_id=agency.id, details={"to": EMAIL, "n": 1})
    db.session.commit()
    audit.Eraser().erase(event, ["/details/to"])
    db.session.commit()
    assert audit.verify_chain(agency.id).ok
    forged = {"/details/to": "0" * 64}
    db.session.execute(
        text("UPDATE audit_event SET erased = :e WHERE id = :id"),
        {"e": json.dumps(forged), "id": event.id},
    )
    db.session.commit()
    result = audit.verify_chain(agency.id)
    assert not result.ok and result.broken_event_id == event.id

    other = audit.record("test.event", agency_id=agency.id, details={"n": 2})
    db.session.commit()
    db.session.execute(
        text("UPDATE audit_event SET details = :d WHERE id = :id"),
        {"d": json.dumps({"n": 3}), "id": other.id},
    )
    db.session.commit()
    assert audit.verify_chain(agency.id).broken_event_id == event.id  # the first break


def test_events_written_before_version_2_still_verify_and_can_be_erased(agency, runner):
    for i in range(3):
        audit.record("test.legacy", agency_id=agency.id, details={"to": EMAIL, "i": i})
    db.session.commit()
    assert _downgrade_to_version_1(agency.id) == 4  # agency.created, then these
    assert audit.verify_chain(agency.id).ok

    legacy = db.session.execute(
        select(AuditEvent).where(AuditEvent.agency_id == agency.id, AuditEvent.seq == 2)
    ).scalar_one()
    eraser = audit.Eraser()
    eraser.erase(legacy, ["/details/to"])
    anchor = eraser.record("test.erased", agency_id=agency.id)
    db.session.commit()
    assert legacy.reseal_anchor_seq == anchor.seq
    assert anchor.details["resealed"]["count"] == 1
    assert EMAIL not in json.dumps(legacy.details)
    result = runner.invoke(args=["audit", "verify", "--agency", agency.slug])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "ok 5 events"

    # Changing the resealed event, even with a recomputed commitment, is caught.
    db.session.execute(
        text("UPDATE audit_event SET action = 'sneaky.change' WHERE id = :id"), {"id": legacy.id}
    )
    db.session.commit()
    db.session.expire_all()
    changed = db.session.get(AuditEvent, legacy.id)
    changed.reseal_hash = audit._reseal_digest(changed)
    db.session.commit()
    result = audit.verify_chain(agency.id)
    assert not result.ok and result.broken_event_id == legacy.id


def test_a_legacy_event_altered_before_erasure_stays_reported(agency):
    audit.record("test.legacy", agency_id=agency.id, details={"to": EMAIL})
    db.session.commit()
    _downgrade_to_version_1(agency.id)
    event = db.session.execute(
        select(AuditEvent).where(AuditEvent.action == "test.legacy")
    ).scalar_one()
    db.session.execute(
        text("UPDATE audit_event SET action = 'sneaky.change' WHERE id = :id"), {"id": event.id}
    )
    db.session.commit()
    db.session.expire_all()
    event = db.session.get(AuditEvent, event.id)
    eraser = audit.Eraser()
    eraser.erase(event, ["/details/to"])
    eraser.record("test.erased", agency_id=agency.id)
    db.session.commit()
    assert eraser.unverifiable == 1
    assert not _hits(EMAIL)  # erased all the same
    result = audit.verify_chain(agency.id)
    assert not result.ok and result.broken_event_id == event.id  # and not laundered


# ------------------------------------------------------------------ export


def test_an_admin_downloads_everything_about_the_client(client, auth, agency, admin, history):
    auth.login(admin)
    page = client.get(f"/app/clients/{history['client_id']}")
    assert page.status_code == 200
    assert "Download their data (JSON)" in page.get_data(as_text=True)
    token = csrf_token(client, f"/app/clients/{history['client_id']}")
    answer = client.post(f"/app/clients/{history['client_id']}/export", data={"csrf_token": token})
    assert answer.status_code == 200
    assert answer.mimetype == "application/json"
    assert answer.headers["Content-Disposition"].startswith("attachment; filename=")
    assert NAME not in answer.headers["Content-Disposition"]
    assert "no-store" in answer.headers["Cache-Control"]
    data = json.loads(answer.get_data(as_text=True))
    assert data["client"]["email"] == EMAIL and data["client"]["name"] == NAME
    assert data["client"]["external_id"] == EXTERNAL_ID
    by_id = {r["id"]: r for r in data["access_requests"]}
    assert set(by_id) == {history["done"].id, history["open"].id, history["from_api"].id}
    done = by_id[history["done"].id]
    assert done["answers"] == [{"question": "Who approves budgets?", "answer": ANSWER}]
    assert done["grants"][0]["asset_name"] == ASSET_NAME
    assert done["grants"][0]["status"] == "verified"
    actions = [e["action"] for e in data["audit_events"]]
    assert "access_request.opened" in actions and "grant.verified" in actions
    opened = next(e for e in data["audit_events"] if e["action"] == "access_request.opened")
    assert opened["ip"] == CLIENT_IP and opened["user_agent"] == CLIENT_UA
    assert any(m["to"] == EMAIL and m["to_the_client"] for m in data["emails"])
    exported = db.session.execute(
        select(AuditEvent).where(AuditEvent.action == "client.exported")
    ).scalar_one()
    assert exported.subject_id == str(history["client_id"])
    assert exported.details["requests"] == 3


def test_members_and_viewers_cannot_export_or_delete(client, auth, agency, member, viewer, history):
    client_id = history["client_id"]
    for person in (member, viewer):
        auth.login(person)
        token = csrf_token(client, f"/app/clients/{client_id}")
        page = client.get(f"/app/clients/{client_id}").get_data(as_text=True)
        assert "Delete the client" not in page
        assert (
            client.post(f"/app/clients/{client_id}/export", data={"csrf_token": token}).status_code
            == 403
        )
        assert client.get(f"/app/clients/{client_id}/delete").status_code == 403
        assert (
            client.post(
                f"/app/clients/{client_id}/delete",
                data={"csrf_token": token, "confirm_name": NAME},
            ).status_code
            == 403
        )
    assert db.session.get(Client, client_id).erased_at is None


def test_another_agency_cannot_export_or_delete_the_client(client, auth, history):
    _other, stranger = make_agency("Other Agency", "owner@other.test")
    auth.login(stranger)
    token = csrf_token(client, "/app/clients")
    client_id = history["client_id"]
    assert client.get(f"/app/clients/{client_id}").status_code == 404
    assert (
        client.post(f"/app/clients/{client_id}/export", data={"csrf_token": token}).status_code
        == 404
    )
    assert client.get(f"/app/clients/{client_id}/delete").status_code == 404
    answer = client.post(
        f"/app/clients/{client_id}/delete", data={"csrf_token": token, "confirm_name": NAME}
    )
    assert answer.status_code == 404
    assert db.session.get(Client, client_id).erased_at is None
    assert not db.session.execute(
        select(AuditEvent).where(AuditEvent.action == "client.exported")
    ).first()


# -------------------------------------------------------------- deletion


def test_the_confirmation_says_what_happens_and_that_platform_access_stays(
    client, auth, agency, owner, history
):
    auth.login(owner)
    page = client.get(f"/app/clients/{history['client_id']}/delete")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Access on the platforms is not removed" in html
    assert "549755813001" in html or ASSET_NAME in html  # the verified grant, listed
    assert "Open Business settings → Partners." in html  # how to remove it on Pinterest
    assert "2 requests are still open: they are revoked first" in html
    assert f"/app/requests/{history['open'].id}" in html  # where to revoke it instead

    token = csrf_token(client, f"/app/clients/{history['client_id']}/delete")
    wrong = client.post(
        f"/app/clients/{history['client_id']}/delete",
        data={"csrf_token": token, "confirm_name": "Blue Harbour"},
    )
    assert wrong.status_code == 422
    assert "Type the client&#39;s name exactly as shown" in wrong.get_data(as_text=True)
    assert db.session.get(Client, history["client_id"]).erased_at is None


def test_deleting_a_client_erases_every_personal_field_and_the_chain_verifies(
    client, auth, runner, agency, owner, history
):
    client_id = history["client_id"]
    assert _hits(*SECRET_STRINGS)  # the fixture really wrote them
    # Part of the trail predates version 2: those events are erased too.
    _downgrade_to_version_1(agency.id)
    auth.login(owner)
    token = csrf_token(client, f"/app/clients/{client_id}/delete")
    answer = client.post(
        f"/app/clients/{client_id}/delete",
        data={"csrf_token": token, "confirm_name": "  blue   harbor "},
    )
    assert answer.status_code == 303
    assert answer.location.endswith("/app/clients")
    listing = client.get("/app/clients").get_data(as_text=True)
    assert "The client was deleted and the personal data of 3 requests was erased." in listing
    assert NAME not in listing

    db.session.expire_all()
    assert _hits(*SECRET_STRINGS) == []
    result = runner.invoke(args=["audit", "verify", "--agency", agency.slug])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ok ")

    gone = db.session.get(Client, client_id)
    assert gone.erased_at is not None and gone.email == "" and gone.external_id is None
    requests = (
        db.session.execute(select(AccessRequest).where(AccessRequest.client_id == client_id))
        .scalars()
        .all()
    )
    assert len(requests) == 3 and all(r.erased_at for r in requests)
    assert {r.id: r.status for r in requests}[history["open"].id] == "revoked"
    assert {r.id: r.status for r in requests}[history["done"].id] == "completed"  # counts stay
    grant = db.session.get(Grant, history["grant"].id)
    assert grant.status == "verified" and grant.asset_id == "549755813001"
    # The client's visits keep no address or browser; the agency's own events keep theirs.
    visits = (
        db.session.execute(select(AuditEvent).where(AuditEvent.actor_type == "client"))
        .scalars()
        .all()
    )
    assert visits and all(e.ip is None and e.user_agent is None for e in visits)
    assert all(e.erased for e in visits)
    created = (
        db.session.execute(
            select(AuditEvent)
            .where(AuditEvent.action == "access_request.created")
            .order_by(AuditEvent.id)
        )
        .scalars()
        .first()
    )
    assert created.actor_label == "owner@acme.test" and "client" not in created.details
    assert created.details["items"]  # what was asked stays
    actions = [e.action for e in db.session.execute(select(AuditEvent)).scalars()]
    assert actions.count("access_request.erased") == 3 and actions.count("client.erased") == 1
    # Copies: the e-mail log row stays (nothing is sent twice), its address goes;
    # the pending webhook copy is cancelled; the stored API answer is dropped.
    assert db.session.execute(select(NotificationLog)).scalars().all()
    deliveries = db.session.execute(select(WebhookDelivery)).scalars().all()
    assert deliveries and all(json.loads(d.payload)["data"].get("erased") for d in deliveries)
    assert {d.status for d in deliveries} <= {"cancelled", "succeeded", "failed"}
    assert db.session.execute(select(IdempotencyKey)).first() is None


def test_links_of_a_deleted_client_die_and_its_pdf_holds_no_personal_data(
    client, auth, agency, owner, history
):
    from pypdf import PdfReader

    privacy.erase_client(db.session.get(Client, history["client_id"]), audit.SYSTEM)
    assert client.get(f"/r/{history['token']}").status_code == 404
    assert client.get(f"/r/{history['open_token']}").status_code == 404
    auth.login(owner)
    page = client.get(f"/app/requests/{history['done'].id}").get_data(as_text=True)
    assert "its link no longer exists" in page
    assert "/r/" not in page
    pdf = client.get(f"/app/requests/{history['done'].id}/report.pdf")
    assert pdf.status_code == 200
    content = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages)
    assert "Erased client" in content
    for secret in (NAME, EMAIL, EXTERNAL_ID, ANSWER, CLIENT_IP):
        assert secret not in content
    # The deleted client has a page saying so, and nothing left to act on.
    detail = client.get(f"/app/clients/{history['client_id']}")
    assert detail.status_code == 200
    assert "This client was deleted on" in detail.get_data(as_text=True)
    assert client.get(f"/app/clients/{history['client_id']}/delete").status_code == 404


def test_a_webhook_copy_written_during_the_erasure_is_swept(agency, owner, history):
    started = utcnow() - timedelta(seconds=1)
    done = history["done"]
    privacy.erase_client(db.session.get(Client, history["client_id"]), audit.SYSTEM)
    late = WebhookDelivery(
        agency_id=agency.id,
        endpoint_id=db.session.execute(select(WebhookDelivery.endpoint_id)).scalars().first(),
        event_id="msg_late",
        event_type="grant.verified",
        payload=json.dumps(
            {"type": "grant.verified", "data": {"id": done.id, "client": {"email": EMAIL}}}
        ),
        status="pending",
    )
    db.session.add(late)
    db.session.commit()
    from worker import jobs

    assert jobs.sweep_erased_copies(agency.id, [done.id], started.isoformat()) >= 1
    db.session.expire_all()
    late = db.session.get(WebhookDelivery, late.id)
    assert EMAIL not in late.payload and late.status == "cancelled"


def test_deleting_twice_changes_nothing(agency, history):
    target = db.session.get(Client, history["client_id"])
    first = privacy.erase_client(target, audit.SYSTEM)
    assert first.requests == 3 and first.revoked == 2  # the open one and the API one
    count = db.session.scalar(select(db.func.count()).select_from(AuditEvent))
    second = privacy.erase_client(target, audit.SYSTEM)
    assert second.requests == 0
    assert db.session.scalar(select(db.func.count()).select_from(AuditEvent)) == count


def test_other_clients_are_left_alone(agency, owner, history):
    other, _token = make_request(
        agency, owner, client_name="Red Mill", client_email="hello@redmill.test"
    )
    privacy.erase_client(db.session.get(Client, history["client_id"]), audit.SYSTEM)
    db.session.expire_all()
    kept = db.session.get(AccessRequest, other.id)
    assert kept.erased_at is None and kept.client.email == "hello@redmill.test"
    created = db.session.execute(
        select(AuditEvent).where(
            AuditEvent.action == "access_request.created",
            AuditEvent.subject_id == str(other.id),
        )
    ).scalar_one()
    assert created.details["client"] == "hello@redmill.test"
    assert audit.verify_chain(agency.id).ok


# -------------------------------------------------------------- retention


def _finished(agency, owner, name, email, status, ended_days_ago, expires_in_days=-1):
    access_request, _token = make_request(agency, owner, client_name=name, client_email=email)
    now = utcnow()
    ended = now - timedelta(days=ended_days_ago)
    access_request.status = status
    access_request.expires_at = now + timedelta(days=expires_in_days)
    if status in ("completed", "partially_completed"):
        access_request.completed_at = ended
    elif status == "revoked":
        access_request.revoked_at = ended
    elif status == "expired":
        access_request.expires_at = ended
    db.session.commit()
    return access_request


def test_the_retention_setting_is_validated_audited_and_shows_its_effect(
    client, auth, agency, owner, admin
):
    fake_connection(agency)
    _finished(agency, owner, NAME, EMAIL, "completed", 100)
    auth.login(admin)
    page = client.get("/app/data-retention")
    assert page.status_code == 200
    assert "Off: personal data is kept until you delete the client." in page.get_data(as_text=True)
    team = client.get("/app/team").get_data(as_text=True)
    assert "/app/data-retention" in team

    token = csrf_token(client, "/app/data-retention")
    for bad in ("10", "5000", "soon"):
        answer = client.post(
            "/app/data-retention", data={"csrf_token": token, "enabled": "y", "days": bad}
        )
        assert answer.status_code == 422, bad
        assert "between 30 and 3650" in answer.get_data(as_text=True)
    assert agency.erase_finished_after_days is None

    answer = client.post(
        "/app/data-retention",
        data={"csrf_token": token, "enabled": "y", "days": "90"},
        follow_redirects=True,
    )
    html = answer.get_data(as_text=True)
    assert "erased 90 days after they end" in html
    assert "1 finished request is already older than that: it is erased tonight." in html
    db.session.expire_all()
    assert agency.erase_finished_after_days == 90
    changed = db.session.execute(
        select(AuditEvent).where(AuditEvent.action == "agency.retention_changed")
    ).scalar_one()
    assert changed.details == {"from": None, "to": 90}

    answer = client.post("/app/data-retention", data={"csrf_token": token}, follow_redirects=True)
    assert "Automatic erasure is off" in answer.get_data(as_text=True)
    db.session.expire_all()
    assert agency.erase_finished_after_days is None


def test_members_cannot_change_the_retention_rule(client, auth, agency, member):
    auth.login(member)
    token = csrf_token(client, "/app/clients")
    assert client.get("/app/data-retention").status_code == 403
    answer = client.post(
        "/app/data-retention", data={"csrf_token": token, "enabled": "y", "days": "30"}
    )
    assert answer.status_code == 403


def test_the_retention_job_erases_only_what_is_due_and_is_idempotent(
    agency, owner, runner, monkeypatch
):
    fake_connection(agency)
    agency.erase_finished_after_days = 30
    db.session.commit()
    old_done = _finished(agency, owner, "Old Co", "old@oldco.test", "completed", 40)
    recent = _finished(agency, owner, "Fresh Co", "fresh@freshco.test", "completed", 10)
    old_expired = _finished(agency, owner, "Gone Co", "gone@goneco.test", "expired", 45)
    old_revoked = _finished(agency, owner, "Stop Co", "stop@stopco.test", "revoked", 31)
    # Partly done long ago, but the link still works for 5 days: not finished yet.
    partial = _finished(agency, owner, "Half Co", "half@halfco.test", "partially_completed", 60, 5)
    # A client with one old and one recent request keeps its details.
    mixed_old = _finished(agency, owner, "Mixed Co", "mixed@mixedco.test", "completed", 50)
    mixed_new, _t = make_request(
        agency, owner, client_name="Mixed Co", client_email="mixed@mixedco.test"
    )
    # Another agency without the rule: nothing of it is touched.
    other_agency, other_owner = make_agency("Other Agency", "owner@other.test")
    fake_connection(other_agency)
    untouched = _finished(
        other_agency, other_owner, "Keep Co", "keep@keepco.test", "completed", 400
    )

    from worker import jobs

    later = utcnow() + timedelta(minutes=1)
    monkeypatch.setattr(privacy, "utcnow", lambda: later)
    assert jobs.apply_retention() == "4 requests and 3 clients erased"
    db.session.expire_all()
    erased = {r.id for r in db.session.execute(select(AccessRequest)).scalars() if r.erased_at}
    assert erased == {old_done.id, old_expired.id, old_revoked.id, mixed_old.id}
    assert not _hits("old@oldco.test", "Old Co", "gone@goneco.test", "stop@stopco.test")
    assert _hits("fresh@freshco.test") and _hits("half@halfco.test") and _hits("keep@keepco.test")
    mixed = db.session.get(AccessRequest, mixed_new.id).client
    assert mixed.erased_at is None and mixed.email == "mixed@mixedco.test"
    assert db.session.get(AccessRequest, old_done.id).status == "completed"
    assert db.session.get(AccessRequest, untouched.id).erased_at is None
    assert db.session.get(AccessRequest, partial.id).erased_at is None
    assert db.session.get(AccessRequest, recent.id).erased_at is None
    assert audit.verify_chain(agency.id).ok

    events_before = db.session.scalar(select(db.func.count()).select_from(AuditEvent))
    assert jobs.apply_retention() == "0 requests and 0 clients erased"
    assert db.session.scalar(select(db.func.count()).select_from(AuditEvent)) == events_before

    # Time passes: the partially completed request's link expires, the recent one ages.
    monkeypatch.setattr(privacy, "utcnow", lambda: later + timedelta(days=36))
    assert jobs.apply_retention() == "2 requests and 2 clients erased"
    assert not _hits("fresh@freshco.test", "half@halfco.test")
    assert _hits("keep@keepco.test")
    result = runner.invoke(args=["audit", "verify", "--agency", agency.slug])
    assert result.exit_code == 0, result.output
    assert jobs.last_run("apply_retention")["outcome"] == "ok"


def test_the_retention_job_stops_within_its_budget_and_carries_on(agency, owner, monkeypatch):
    fake_connection(agency)
    agency.erase_finished_after_days = 30
    db.session.commit()
    due = [
        _finished(agency, owner, f"Co {i}", f"co{i}@example.test", "completed", 40)
        for i in range(3)
    ]
    first = privacy.apply_retention(batch_size=2, budget_seconds=0)
    assert first.finished is False and first.requests == 0
    run = privacy.apply_retention(batch_size=2)
    assert run.finished and run.requests == 3 and run.clients == 3
    db.session.expire_all()
    assert all(db.session.get(AccessRequest, r.id).erased_at for r in due)


def test_the_client_page_shows_when_the_rule_erases_each_request(
    client, auth, agency, owner, admin
):
    fake_connection(agency)
    agency.erase_finished_after_days = 30
    db.session.commit()
    done = _finished(agency, owner, NAME, EMAIL, "completed", 10)
    auth.login(admin)
    html = client.get(f"/app/clients/{done.client_id}").get_data(as_text=True)
    assert "(retention rule)" in html
    assert "Personal data of a request is erased 30 days after it ends." in html


def test_the_retention_job_is_scheduled_nightly():
    from worker.schedule import PERIODIC

    entry = next(e for e in PERIODIC if e["func"] == "worker.jobs.apply_retention")
    assert entry["cron"] and entry["timeout"] >= 600
