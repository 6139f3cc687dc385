"""Branding: logo checks by content, SVG sanitising, contrast, custom domains,
and the client's intake questions."""

from __future__ import annotations

import io

import pytest
from helpers_requests import csrf_from, fake_connection, make_request
from PIL import Image

from portal.extensions import db
from portal.models import Agency
from portal.services.branding import sanitise_svg


@pytest.fixture
def ready(agency):
    fake_connection(agency)
    return agency


def _png(size=(8, 8)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, "#4338ca").save(out, "PNG")
    return out.getvalue()


def _form(csrf, **overrides):
    data = {
        "csrf_token": csrf,
        "display_name": "Blue Agency",
        "primary_color": "#1d4ed8",
        "support_email": "help@blue.test",
        "custom_domain": "",
        "default_locale": "fr",
    }
    data.update(overrides)
    return data


def _post(client, **overrides):
    csrf = csrf_from(client.get("/app/branding").get_data(as_text=True))
    return client.post(
        "/app/branding", data=_form(csrf, **overrides), content_type="multipart/form-data"
    )


def _agency(agency_id) -> Agency:
    db.session.expire_all()
    return db.session.get(Agency, agency_id)


def test_it_saves_branding_and_a_png_logo(auth, ready, admin):
    client = auth.login(admin)
    answer = _post(client, logo=(io.BytesIO(_png()), "logo.png"))
    assert answer.status_code == 303
    agency = _agency(ready.id)
    assert agency.display_name == "Blue Agency" and agency.default_locale == "fr"
    assert agency.logo_mimetype == "image/png" and agency.primary_color == "#1d4ed8"
    logo = client.get("/app/branding/logo")
    assert logo.mimetype == "image/png" and "sandbox" in logo.headers["Content-Security-Policy"]
    assert "agency.branding_changed" in [
        e.action
        for e in db.session.execute(db.select(__import__("portal").models.AuditEvent)).scalars()
    ]


MALICIOUS_SVG = b"""<?xml version="1.0"?>
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"
     width="10" height="10" onload="alert(1)">
  <script>alert(2)</script>
  <foreignObject><body xmlns="http://www.w3.org/1999/xhtml"><script>alert(3)</script></body></foreignObject>
  <a href="javascript:alert(4)"><rect width="5" height="5" onclick="alert(5)"/></a>
  <image href="https://evil.test/track.png" width="1" height="1"/>
  <use xlink:href="https://evil.test/sprite.svg#x"/>
  <rect style="fill:url(https://evil.test/x)" width="3" height="3" fill="url(https://evil.test/y)"/>
  <circle cx="5" cy="5" r="4" fill="#4338ca"/>
</svg>"""


def test_it_strips_everything_active_from_an_svg(auth, ready, admin):
    client = auth.login(admin)
    assert _post(client, logo=(io.BytesIO(MALICIOUS_SVG), "logo.svg")).status_code == 303
    stored = _agency(ready.id).logo.decode()
    lowered = stored.lower()
    for bad in (
        "script",
        "onload",
        "onclick",
        "javascript",
        "foreignobject",
        "evil.test",
        "style=",
    ):
        assert bad not in lowered, bad
    assert "<circle" in stored or ":circle" in stored
    assert _agency(ready.id).logo_mimetype == "image/svg+xml"


def test_it_refuses_an_svg_with_entities():
    bomb = b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaa">]><svg xmlns="http://www.w3.org/2000/svg">&a;</svg>'
    with pytest.raises(ValueError):
        sanitise_svg(bomb)


@pytest.mark.parametrize(
    "content",
    [
        b"\x7fELF\x02\x01\x01" + b"\x00" * 200,  # a Linux executable named .png
        b"MZ\x90\x00\x03" + b"\x00" * 200,  # a Windows executable named .png
        b"\x89PNG\r\n\x1a\n" + b"not really a png" * 10,  # PNG magic, broken body
    ],
)
def test_it_refuses_a_file_that_is_not_an_image(auth, ready, admin, content):
    client = auth.login(admin)
    answer = _post(client, logo=(io.BytesIO(content), "logo.png"))
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert 'id="logo-error"' in html
    assert _agency(ready.id).logo is None


def test_it_refuses_a_logo_over_1_mb(auth, ready, admin):
    client = auth.login(admin)
    big = _png() + b"\x00" * (1024 * 1024)
    answer = _post(client, logo=(io.BytesIO(big), "logo.png"))
    assert answer.status_code == 422
    assert "larger than 1 MB" in answer.get_data(as_text=True)


def test_it_refuses_a_colour_white_text_cannot_be_read_on(auth, ready, admin):
    client = auth.login(admin)
    answer = _post(client, primary_color="#ffeb3b")
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert "hard to read" in html and 'aria-invalid="true"' in html
    assert _agency(ready.id).primary_color != "#ffeb3b"


def test_it_previews_live(auth, ready, admin):
    client = auth.login(admin)
    csrf = csrf_from(client.get("/app/branding").get_data(as_text=True))
    html = client.post(
        "/app/branding/preview",
        data={"csrf_token": csrf, "primary_color": "#0f7b3f", "display_name": "Green Co"},
        headers={"HX-Request": "true"},
    ).get_data(as_text=True)
    assert "Green Co" in html and "#0f7b3f" in html and "Readable" in html


def test_it_refuses_a_domain_another_agency_uses(auth, ready, admin, outsider):
    other = db.session.execute(db.select(Agency).where(Agency.id != ready.id)).scalar_one()
    other.custom_domain = "access.other.test"
    db.session.commit()
    client = auth.login(admin)
    answer = _post(client, custom_domain="https://Access.Other.test/")
    assert answer.status_code == 422
    assert "Another agency already uses this domain." in answer.get_data(as_text=True)
    assert _post(client, custom_domain="access.acme.test").status_code == 303
    assert _agency(ready.id).custom_domain == "access.acme.test"


def test_links_on_a_custom_domain_are_only_that_agencys(client, ready, owner, outsider):
    """Agency B's link on agency A's domain is a 404; A's own link works there."""
    acme = _agency(ready.id)
    acme.custom_domain = "access.acme.test"
    other = db.session.execute(db.select(Agency).where(Agency.id != ready.id)).scalar_one()
    fake_connection(other)
    db.session.commit()
    _ar, acme_token = make_request(acme, owner)
    _br, other_token = make_request(other, None, client_email="b@b.test")
    on_acme = {"base_url": "http://access.acme.test"}
    assert client.get(f"/r/{acme_token}", **on_acme).status_code == 200
    assert client.get(f"/r/{other_token}", **on_acme).status_code == 404
    assert client.get(f"/r/{other_token}/summary", **on_acme).status_code == 404
    # Both still work on Latchkey's own address.
    assert client.get(f"/r/{other_token}").status_code == 200


# ------------------------------------------------------ intake questions


QUESTIONS = [
    {"id": "q1", "label": "Your website?", "kind": "short_text", "required": True, "choices": []},
    {
        "id": "q2",
        "label": "Budget?",
        "kind": "choice",
        "required": True,
        "choices": ["Low", "High"],
    },
    {"id": "q3", "label": "Tag installed?", "kind": "yes_no", "required": False, "choices": []},
]


def _request_with_questions(agency, owner):
    ar, token = make_request(agency, owner)
    ar.questions = QUESTIONS
    db.session.commit()
    return ar, token


def test_the_client_answers_questions_before_connecting(client, ready, owner, auth):
    ar, token = _request_with_questions(ready, owner)
    welcome = client.get(f"/r/{token}").get_data(as_text=True)
    assert f"/r/{token}/questions" in welcome and "Step 1 of" in welcome
    page = client.get(f"/r/{token}/questions").get_data(as_text=True)
    csrf = csrf_from(page)
    bad = client.post(
        f"/r/{token}/questions",
        data={"csrf_token": csrf, "answer-q1": "", "answer-q2": "Huge", "answer-q3": "maybe"},
    )
    assert bad.status_code == 422
    html = bad.get_data(as_text=True)
    assert "Please answer this question." in html and "Choose one of the options." in html
    good = client.post(
        f"/r/{token}/questions",
        data={
            "csrf_token": csrf,
            "answer-q1": "https://bh.test",
            "answer-q2": "High",
            "answer-q3": "yes",
        },
    )
    assert good.status_code == 303 and good.headers["Location"].endswith("/p/pinterest")
    db.session.refresh(ar)
    assert ar.answers == {"q1": "https://bh.test", "q2": "High", "q3": "yes"}
    assert "Connect Pinterest" in client.get(f"/r/{token}").get_data(as_text=True)
    detail = auth.login(owner).get(f"/app/requests/{ar.id}").get_data(as_text=True)
    assert "https://bh.test" in detail and "High" in detail and "Yes" in detail


def test_a_request_without_questions_keeps_its_flow(client, ready, owner):
    _ar, token = make_request(ready, owner)
    html = client.get(f"/r/{token}").get_data(as_text=True)
    assert "Connect Pinterest" in html and f"/r/{token}/questions" not in html
    assert client.get(f"/r/{token}/questions").status_code == 303
