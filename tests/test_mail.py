"""E-mails: HTML + text from templates, through SMTP or into the outbox."""

from __future__ import annotations

import socket
from contextlib import closing

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message

from portal import mail


class _Collect(Message):
    def __init__(self):
        super().__init__()
        self.messages = []

    def handle_message(self, message):
        self.messages.append(message)


@pytest.fixture
def smtp_server():
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    handler = _Collect()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield port, handler
    controller.stop()


def _send(**kwargs):
    return mail.send(
        "client@example.com",
        "Access request",
        "notice",
        heading="Hello",
        paragraphs=["Please grant access."],
        action_url="http://127.0.0.1:5000/r/abc",
        action_label="Open",
        brand_name="Acme",
        **kwargs,
    )


def test_it_writes_to_the_outbox_without_smtp(app, outbox):
    app.config["SMTP_URL"] = None
    _send(attachments=(mail.Attachment("confirmation.pdf", b"%PDF-1.7 test"),))
    [message] = outbox()
    assert message["To"] == "client@example.com"
    assert message["From"].startswith("Latchkey")
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Please grant access." in text and "http://127.0.0.1:5000/r/abc" in text
    assert "Please grant access." in html and 'href="http://127.0.0.1:5000/r/abc"' in html
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == "confirmation.pdf"
    assert attachment.get_content() == b"%PDF-1.7 test"


def test_it_sends_through_a_real_smtp_server(app, smtp_server, outbox):
    port, handler = smtp_server
    app.config["SMTP_URL"] = f"smtp://127.0.0.1:{port}"
    try:
        _send(sender_name="Acme Agency", reply_to="help@acme.test")
    finally:
        app.config["SMTP_URL"] = None
    assert outbox() == []
    [message] = handler.messages
    assert message["To"] == "client@example.com"
    assert "Acme Agency via Latchkey" in message["From"]
    assert message["Reply-To"] == "help@acme.test"


def test_it_renders_in_the_requested_language(app, outbox):
    app.config["SMTP_URL"] = None
    _send(locale="fr")
    [message] = outbox()
    assert message["Content-Language"] == "fr"
    assert '<html lang="fr">' in message.get_body(("html",)).get_content()
