"""The one-link client flow, end to end, against the emulated Pinterest.

The test client plays the client's browser; the connectors reach the sandbox
over real HTTP on the live server; RQ's worker runs the verification jobs.
"""

from __future__ import annotations

import json

import pytest
from helpers_requests import (
    audit_actions,
    consent,
    csrf_from,
    form_fields,
    make_request,
    path_of,
    sandbox_connection,
)
from sqlalchemy import select, text

from portal import oauth, platforms
from portal.extensions import db
from portal.kv import redis_connection
from portal.models import AccessRequest, Grant

pytestmark = pytest.mark.usefixtures("live_server")


@pytest.fixture
def link(agency, owner):
    """A Pinterest request (ad account + profile) from a connected agency."""
    sandbox_connection(agency)
    access_request, token = make_request(agency, owner)
    return access_request, token


def connect(client, token: str, persona: str = "business", decision: str = "allow"):
    """From the link: Connect Pinterest, choose a persona, Allow; back on the link."""
    page = client.get(f"/r/{token}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Connect Pinterest" in html
    started = client.post(f"/r/{token}/p/pinterest/connect", data={"csrf_token": csrf_from(html)})
    assert started.status_code == 303
    # Pinterest's description defines no PKCE: the sign-in asks for none.
    assert "code_challenge" not in started.headers["Location"]
    callback = consent(client, started.headers["Location"], persona, decision)
    back = client.get(path_of(callback))
    assert back.status_code == 303, back.get_data(as_text=True)[:800]
    assert back.headers["Location"].endswith(f"/r/{token}/p/pinterest")
    return client.get(f"/r/{token}/p/pinterest")


def grant_preselected(client, token: str, page_html: str, **headers):
    fields = form_fields(page_html, f"/r/{token}/p/pinterest/grant")
    return client.post(f"/r/{token}/p/pinterest/grant", data=fields, headers=headers)


def test_it_takes_a_client_from_the_link_to_verified_access(client, link, rq_worker):
    access_request, token = link
    picker = connect(client, token)
    html = picker.get_data(as_text=True)
    assert picker.status_code == 200
    assert "Grant access" in html
    chosen = form_fields(html, f"/r/{token}/p/pinterest/grant")
    # The first ad account and the profile are ticked for the client already.
    assert [k for k in chosen if k.startswith("item-")] == ["item-0", "item-1"]
    assert len(chosen.getlist("item-0")) == 1

    granted = grant_preselected(client, token, html)
    assert granted.status_code == 303
    results = client.get(f"/r/{token}/p/pinterest").get_data(as_text=True)
    assert "Granted" in results or "Verifying" in results

    rq_worker()
    db.session.expire_all()
    grants = db.session.execute(select(Grant).order_by(Grant.id)).scalars().all()
    assert [(g.asset_type, g.status) for g in grants] == [
        ("AD_ACCOUNT", "verified"),
        ("PROFILE", "verified"),
    ]
    assert all(g.external.get("client_business_id") for g in grants)
    request_row = db.session.get(AccessRequest, access_request.id)
    assert request_row.status == "completed"
    assert request_row.completed_at is not None

    summary = client.get(f"/r/{token}/summary").get_data(as_text=True)
    assert "All set" in summary
    assert "Finish" in summary
    actions = audit_actions(access_request.agency_id)
    for action in (
        "access_request.opened",
        "oauth.client_connected",
        "grant.granted",
        "grant.verified",
        "access_request.completed",
    ):
        assert action in actions


def test_it_keeps_the_client_token_out_of_the_database_and_drops_it_after_the_grant(
    client, link, rq_worker
):
    access_request, token = link
    picker = connect(client, token)
    stored = oauth.client_token(access_request.id, "pinterest")
    assert stored and stored["access_token"]
    secret = stored["access_token"]
    # Kept encrypted, and only for a while.
    key = f"{oauth.__name__ and 'latchkey:kv:'}client-token:{access_request.id}:pinterest"
    assert secret.encode() not in redis_connection().get(key)
    assert 0 < redis_connection().ttl(key) <= oauth.CLIENT_TOKEN_TTL

    grant_preselected(client, token, picker.get_data(as_text=True))
    rq_worker()
    assert oauth.client_token(access_request.id, "pinterest") is None
    assert redis_connection().get(key) is None
    # Nowhere in the database either: not in any table, not in the audit trail.
    for table in db.metadata.sorted_tables:
        if table.name.startswith("sandbox"):
            continue  # the emulated platform's own records (it stores only hashes)
        rows = db.session.execute(table.select()).all()
        assert secret not in json.dumps([list(map(str, r)) for r in rows]), table.name


def test_it_works_without_javascript_through_plain_form_posts(client, link, rq_worker):
    _access_request, token = link
    picker = connect(client, token)
    html = picker.get_data(as_text=True)
    # Choose the second ad account instead of the suggested first one, like a person would.
    fields = form_fields(html, f"/r/{token}/p/pinterest/grant")
    answer = client.post(f"/r/{token}/p/pinterest/grant", data=fields)
    assert answer.status_code == 303
    assert answer.headers["Location"].endswith(f"/r/{token}/p/pinterest")
    page = client.get(answer.headers["Location"])
    assert page.status_code == 200
    assert "<html" in page.get_data(as_text=True)
    rq_worker()
    summary = client.get(f"/r/{token}/summary")
    assert summary.status_code == 200
    assert "Verified" in summary.get_data(as_text=True)


def test_it_answers_htmx_with_one_fragment_of_the_same_page(client, link, rq_worker):
    _access_request, token = link
    picker = connect(client, token)
    html = picker.get_data(as_text=True)
    answer = grant_preselected(client, token, html, **{"HX-Request": "true"})
    assert answer.status_code == 200
    fragment = answer.get_data(as_text=True)
    assert "<html" not in fragment
    assert 'id="step"' in fragment
    assert 'id="grant-status"' in fragment
    assert 'hx-trigger="load delay:3s"' in fragment  # polls while verification runs

    rq_worker()
    status = client.get(
        f"/r/{token}/p/pinterest", headers={"HX-Request": "true", "HX-Target": "grant-status"}
    ).get_data(as_text=True)
    assert status.lstrip().startswith('<div id="grant-status"')
    assert "Verified" in status
    assert "hx-get" not in status  # settled: the component stops polling


def test_the_summary_poll_updates_its_heading_when_the_request_completes(client, link, rq_worker):
    _access_request, token = link
    picker = connect(client, token)
    grant_preselected(client, token, picker.get_data(as_text=True))
    poll = {"HX-Request": "true", "HX-Target": "grant-status"}
    page = client.get(f"/r/{token}/summary").get_data(as_text=True)
    assert "Where things stand" in page
    assert "hx-swap-oob" not in page  # only a poll carries the heading along

    before = client.get(f"/r/{token}/summary", headers=poll).get_data(as_text=True)
    assert 'hx-swap-oob="innerHTML:#step-title">Where things stand<' in before
    rq_worker()
    after = client.get(f"/r/{token}/summary", headers=poll).get_data(as_text=True)
    assert 'hx-swap-oob="innerHTML:#step-title">All set: Acme Agency has access<' in after


def test_it_shows_how_to_fix_a_personal_account_and_checks_again(client, link):
    _access_request, token = link
    page = connect(client, token, persona="personal")
    html = page.get_data(as_text=True)
    assert "personal account" in html
    assert "Convert" in html or "convert" in html
    assert 'id="check-again-hint"' in html
    assert "Grant access" not in html  # a blocking problem stops the flow
    again = client.get(f"/r/{token}/p/pinterest", headers={"HX-Request": "true"})
    assert again.status_code == 200
    assert 'id="check-again-hint"' in again.get_data(as_text=True)


@pytest.mark.parametrize(
    ("persona", "words"),
    [
        ("not_admin", "admin"),
    ],
)
def test_it_explains_each_obstacle_with_its_fix(client, link, persona, words):
    _access_request, token = link
    html = connect(client, token, persona=persona).get_data(as_text=True)
    assert words in html.lower()
    assert "What to do" in html or 'id="check-again-hint"' in html or "notice" in html


def test_it_explains_two_factor_authentication_when_pinterest_refuses_the_grant(
    client, link, rq_worker
):
    """Pinterest's account has no two-factor field: its refusal to accept the
    invitation (items[].exception of PATCH /businesses/invites) says it."""
    _access_request, token = link
    picker = connect(client, token, persona="two_factor_off")
    grant_preselected(client, token, picker.get_data(as_text=True))
    rq_worker()
    db.session.expire_all()
    failed = [g for g in db.session.execute(select(Grant)).scalars() if g.status == "failed"]
    assert failed and all("Two-factor authentication is off" in g.error for g in failed)
    summary = client.get(f"/r/{token}/summary").get_data(as_text=True)
    assert "Settings → Security" in summary and "Retry" in summary


def test_it_reports_a_failure_mid_grant_with_its_fix_and_a_retry(client, link, rq_worker):
    _access_request, token = link
    picker = connect(client, token, persona="fails_mid_grant")
    html = picker.get_data(as_text=True)
    grant_preselected(client, token, html)
    rq_worker()
    db.session.expire_all()
    grants = db.session.execute(select(Grant).order_by(Grant.id)).scalars().all()
    failed = [g for g in grants if g.status == "failed"]
    assert failed, [(g.asset_type, g.status) for g in grants]
    assert all(g.error and g.fix for g in failed)
    summary = client.get(f"/r/{token}/summary").get_data(as_text=True)
    assert "Retry" in summary
    assert failed[0].fix.split(".")[0] in summary.replace("&#39;", "'")


def test_it_says_nothing_was_shared_when_the_client_denies(client, link):
    access_request, token = link
    page = client.get(f"/r/{token}")
    started = client.post(
        f"/r/{token}/p/pinterest/connect",
        data={"csrf_token": csrf_from(page.get_data(as_text=True))},
    )
    callback = consent(client, started.headers["Location"], decision="deny")
    back = client.get(path_of(callback))
    assert back.status_code == 303
    shown = client.get(back.headers["Location"]).get_data(as_text=True)
    assert "nothing was shared" in shown
    assert "Connect Pinterest" in shown
    assert "oauth.declined" in audit_actions(access_request.agency_id)


def test_it_keeps_each_client_page_to_three_queries(client, link):
    from helpers_requests import QueryCounter

    _access_request, token = link
    client.get(f"/r/{token}")  # the first opening is recorded once
    for path, headers in [
        (f"/r/{token}", {}),
        (f"/r/{token}/p/pinterest", {}),
        (f"/r/{token}/summary", {}),
        (f"/r/{token}/summary", {"HX-Request": "true", "HX-Target": "grant-status"}),
    ]:
        with QueryCounter() as counter:
            answer = client.get(path, headers=headers)
        assert answer.status_code == 200
        statements = [
            s for s in counter.statements if not s.lstrip().upper().startswith("SELECT PG_")
        ]
        assert len(statements) <= 3, (path, statements)


def test_it_holds_no_database_transaction_while_calling_the_platform(
    client, link, monkeypatch, needs_postgres
):
    _access_request, token = link
    connector = platforms.get("pinterest")
    held: list[int] = []
    for name in ("preflight", "list_assets", "grant"):
        real = getattr(connector, name)

        def spy(*args, _real=real, **kwargs):
            # Seen from another connection, at the moment of the platform call.
            with db.engine.connect() as conn:
                held.append(
                    conn.execute(
                        text(
                            "SELECT count(*) FROM pg_stat_activity "
                            "WHERE datname = current_database() "
                            "AND state = 'idle in transaction' AND pid <> pg_backend_pid()"
                        )
                    ).scalar()
                )
            return _real(*args, **kwargs)

        monkeypatch.setattr(connector, name, spy)
    picker = connect(client, token)
    grant_preselected(client, token, picker.get_data(as_text=True))
    assert len(held) >= 4
    assert set(held) == {0}


def test_it_guides_manual_steps_and_verifies_them_once_done(client, agency, owner, rq_worker):
    sandbox_connection(agency)
    items = [
        {"platform": "pinterest", "asset_type": "AD_ACCOUNT", "permissions": ["FINANCE_VIEW"]},
        {"platform": "pinterest", "asset_type": "TAG", "permissions": ["VERIFY_TAG"]},
    ]
    access_request, token = make_request(agency, owner, items=items)
    picker = connect(client, token)
    assert "Step 2 of 4" in picker.get_data(as_text=True)
    grant_preselected(client, token, picker.get_data(as_text=True))
    rq_worker()

    steps = client.get(f"/r/{token}/steps")
    html = steps.get_data(as_text=True)
    assert "Step 3 of 4" in html
    assert "Install the Pinterest Tag on your website" in html
    assert "Keep billing in your name" in html  # billing stays the client's
    assert "I&#39;ve done this" in html or "I've done this" in html
    [tag] = [g for g in access_request.grants if g.asset_type == "TAG"]
    db.session.refresh(tag)
    assert (tag.status, tag.manual) == ("needs_action", True)
    db.session.refresh(access_request)
    assert access_request.status == "in_progress"  # waits for the client

    done_url = f"/r/{token}/grants/{tag.id}/done"
    fields = form_fields(html, done_url)
    answer = client.post(done_url, data=fields, headers={"HX-Request": "true"})
    assert answer.status_code == 200
    assert '<section id="step"' in answer.get_data(as_text=True)
    db.session.refresh(tag)
    assert tag.status == "verifying"
    rq_worker()
    db.session.expire_all()
    assert db.session.get(Grant, tag.id).status == "verified"
    assert db.session.get(AccessRequest, access_request.id).status == "completed"
    assert "grant.manual_done" in audit_actions(agency.id)
