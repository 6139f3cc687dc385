"""The agency workspace: dashboard, request list and detail, templates, clients,
branding, connections' identities, audit log and verification codes."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from helpers_requests import (
    PINTEREST_ITEMS,
    QueryCounter,
    audit_actions,
    csrf_from,
    fake_connection,
    make_request,
)
from sqlalchemy import select

from portal import crypto
from portal.extensions import db
from portal.models import Agency, Grant, Template
from portal.models.base import utcnow

PAGES = [
    "/app/",
    "/app/requests",
    "/app/templates",
    "/app/clients",
    "/app/connections",
]
ADMIN_PAGES = ["/app/branding", "/app/audit", "/app/templates/new"]


@pytest.fixture
def ready(agency):
    fake_connection(agency)
    return agency


def _csrf(client, path="/app/"):
    return csrf_from(client.get(path).get_data(as_text=True))


def _grant(ar, status, manual=False, **fields):
    grant = Grant(
        agency_id=ar.agency_id,
        access_request_id=ar.id,
        item_index=0,
        platform="pinterest",
        asset_type="AD_ACCOUNT",
        asset_id=f"a-{status}-{ar.id}",
        asset_name="Spring shop",
        status=status,
        manual=manual,
        **fields,
    )
    db.session.add(grant)
    db.session.commit()
    return grant


# ------------------------------------------------------------------ roles


@pytest.mark.parametrize("path", PAGES)
def test_it_shows_every_page_to_each_role(auth, ready, owner, member, viewer, path):
    make_request(ready, owner)
    for user in (owner, member, viewer):
        assert auth.login(user).get(path).status_code == 200, (user.email, path)


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_it_keeps_admin_pages_from_members_and_viewers(auth, ready, owner, member, viewer, path):
    assert auth.login(owner).get(path).status_code == 200
    assert auth.login(member).get(path).status_code == 403
    assert auth.login(viewer).get(path).status_code == 403


def test_it_answers_404_for_another_agencys_request_template_and_client(
    auth, ready, owner, outsider
):
    ar, _t = make_request(ready, owner)
    template = Template(agency_id=ready.id, name="T", items=PINTEREST_ITEMS)
    db.session.add(template)
    db.session.commit()
    client = auth.login(outsider)
    for path in (
        f"/app/requests/{ar.id}",
        f"/app/templates/{template.id}",
        f"/app/templates/{template.id}/edit",
        f"/app/clients/{ar.client_id}",
        f"/app/requests/{ar.id}/report.pdf",
        f"/app/requests/new?template_id={template.id}",
        f"/app/requests/new?client_id={ar.client_id}",
    ):
        assert client.get(path).status_code == 404, path


def test_it_refuses_writes_without_csrf(auth, ready, owner):
    ar, _t = make_request(ready, owner)
    client = auth.login(owner)
    for path in (
        f"/app/requests/{ar.id}/extend",
        f"/app/requests/{ar.id}/regenerate",
        "/app/templates/new",
        "/app/branding",
        "/app/connections/identities",
    ):
        assert client.post(path, data={"days": "7"}).status_code == 400, path


def test_it_lets_viewers_read_but_not_act(auth, ready, owner, viewer):
    ar, _t = make_request(ready, owner)
    client = auth.login(viewer)
    html = client.get(f"/app/requests/{ar.id}").get_data(as_text=True)
    assert "Make a new link" not in html and "Send by e-mail" not in html
    csrf = csrf_from(html)
    answer = client.post(f"/app/requests/{ar.id}/extend", data={"csrf_token": csrf, "days": 7})
    assert answer.status_code == 403


# -------------------------------------------------------------- dashboard


def test_it_counts_requests_and_lists_what_needs_the_agency(auth, ready, owner):
    failing, _t = make_request(ready, owner, client_name="Failing Co", client_email="f@f.test")
    _grant(failing, "failed", error="Refused", fix="Ask again")
    manual, _t = make_request(ready, owner, client_name="Manual Co", client_email="m@m.test")
    _grant(manual, "needs_action", manual=True)
    soon, _t = make_request(ready, owner, client_name="Soon Co", client_email="s@s.test")
    soon.expires_at = utcnow() + timedelta(days=1)
    done, _t = make_request(ready, owner, client_name="Done Co", client_email="d@d.test")
    done.status = "completed"
    done.opened_at = done.created_at + timedelta(hours=1)
    done.completed_at = done.created_at + timedelta(hours=5)
    db.session.commit()
    html = auth.login(owner).get("/app/").get_data(as_text=True)
    needs = html.split('id="needs-you"')[1].split("</section>")[0]
    assert "Failing Co" in needs and "Manual Co" in needs and "Soon Co" in needs
    assert "Done Co" not in needs
    assert "<svg" in html and "median time to complete: 5.0 h" in html
    assert re.search(r'<span class="stat-n">1</span> <span class="stat-label">Completed', html)


# --------------------------------------------------------- request list


def _many(agency, owner, n=30):
    for i in range(n):
        ar, _t = make_request(
            agency,
            owner,
            client_name=f"Client {i:02d}",
            client_email=f"c{i:02d}@example.test",
            external_id=f"crm-{i:02d}",
        )
        if i % 3 == 0:
            ar.status = "completed"
    db.session.commit()


def test_it_searches_filters_sorts_and_pages(auth, ready, owner):
    _many(ready, owner)
    client = auth.login(owner)
    html = client.get("/app/requests?q=c07@").get_data(as_text=True)
    assert "Client 07" in html and "Client 08" not in html and "1 request" in html
    assert "Client 12" in client.get("/app/requests?q=crm-12").get_data(as_text=True)
    completed = client.get("/app/requests?status=completed").get_data(as_text=True)
    assert "10 requests" in completed and "Client 03" in completed and "Client 01" not in completed
    first = client.get("/app/requests?sort=client").get_data(as_text=True)
    assert first.index("Client 00") < first.index("Client 01")
    assert "Client 29" not in first and "Page 1 of 2" in first
    second = client.get("/app/requests?sort=client&page=2").get_data(as_text=True)
    assert "Client 29" in second and "Client 00" not in second
    assert client.get("/app/requests?page=9").status_code == 404
    assert "30 requests" in client.get("/app/requests?platform=pinterest").get_data(as_text=True)
    nothing = client.get("/app/requests?q=nobody").get_data(as_text=True)
    assert "No request matches" in nothing


def test_it_answers_htmx_with_the_results_only(auth, ready, owner):
    _many(ready, owner, 3)
    answer = auth.login(owner).get(
        "/app/requests?q=Client", headers={"HX-Request": "true", "HX-Target": "request-results"}
    )
    html = answer.get_data(as_text=True)
    assert html.lstrip().startswith('<div id="request-results"') and "<header" not in html
    full = auth.login(owner).get("/app/requests").get_data(as_text=True)
    assert 'hx-trigger="input changed delay:300ms from:#q, change"' in full
    assert 'hx-push-url="true"' in full


def test_it_needs_the_same_number_of_queries_for_10_and_50_rows(auth, ready, owner):
    _many(ready, owner, 50)
    client = auth.login(owner)
    client.get("/app/requests")  # warm up: caches that are not about rows
    counts = []
    for size in (10, 50):
        with QueryCounter() as counter:
            assert client.get(f"/app/requests?per_page={size}").status_code == 200
        counts.append(counter.count)
    assert counts[0] == counts[1], counter.statements
    # user, membership, agency, the page of rows, the count: no query per row
    assert counts[0] <= 5
    with QueryCounter() as counter:
        client.get("/app/requests?per_page=50&q=client&status=sent")
    assert counter.count == counts[0]


# ------------------------------------------------------------ detail


def test_it_shows_grants_answers_and_the_timeline(auth, ready, owner):
    ar, _t = make_request(ready, owner)
    ar.questions = [
        {
            "id": "q1",
            "label": "Your website?",
            "kind": "short_text",
            "required": True,
            "choices": [],
        }
    ]
    ar.answers = {"q1": "https://blueharbor.test"}
    db.session.commit()
    _grant(ar, "failed", error="The platform refused it.", fix="Ask for admin rights.")
    html = auth.login(owner).get(f"/app/requests/{ar.id}").get_data(as_text=True)
    assert "Your website?" in html and "https://blueharbor.test" in html
    assert "The platform refused it." in html and "Ask for admin rights." in html
    assert "Request created" in html  # from the audit trail
    assert "Download the PDF confirmation" in html


def test_it_extends_the_expiry_and_reopens_an_expired_link(auth, ready, member, owner):
    ar, token = make_request(ready, owner)
    ar.status = "expired"
    ar.expires_at = utcnow() - timedelta(days=1)
    db.session.commit()
    client = auth.login(member)
    csrf = _csrf(client, f"/app/requests/{ar.id}")
    answer = client.post(f"/app/requests/{ar.id}/extend", data={"csrf_token": csrf, "days": "7"})
    assert answer.status_code == 303
    db.session.refresh(ar)
    assert ar.status == "sent" and ar.expires_at > utcnow() + timedelta(days=6)
    assert "access_request.extended" in audit_actions(ready.id)
    assert client.get(f"/r/{token}").status_code == 200
    client.post(f"/app/requests/{ar.id}/extend", data={"csrf_token": csrf, "days": "400"})
    db.session.refresh(ar)
    assert ar.expires_at < utcnow() + timedelta(days=8)


def test_it_regenerates_the_link_and_the_old_one_dies(auth, ready, member, owner):
    ar, old = make_request(ready, owner)
    client = auth.login(member)
    csrf = _csrf(client, f"/app/requests/{ar.id}")
    assert (
        client.post(f"/app/requests/{ar.id}/regenerate", data={"csrf_token": csrf}).status_code
        == 303
    )
    db.session.refresh(ar)
    new = crypto.decrypt(ar.token_encrypted)
    assert new != old and ar.token_hash == crypto.token_hash(new)
    assert client.get(f"/r/{old}").status_code == 404
    assert client.get(f"/r/{new}").status_code == 200
    assert "access_request.link_regenerated" in audit_actions(ready.id)


def test_it_sends_the_email_and_then_resends(auth, ready, member, owner, monkeypatch):
    calls = []
    monkeypatch.setattr(
        "portal.notifications.send_request_email",
        lambda rid, resend=False: calls.append((rid, resend)),
    )
    ar, _t = make_request(ready, owner)
    client = auth.login(member)
    csrf = _csrf(client, f"/app/requests/{ar.id}")
    assert client.post(f"/app/requests/{ar.id}/email", data={"csrf_token": csrf}).status_code == 303
    assert calls == [(ar.id, False)]
    from portal import audit

    audit.record("access_request.email_sent", agency_id=ready.id, subject=("access_request", ar.id))
    db.session.commit()
    html = client.get(f"/app/requests/{ar.id}").get_data(as_text=True)
    assert "Send the e-mail again" in html
    client.post(f"/app/requests/{ar.id}/email", data={"csrf_token": csrf})
    assert calls[-1] == (ar.id, True)


def test_it_marks_a_manual_step_done_and_retries_verification(
    auth, ready, member, owner, monkeypatch
):
    monkeypatch.setattr("portal.services.requests.enqueue_verification", lambda gid: None)
    ar, _t = make_request(ready, owner)
    manual = _grant(ar, "needs_action", manual=True)
    failed = _grant(ar, "failed", external={"stage": "verify"}, error="Not visible", fix="Wait")
    client = auth.login(member)
    csrf = _csrf(client, f"/app/requests/{ar.id}")
    base = f"/app/requests/{ar.id}/grants"
    assert client.post(f"{base}/{manual.id}/done", data={"csrf_token": csrf}).status_code == 303
    assert client.post(f"{base}/{failed.id}/retry", data={"csrf_token": csrf}).status_code == 303
    db.session.refresh(manual)
    db.session.refresh(failed)
    assert manual.status == "verifying" and failed.status == "verifying"
    other, _t = make_request(ready, owner, client_email="x@x.test")
    stranger = _grant(other, "needs_action", manual=True)
    assert client.post(f"{base}/{stranger.id}/done", data={"csrf_token": csrf}).status_code == 404


def test_it_downloads_the_pdf(auth, ready, owner, monkeypatch):
    monkeypatch.setattr("portal.reports.render_report", lambda rid, **kw: b"%PDF-1.7 fake")
    ar, _t = make_request(ready, owner)
    answer = auth.login(owner).get(f"/app/requests/{ar.id}/report.pdf")
    assert answer.status_code == 200 and answer.mimetype == "application/pdf"
    assert answer.headers["Content-Disposition"].startswith("attachment;")
    assert answer.data.startswith(b"%PDF")


# ------------------------------------------------------------ templates


def _template_form(csrf, **overrides):
    data = {
        "csrf_token": csrf,
        "name": "Ads onboarding",
        "message": "We run your ads.",
        "perm": ["pinterest|AD_ACCOUNT|CAMPAIGN_MANAGER", "pinterest|PROFILE|PROFILE_PUBLISHER"],
        "q-count": "2",
        "q-0-label": "Monthly budget?",
        "q-0-kind": "choice",
        "q-0-choices": "Under 1k\n1k to 10k\nMore",
        "q-0-required": "1",
        "q-1-label": "Anything else?",
        "q-1-kind": "long_text",
        "action": "save",
    }
    data.update(overrides)
    return data


def test_it_creates_a_template_with_questions(auth, ready, admin):
    client = auth.login(admin)
    html = client.get("/app/templates/new").get_data(as_text=True)
    assert "See reports and analytics; change nothing." in html
    answer = client.post("/app/templates/new", data=_template_form(csrf_from(html)))
    assert answer.status_code == 303
    template = db.session.execute(select(Template)).scalar_one()
    assert [q["id"] for q in template.questions] == ["q1", "q2"]
    assert template.questions[0]["choices"] == ["Under 1k", "1k to 10k", "More"]
    assert template.questions[0]["required"] is True
    detail = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "Monthly budget?" in detail and "We run your ads." in detail


def test_it_shows_template_errors_in_place(auth, ready, admin):
    client = auth.login(admin)
    csrf = _csrf(client, "/app/templates/new")
    answer = client.post(
        "/app/templates/new",
        data=_template_form(csrf, name="", perm=[], **{"q-0-choices": "Only one"}),
    )
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert "Give the template a name." in html
    assert "Choose at least one thing to ask for." in html
    assert "Give between 2 and 20 choices" in html
    assert 'value="Monthly budget?"' in html  # what was typed stays
    assert db.session.execute(select(Template)).first() is None


def test_it_adds_a_question_row_without_saving(auth, ready, admin):
    client = auth.login(admin)
    csrf = _csrf(client, "/app/templates/new")
    answer = client.post(
        "/app/templates/new",
        data=_template_form(csrf, action="add_question"),
        headers={"HX-Request": "true"},
    )
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200 and 'name="q-2-label"' in html and "<header" not in html
    assert db.session.execute(select(Template)).first() is None


def test_it_previews_the_template_live(auth, ready, admin):
    client = auth.login(admin)
    csrf = _csrf(client, "/app/templates/new")
    html = client.post(
        "/app/templates/preview", data=_template_form(csrf), headers={"HX-Request": "true"}
    ).get_data(as_text=True)
    assert "Campaign manager" in html or "CAMPAIGN" in html
    assert "Monthly budget?" in html and "We run your ads." in html


def test_it_never_changes_a_sent_request_when_the_template_changes(auth, ready, admin, member):
    template = Template(
        agency_id=ready.id,
        name="Ads",
        items=[PINTEREST_ITEMS[0]],
        message="Old message",
        questions=[
            {"id": "q1", "label": "Old?", "kind": "short_text", "required": False, "choices": []}
        ],
    )
    db.session.add(template)
    db.session.commit()
    client = auth.login(member)
    page = client.get(f"/app/requests/new?template_id={template.id}").get_data(as_text=True)
    assert 'value="pinterest|AD_ACCOUNT|CAMPAIGN_MANAGER" checked' in page.replace(
        'aria-describedby="perm-pinterest-AD_ACCOUNT-CAMPAIGN_MANAGER-hint" ', ""
    )
    ar, _t = make_request(ready, member, items=None, template=template)
    client = auth.login(admin)
    csrf = _csrf(client, f"/app/templates/{template.id}/edit")
    client.post(
        f"/app/templates/{template.id}/edit",
        data=_template_form(
            csrf, name="Ads v2", message="New message", perm=["pinterest|CATALOG|CATALOGS_VIEWER"]
        ),
    )
    db.session.refresh(template)
    db.session.refresh(ar)
    assert template.message == "New message"
    assert ar.message == "Old message"
    assert ar.items == PINTEREST_ITEMS
    assert ar.questions[0]["label"] == "Old?"


def test_it_duplicates_and_archives_templates(auth, ready, admin):
    template = Template(agency_id=ready.id, name="Ads", items=[PINTEREST_ITEMS[0]])
    db.session.add(template)
    db.session.commit()
    client = auth.login(admin)
    csrf = _csrf(client, f"/app/templates/{template.id}")
    answer = client.post(f"/app/templates/{template.id}/duplicate", data={"csrf_token": csrf})
    assert answer.status_code == 303
    names = sorted(db.session.execute(select(Template.name)).scalars())
    assert names == ["Ads", "Copy of Ads"]
    client.post(f"/app/templates/{template.id}/archive", data={"csrf_token": csrf})
    db.session.refresh(template)
    assert template.archived_at is not None
    listing = client.get("/app/templates").get_data(as_text=True)
    assert "Copy of Ads" in listing and ">Ads</a>" not in listing
    assert ">Ads</a>" in client.get("/app/templates?show=archived").get_data(as_text=True)
    assert "template.archived" in audit_actions(ready.id)


def test_members_cannot_edit_templates(auth, ready, member):
    client = auth.login(member)
    csrf = _csrf(client)
    assert client.post("/app/templates/new", data=_template_form(csrf)).status_code == 403


# -------------------------------------------------------------- clients


def test_it_lists_clients_and_starts_a_request_for_one(auth, ready, owner, member):
    ar, _t = make_request(ready, owner, external_id="crm-1")
    make_request(ready, owner)
    client = auth.login(member)
    html = client.get("/app/clients").get_data(as_text=True)
    assert "Blue Harbor" in html and "crm-1" in html and "English" in html
    assert ">2 <" in html.replace("\n", "") or ">2<" in html or "2 <span" in html
    detail = client.get(f"/app/clients/{ar.client_id}").get_data(as_text=True)
    assert f"/app/requests/new?client_id={ar.client_id}" in detail
    form = client.get(f"/app/requests/new?client_id={ar.client_id}").get_data(as_text=True)
    assert 'value="marketing@blueharbor.test"' in form
    assert "Blue Harbor" in client.get("/app/clients?q=blue").get_data(as_text=True)
    assert "No client found" in client.get("/app/clients?q=zzz").get_data(as_text=True)


# ------------------------------------------------------------- identities


def test_it_saves_receiving_identities(auth, ready, admin):
    client = auth.login(admin)
    csrf = _csrf(client, "/app/connections")
    data = {
        "csrf_token": csrf,
        "pinterest.business_id": "549755885175",
        "google_ads.manager_id": "123-456-7890",
        "google.email": "ads@acme.test",
    }
    assert client.post("/app/connections/identities", data=data).status_code == 303
    agency = db.session.get(Agency, ready.id)
    db.session.refresh(agency)
    assert agency.identities["pinterest"]["business_id"] == "549755885175"
    assert agency.identities["google_ads"]["manager_id"] == "1234567890"
    bad = client.post(
        "/app/connections/identities", data={**data, "meta.business_id": "not-a-number"}
    )
    assert bad.status_code == 422
    assert "This does not look right" in bad.get_data(as_text=True)


# ------------------------------------------------------------ audit, verify


def test_it_filters_and_exports_the_audit_log(auth, ready, owner):
    ar, _t = make_request(ready, owner)
    make_request(ready, owner, client_email="other@x.test")
    client = auth.login(owner)
    html = client.get(f"/app/audit?request_id={ar.id}").get_data(as_text=True)
    assert "1 event" in html and "access_request.created" in html
    assert "0 events" in client.get("/app/audit?actor=nobody").get_data(as_text=True)
    csv_answer = client.get("/app/audit.csv?action=access_request.created")
    assert csv_answer.mimetype == "text/csv"
    lines = csv_answer.get_data(as_text=True).strip().splitlines()
    assert len(lines) == 3 and lines[0].startswith("seq,created_at")
    chain = client.get("/app/audit/chain").get_data(as_text=True)
    assert "none changed or removed" in chain


def test_it_shows_a_broken_chain(auth, ready, owner):
    from portal.models import AuditEvent

    make_request(ready, owner)
    event = (
        db.session.execute(select(AuditEvent).where(AuditEvent.agency_id == ready.id))
        .scalars()
        .first()
    )
    event.action = "forged"
    db.session.commit()
    html = auth.login(owner).get("/app/audit/chain").get_data(as_text=True)
    assert "tampered" in html


def test_it_looks_up_a_verification_code(auth, ready, owner, outsider):
    from portal.reports.verification import verification_code

    ar, _t = make_request(ready, owner)
    code = verification_code(ar)
    client = auth.login(owner)
    answer = client.get(f"/app/verify/{code}")
    assert answer.status_code == 200 and "genuine" in answer.get_data(as_text=True)
    assert client.get(f"/app/verify?code={code}").status_code == 303
    assert client.get("/app/verify/LK-ZZZZ-ZZZZ").status_code == 404
    assert auth.login(outsider).get(f"/app/verify/{code}").status_code == 404


def test_it_stops_counting_past_the_cap_and_still_pages(auth, ready, owner, monkeypatch):
    monkeypatch.setattr("portal.admin.requests.COUNT_CAP", 5)
    _many(ready, owner, 12)
    client = auth.login(owner)
    html = client.get("/app/requests?per_page=5").get_data(as_text=True)
    assert "More than 5 requests" in html and "page=2" in html
    third = client.get("/app/requests?per_page=5&page=3").get_data(as_text=True)
    assert third.count("/app/requests/") >= 2 and "page=4" not in third
