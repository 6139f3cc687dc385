"""E-mail: HTML + text bodies from templates, sent through SMTP_URL, or
written as .eml files to the instance folder's outbox/ when it is unset."""

from __future__ import annotations

import smtplib
import ssl
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from pathlib import Path
from urllib.parse import unquote, urlsplit

from flask import current_app, render_template
from flask_babel import force_locale

from .inputs import one_line


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    mimetype: str = "application/pdf"


def build(
    to: str,
    subject: str,
    template: str,
    *,
    locale: str = "en",
    reply_to: str | None = None,
    sender_name: str | None = None,
    attachments: tuple[Attachment, ...] = (),
    **context,
) -> EmailMessage:
    """Render `emails/<template>.txt` and `.html` in `locale` into a message."""
    with force_locale(locale):
        text_body = render_template(f"emails/{template}.txt", **context)
        html_body = render_template(f"emails/{template}.html", **context)
        subject = str(subject)
    msg = EmailMessage()
    from_header = current_app.config["MAIL_FROM"]
    # Header values on one line, whatever was saved: a line break in a name
    # would make the message unsendable (or add a header).
    sender_name = one_line(sender_name)
    if sender_name:
        # Show the agency's name while sending from Latchkey's address.
        address = from_header.split("<")[-1].rstrip(">").strip()
        from_header = formataddr((f"{sender_name} via Latchkey", address))
    msg["From"] = from_header
    msg["To"] = one_line(to)
    msg["Subject"] = one_line(subject)
    msg["Message-ID"] = make_msgid(domain="latchkey.localhost")
    if one_line(reply_to):
        msg["Reply-To"] = one_line(reply_to)
    msg.set_content(text_body)
    msg.add_alternative(html_body, subtype="html")
    for attachment in attachments:
        maintype, subtype = attachment.mimetype.split("/", 1)
        msg.add_attachment(
            attachment.content, maintype=maintype, subtype=subtype, filename=attachment.filename
        )
    # After the body: set_content() drops Content-* headers set before it.
    msg["Content-Language"] = locale
    return msg


def deliver(msg: EmailMessage) -> None:
    """Send through SMTP_URL, or write to the outbox folder."""
    url = current_app.config.get("SMTP_URL")
    if not url:
        outbox = Path(current_app.instance_path) / "outbox"
        outbox.mkdir(parents=True, exist_ok=True)
        path = outbox / f"{uuid.uuid4().hex}.eml"
        path.write_bytes(bytes(msg))
        current_app.logger.info("e-mail to the outbox: %s", path.name)
        return
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    if parts.scheme == "smtps":
        server: smtplib.SMTP = smtplib.SMTP_SSL(
            host, parts.port or 465, timeout=20, context=ssl.create_default_context()
        )
    else:
        server = smtplib.SMTP(host, parts.port or 25, timeout=20)
    with server:
        if parts.scheme == "smtp" and server.has_extn("starttls"):
            server.starttls(context=ssl.create_default_context())
        if parts.username:
            server.login(unquote(parts.username), unquote(parts.password or ""))
        server.send_message(msg)


def send(to: str, subject: str, template: str, **kwargs) -> EmailMessage:
    msg = build(to, subject, template, **kwargs)
    deliver(msg)
    return msg
