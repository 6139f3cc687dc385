"""E-mails about requests and grants: right recipient, language, link and attachment."""

from __future__ import annotations

import socket
from contextlib import closing
from datetime import timedelta

import helpers_requests
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message
from flask import current_app
from flask_babel import force_locale, format_date
from helpers_requests import audit_actions, fake_connection, make_request

from portal import events, notifications
from portal.extensions import db
from portal.models import Grant, NotificationLog, User
from portal.models.base import utcnow
from portal.reports import report_filename
from portal.services import requests as service
from worker import jobs


@pytest.fixture(autouse=True)
def _outbox_mail(app):
    previous = app.config.get("SMTP_URL")
    app.config["SMTP_URL"] = None
    yield
    app.config["SMTP_URL"] = previous


@pytest.fixture
def branded(agency):
    agency.display_name = "Acme Digital"
    agency.primary_color = "#0a7d4f"
    agency.support_email = "help@acme.test"
    db.session.commit()
    fake_connection(agency)
    return agency


def text_of(message) -> str:
    return message.get_body(("plain",)).get_content()


def html_of(message) -> str:
    return message.get_body(("html",)).get_content()


def add_grant(access_request, index: int, status: str = "verified", **fields) -> Grant:
    """The shared helper's grant, named after the client and verified when it says so."""
    item = access_request.items[index]
    values = {
        "asset_id": f"54975{index}",
        "asset_name": f"Blue Harbor {item['asset_type'].title()}",
        "verified_at": utcnow() if status == "verified" else None,
    }
    return helpers_requests.add_grant(access_request, index, status, **{**values, **fields})


def complete(access_request) -> None:
    for index in range(len(access_request.items)):
        add_grant(access_request, index)
    assert service.settle_request(access_request)


@pytest.mark.parametrize(
    ("locale", "words"),
    [("en", "asks for access to your accounts"), ("fr", None)],
)
def test_it_emails_the_link_to_the_client_in_their_language(branded, owner, outbox, locale, words):
    access_request, token = make_request(branded, owner, locale=locale, message="See you soon!")
    assert jobs.send_request_email(access_request.id) == "sent"
    [message] = outbox()
    link = service.request_url(access_request, token)
    assert message["To"] == "marketing@blueharbor.test"
    assert "Acme Digital via Latchkey" in message["From"]
    assert message["Reply-To"] == "help@acme.test"
    assert message["Content-Language"] == locale
    assert f'<html lang="{locale}">' in html_of(message)
    assert link in text_of(message) and f'href="{link}"' in html_of(message)
    assert "#0a7d4f" in html_of(message)
    assert "See you soon!" in text_of(message)
    with force_locale(locale):
        expires = format_date(access_request.expires_at, "long")
    assert expires in text_of(message)  # e.g. "14 mars 2025" in French
    if words:
        assert words in message["Subject"]
    assert "Ad account" in text_of(message) or "Compte publicitaire" in text_of(message)
    assert "access_request.email_sent" in audit_actions(branded.id)


def test_it_sends_the_link_only_when_the_creator_asked_for_it(branded, owner, outbox, rq_worker):
    access_request, _token = make_request(branded, owner)
    rq_worker()
    assert outbox() == []  # created: nothing sent by itself
    notifications.on_event(
        events.DomainEvent(
            "access_request.created", branded.id, access_request.id, data={"send_email": True}
        )
    )
    rq_worker()
    [message] = outbox()
    assert message["To"] == "marketing@blueharbor.test"


def test_it_sends_again_when_the_agency_asks_to_resend(branded, owner, outbox, rq_worker):
    access_request, _token = make_request(branded, owner)
    notifications.send_request_email(access_request.id)
    notifications.send_request_email(access_request.id)
    rq_worker()
    assert len(outbox()) == 1
    notifications.send_request_email(access_request.id, resend=True)
    rq_worker()
    assert len(outbox()) == 2


def test_it_sends_the_confirmation_with_the_pdf_to_the_client_and_the_agency(
    branded, owner, admin, member, viewer, outbox
):
    admin.locale = "fr"
    db.session.commit()
    access_request, _token = make_request(branded, member, locale="fr")
    complete(access_request)
    assert jobs.send_completion_emails(access_request.id) == 4
    messages = {m["To"]: m for m in outbox()}
    assert set(messages) == {
        "marketing@blueharbor.test",  # the client
        "owner@acme.test",
        "admin@acme.test",
        "member@acme.test",  # created the request
    }  # and not the viewer
    assert messages["marketing@blueharbor.test"]["Content-Language"] == "fr"
    assert messages["admin@acme.test"]["Content-Language"] == "fr"
    assert messages["owner@acme.test"]["Content-Language"] == "en"
    for message in messages.values():
        [attachment] = list(message.iter_attachments())
        assert attachment.get_filename() == report_filename(access_request)
        assert attachment.get_content_type() == "application/pdf"
        assert attachment.get_content().startswith(b"%PDF")
        assert "Acme Digital via Latchkey" in message["From"]
    agency_text = text_of(messages["owner@acme.test"])
    assert f"/app/requests/{access_request.id}" in agency_text
    assert "Blue Harbor Ad_Account" in agency_text
    assert "gave every access you asked for" in messages["owner@acme.test"]["Subject"]
    assert audit_actions(branded.id).count("report.sent") == 4


def test_it_tells_the_agency_about_a_failed_grant_and_a_manual_step(branded, owner, member, outbox):
    access_request, _token = make_request(branded, member)
    add_grant(
        access_request,
        0,
        "failed",
        error="Pinterest refused the partner request.",
        fix="Accept the invitation in Business settings.",
    )
    add_grant(access_request, 1, "needs_action", manual=True)
    assert jobs.send_grant_alerts(access_request.id) == 2
    messages = {m["To"]: m for m in outbox()}
    assert set(messages) == {"owner@acme.test", "member@acme.test"}
    body = text_of(messages["owner@acme.test"])
    assert "Pinterest refused the partner request." in body
    assert "Accept the invitation in Business settings." in body
    assert "manual" in body or "by hand" in body
    assert f"/app/requests/{access_request.id}" in body
    assert "failed" in messages["owner@acme.test"]["Subject"]


def test_it_asks_the_agency_to_confirm_a_guided_step_the_client_finished(branded, owner, outbox):
    access_request, _token = make_request(branded, owner)
    add_grant(
        access_request,
        0,
        "needs_action",
        manual=True,
        external={"guided": True, "waiting_on": "agency", "sent_back": {"code": "1234"}},
    )
    assert jobs.send_grant_alerts(access_request.id) == 1
    [message] = outbox()
    body = text_of(message)
    assert message["Subject"] == "Blue Harbor did the steps: confirm the access"
    assert "sent what you asked for. Check it on the platform, then confirm it" in body
    assert "by hand" not in body  # it is no longer the client's turn


def test_it_warns_the_agency_three_days_before_the_link_expires(branded, owner, outbox):
    soon, _ = make_request(branded, owner)
    later, _ = make_request(branded, owner, client_email="later@client.test")
    soon.created_at = soon.sent_at = utcnow() - timedelta(days=11, hours=4)
    soon.expires_at = utcnow() + timedelta(days=2, hours=20)
    make_request(branded, owner, client_email="short@client.test", expires_in_days=2)
    db.session.commit()
    assert jobs.send_expiry_warnings() == 1  # not for a link made to last 2 days
    [message] = outbox()
    assert message["To"] == "owner@acme.test"
    assert "Blue Harbor" in message["Subject"]
    assert f"/app/requests/{soon.id}" in text_of(message)
    assert later.id != soon.id


def test_it_lists_every_active_grant_in_the_quarterly_review(branded, owner, outbox):
    access_request, _token = make_request(branded, owner, locale="fr")
    active = add_grant(access_request, 0, "verified")
    add_grant(access_request, 1, "failed", error="No", fix="Retry")
    quarter = jobs.quarter_of(utcnow())
    assert jobs.send_access_review(branded.id, quarter) == 2
    messages = {m["To"]: m for m in outbox()}
    assert set(messages) == {"owner@acme.test", "marketing@blueharbor.test"}
    client_mail = messages["marketing@blueharbor.test"]
    assert client_mail["Content-Language"] == "fr"
    for message in messages.values():
        body = text_of(message)
        assert active.asset_name in body and active.asset_id in body
        assert "Blue Harbor Profile" not in body  # the failed one is not active
    owner_body = text_of(messages["owner@acme.test"])
    assert "Business settings → Partners" in owner_body
    assert "Remove partner" in owner_body
    assert quarter in owner_body
    # The agency can remove it from Latchkey itself; the client gets no agency link.
    base = current_app.config["LATCHKEY_BASE_URL"]
    assert f"{base}/app/clients/{access_request.client_id}" in owner_body
    assert "/app/" not in text_of(client_mail)


def test_it_tells_the_agency_when_a_grant_was_removed(branded, owner, outbox):
    access_request, _token = make_request(branded, owner)
    grant = add_grant(access_request, 0)
    jobs.mark_removed(grant, "The agency does not see this asset on Pinterest.")
    assert jobs.send_grant_removed_email(grant.id) == 1
    [message] = outbox()
    assert message["To"] == "owner@acme.test"
    assert "Access lost" in message["Subject"]
    assert grant.asset_id in text_of(message)


class _Collect(Message):
    def __init__(self):
        super().__init__()
        self.messages = []

    def handle_message(self, message):
        self.messages.append(message)


@pytest.fixture
def smtp_server(app):
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    handler = _Collect()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    app.config["SMTP_URL"] = f"smtp://127.0.0.1:{port}"
    yield handler
    app.config["SMTP_URL"] = None
    controller.stop()


def test_it_sends_the_confirmation_through_a_real_smtp_server(branded, owner, smtp_server, outbox):
    access_request, _token = make_request(branded, owner, locale="fr")
    complete(access_request)
    assert jobs.send_completion_emails(access_request.id) == 2
    assert outbox() == []
    by_to = {m["To"]: m for m in smtp_server.messages}
    assert set(by_to) == {"marketing@blueharbor.test", "owner@acme.test"}
    client_mail = by_to["marketing@blueharbor.test"]
    assert client_mail["Content-Language"] == "fr"
    assert client_mail["Reply-To"] == "help@acme.test"
    assert "Acme Digital via Latchkey" in client_mail["From"]
    assert report_filename(access_request) in client_mail.as_string()
    assert db.session.query(NotificationLog).count() == 2


def test_it_uses_the_agency_default_language_for_people_without_one(branded, owner, outbox):
    branded.default_locale = "fr"
    db.session.get(User, owner.id).locale = None
    db.session.commit()
    access_request, _token = make_request(branded, owner)
    grant = add_grant(access_request, 0, "failed", error="x", fix="y")
    assert grant.status == "failed"
    jobs.send_grant_alerts(access_request.id)
    [message] = outbox()
    assert message["Content-Language"] == "fr"
