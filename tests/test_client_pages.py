"""The client's link: answers, headers, branding, language and limits."""

from __future__ import annotations

import re

import pytest
from helpers_requests import audit_actions, expire_now, fake_connection, make_request

from portal.extensions import db
from portal.services import requests as service


@pytest.fixture
def link(agency, owner):
    agency.support_email = "help@acme.test"
    agency.primary_color = "#0f766e"
    db.session.commit()
    fake_connection(agency)
    return make_request(agency, owner, message="We will run your Pinterest ads.")


def test_it_shows_who_asks_for_what_and_why(client, link):
    _access_request, token = link
    answer = client.get(f"/r/{token}")
    assert answer.status_code == 200
    html = answer.get_data(as_text=True)
    assert "Acme Agency asks for access to your accounts" in html
    assert "We will run your Pinterest ads." in html
    assert "Campaign manager" in html
    assert "Create, edit and optimise campaigns" in html  # the permission's explanation
    assert "You never share a password" in html
    assert "Billing stays yours" in html
    assert "Step 1 of 3" in html
    assert "Connect Pinterest" in html
    assert "help@acme.test" in html
    assert "Sign out" not in html  # the client's own layout, not the agency area's


def test_it_answers_404_for_an_unknown_token(client, link):
    assert client.get("/r/" + "A" * 43).status_code == 404
    assert client.get("/r/short").status_code == 404
    assert client.get("/r/" + "A" * 43 + "/summary").status_code == 404


def test_it_answers_410_with_how_to_reach_the_agency_once_revoked(client, link):
    access_request, token = link
    service.revoke_request(access_request)
    for path in (f"/r/{token}", f"/r/{token}/p/pinterest", f"/r/{token}/summary"):
        answer = client.get(path)
        assert answer.status_code == 410, path
        html = answer.get_data(as_text=True)
        assert "withdrew this access request" in html
        assert "help@acme.test" in html
        assert answer.headers["Referrer-Policy"] == "no-referrer"


def test_it_answers_410_once_expired(client, link):
    access_request, token = link
    expire_now(access_request)
    answer = client.get(f"/r/{token}")
    assert answer.status_code == 410
    assert "expired" in answer.get_data(as_text=True)
    assert "access_request.expired" in audit_actions(access_request.agency_id)


def test_it_sends_no_referrer_from_any_client_page(client, link):
    _access_request, token = link
    for path in (f"/r/{token}", f"/r/{token}/p/pinterest", f"/r/{token}/summary", "/r/x" * 3):
        answer = client.get(path)
        assert answer.headers["Referrer-Policy"] == "no-referrer", path
        assert answer.headers["Cache-Control"] == "no-store"


def test_it_rate_limits_the_link_per_address(client, link):
    _access_request, token = link
    codes = [client.get(f"/r/{'B' * 43}").status_code for _ in range(60)]
    # Unknown links are counted as guesses (tests/test_route_protection.py has the details).
    assert codes[0] == 404 and codes[-1] == 429
    assert client.get(f"/r/{token}").status_code == 429


def test_it_marks_the_request_opened_once(client, link):
    access_request, token = link
    client.get(f"/r/{token}")
    client.get(f"/r/{token}")
    db.session.refresh(access_request)
    assert access_request.status == "opened"
    assert access_request.opened_at is not None
    assert audit_actions(access_request.agency_id).count("access_request.opened") == 1


def test_it_wears_the_agency_colours_under_the_csp(client, link):
    _access_request, token = link
    answer = client.get(f"/r/{token}")
    html = answer.get_data(as_text=True)
    nonce = re.search(r"'nonce-([^']+)'", answer.headers["Content-Security-Policy"]).group(1)
    assert f'<style nonce="{nonce}">' in html
    assert "--brand: #0f766e" in html
    assert " style=" not in html  # no inline style attribute anywhere
    assert "<script>" not in html


def test_it_keeps_link_colours_readable_on_a_pale_brand(client, link, agency):
    _access_request, token = link
    agency.primary_color = "#fde047"
    db.session.commit()
    html = client.get(f"/r/{token}").get_data(as_text=True)
    assert "--brand-ink: #1f2330" in html
    assert "--brand-link: #1f2330" in html


def test_it_serves_the_agency_logo(client, link, agency):
    _access_request, token = link
    assert client.get(f"/r/{token}/logo").status_code == 404
    agency.logo = b"\x89PNG\r\n\x1a\n" + b"0" * 20
    agency.logo_mimetype = "image/png"
    db.session.commit()
    assert f'src="/r/{token}/logo"' in client.get(f"/r/{token}").get_data(as_text=True)
    logo = client.get(f"/r/{token}/logo")
    assert logo.status_code == 200
    assert logo.mimetype == "image/png"
    assert logo.data.startswith(b"\x89PNG")


def test_it_speaks_the_language_the_agency_chose_then_the_switcher(client, agency, owner):
    fake_connection(agency)
    _access_request, token = make_request(agency, owner, locale="fr")
    html = client.get(f"/r/{token}", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert '<html lang="fr">' in html
    html_csrf = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    client.post("/language", data={"locale": "en", "next": f"/r/{token}", "csrf_token": html_csrf})
    assert '<html lang="en">' in client.get(f"/r/{token}").get_data(as_text=True)


def test_it_shows_each_step_as_a_full_page_or_one_fragment(client, link):
    _access_request, token = link
    for path in (f"/r/{token}", f"/r/{token}/p/pinterest", f"/r/{token}/summary"):
        full = client.get(path).get_data(as_text=True)
        assert full.lstrip().startswith("<!doctype html>"), path
        fragment = client.get(path, headers={"HX-Request": "true"}).get_data(as_text=True)
        assert "<html" not in fragment, path
        assert '<section id="step"' in fragment, path
        assert "<title>" in fragment  # htmx updates the page title from it
        # A back button or reload (history restore) gets the full page again.
        restore = client.get(
            path, headers={"HX-Request": "true", "HX-History-Restore-Request": "true"}
        )
        assert "<html" in restore.get_data(as_text=True)


def test_it_answers_404_for_a_platform_the_request_does_not_ask_for(client, link):
    _access_request, token = link
    assert client.get(f"/r/{token}/p/meta").status_code == 404
    assert client.get(f"/r/{token}/p/unknown").status_code == 404


def test_it_says_the_agency_must_reconnect_when_its_connection_broke(client, link, agency):
    _access_request, token = link
    from portal.models import AgencyConnection

    db.session.execute(db.update(AgencyConnection).values(status="expired"))
    db.session.commit()
    html = client.get(f"/r/{token}/p/pinterest").get_data(as_text=True)
    assert "must reconnect its own Pinterest account" in html
    assert "Connect Pinterest" not in html


def test_it_finishes_on_the_agency_page_or_a_thank_you(client, agency, owner):
    fake_connection(agency)
    _ar, token = make_request(agency, owner, redirect_url="https://acme.test/welcome")
    answer = client.get(f"/r/{token}/finish")
    assert answer.status_code == 303
    assert answer.headers["Location"] == "https://acme.test/welcome"
    assert answer.headers["Referrer-Policy"] == "no-referrer"
    _ar, plain = make_request(agency, owner, client_email="x@client.test")
    assert "Thank you" in client.get(f"/r/{plain}/finish").get_data(as_text=True)


def test_it_refuses_a_grant_without_a_platform_sign_in(client, link):
    _access_request, token = link
    html = client.get(f"/r/{token}/p/pinterest").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    answer = client.post(
        f"/r/{token}/p/pinterest/grant", data={"csrf_token": csrf, "item-0": "123"}
    )
    assert answer.status_code == 303
    page = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "sign-in has expired" in page
    assert "Connect Pinterest" in page


def test_it_refuses_a_post_without_the_csrf_token(client, link):
    _access_request, token = link
    client.get(f"/r/{token}")
    assert client.post(f"/r/{token}/p/pinterest/connect").status_code == 400
