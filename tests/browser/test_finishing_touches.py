"""Small features of issue 14, in Chromium, as a person sees them:

- the team invitation offers Member first, not Owner;
- the branding's main colour has a colour picker kept in sync with its hex field;
- a mistyped (partly copied) client link says so and what to do, naming no agency
  (except on an agency's own custom domain, where that agency is known);
- an error under a known client link keeps the agency's branding and contact.
"""

from __future__ import annotations

import pytest
from conftest import PASSWORD
from playwright.sync_api import Page, expect

from portal.extensions import db

from . import test_accessibility as a11y
from .helpers import AgencyBrowser, connected_agency, link_for, watch_console
from .test_accessibility import axe_violations, describe

pytestmark = pytest.mark.usefixtures("needs_redis")

# The CSP-bypassing profile in which axe is injected (tests/browser/test_accessibility.py).
axe_context = a11y.axe_context


def _signed_in(context_factory, owner) -> tuple[Page, object]:
    context = context_factory()
    console = watch_console(context)
    agency_side = AgencyBrowser(context.new_page())
    agency_side.sign_in(owner.email, PASSWORD)
    return agency_side.page, console


def _no_violations(page: Page, name: str) -> None:
    violations = axe_violations(page, name)
    assert not violations, describe({name: violations})


def _branded(agency, colour: str = "#0f766e", email: str = "help@acme.test") -> None:
    agency.display_name = "Acme Studio"
    agency.primary_color = colour
    agency.support_email = email
    db.session.commit()


# ------------------------------------------------------------------ team


def test_the_team_invitation_offers_member_by_default(context_factory):
    _agency, owner = connected_agency()
    page, console = _signed_in(context_factory, owner)

    page.goto("/app/team")
    invite = page.get_by_role("region", name="Invite someone")
    role = invite.get_by_label("Role", exact=True)
    expect(role).to_have_value("member")
    expect(role.locator("option:checked")).to_have_text("Member")
    assert console.errors == []


# -------------------------------------------------------------- branding


def test_the_main_colour_has_a_colour_picker_in_sync_with_the_hex_field(
    context_factory, axe_context
):
    agency, owner = connected_agency()
    page, console = _signed_in(context_factory, owner)

    page.goto("/app/branding")
    hex_field = page.get_by_label("Main colour", exact=True)
    picker = page.get_by_label("Pick the main colour")
    expect(picker).to_have_attribute("type", "color")
    expect(picker).to_have_value(hex_field.input_value())

    # The picker writes the hex field (and the preview follows it).
    picker.fill("#0f766e")
    expect(hex_field).to_have_value("#0f766e")
    expect(page.locator("#brand-preview rect").first).to_have_attribute("fill", "#0f766e")

    # Typing a hex colour moves the picker; a half-typed one leaves it alone.
    hex_field.fill("#1e3a8a")
    expect(picker).to_have_value("#1e3a8a")
    hex_field.fill("#12")
    expect(picker).to_have_value("#1e3a8a")

    # Keyboard: the picker is reached with Tab right after the hex field.
    hex_field.focus()
    page.keyboard.press("Tab")
    expect(picker).to_be_focused()

    # Saved with the picker's colour.
    picker.fill("#0f766e")
    page.get_by_role("button", name="Save branding").click()
    expect(page.get_by_label("Main colour", exact=True)).to_have_value("#0f766e")
    db.session.refresh(agency)
    assert agency.primary_color == "#0f766e"
    assert console.errors == []  # no CSP refusal: the sync is in app.js

    axe_page = axe_context().new_page()
    AgencyBrowser(axe_page).sign_in(owner.email, PASSWORD)
    axe_page.goto("/app/branding")
    _no_violations(axe_page, "branding with colour picker")


# ------------------------------------------------------- mistyped link


def test_a_mistyped_client_link_says_it_may_be_incomplete_and_names_no_agency(
    context_factory, axe_context
):
    agency, owner = connected_agency()
    _branded(agency)
    link = link_for(agency, owner)
    partial = link[: len(link) - 6]

    context = context_factory()
    console = watch_console(context)
    page = context.new_page()
    response = page.goto(partial)
    assert response.status == 404
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_have_text("This link is incomplete or mistyped")
    body = page.locator("main")
    expect(body).to_contain_text("only part of it was copied")
    expect(body).to_contain_text("Open the whole link from the e-mail you received")
    expect(body).to_contain_text("ask the person who sent it to you for a new link")
    for hidden in ("Acme", "help@acme.test", "Sign in"):
        expect(page.locator("body")).not_to_contain_text(hidden)
    expect(page.get_by_role("link", name="Sign in")).to_have_count(0)
    assert [text for _url, text in console.errors if "404" not in text] == []

    # The same in French.
    french = context_factory(locale="fr-FR").new_page()
    french.goto(partial)
    expect(french.get_by_role("heading", level=1)).to_have_text(
        "Ce lien est incomplet ou mal saisi"
    )

    axe_page = axe_context().new_page()
    axe_page.goto(partial)
    _no_violations(axe_page, "mistyped client link")


def test_a_mistyped_link_on_an_agency_custom_domain_shows_that_agency(app):
    """Chromium cannot send another Host to 127.0.0.1: the test client does."""
    agency, _owner = connected_agency()
    _branded(agency)
    agency.custom_domain = "access.acme.test"
    db.session.commit()
    client = app.test_client()

    page = client.get("/r/" + "a" * 44, headers={"Host": "access.acme.test"})
    assert page.status_code == 404
    html = page.get_data(as_text=True)
    assert "This link is incomplete or mistyped" in html
    assert "Acme Studio" in html
    assert "mailto:help@acme.test" in html
    assert "--brand: #0f766e" in html

    # Another agency's real link on this domain: unknown here, and that agency stays unnamed.
    from helpers_requests import make_request

    other, other_owner = connected_agency("Other Agency", "owner@other.test")
    _request, other_token = make_request(other, other_owner)
    page = client.get(f"/r/{other_token}", headers={"Host": "access.acme.test"})
    html = page.get_data(as_text=True)
    assert page.status_code == 404
    assert "This link is incomplete or mistyped" in html and "Acme Studio" in html
    assert "Other Agency" not in html

    # On Latchkey's own address, the same link names no one.
    page = client.get("/r/" + "a" * 44)
    html = page.get_data(as_text=True)
    assert page.status_code == 404
    assert "This link is incomplete or mistyped" in html
    assert "Acme" not in html and "help@acme.test" not in html


# ------------------------------------------------------ branded errors


def test_errors_under_a_client_link_keep_the_agencys_branding(
    context_factory, axe_context, monkeypatch
):
    agency, owner = connected_agency()
    _branded(agency)
    link = link_for(agency, owner)

    context = context_factory()
    console = watch_console(context)
    page = context.new_page()

    # 404 under a known link: the agency's page, with its name and contact.
    response = page.goto(link + "/p/no-such-platform")
    assert response.status == 404
    expect(page.locator(".client-header")).to_contain_text("Acme Studio")
    expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
    expect(page.get_by_role("link", name="help@acme.test").first).to_have_attribute(
        "href", "mailto:help@acme.test"
    )
    expect(page.get_by_role("link", name="Back to your access request")).to_be_visible()
    assert (
        page.evaluate(
            "getComputedStyle(document.documentElement).getPropertyValue('--brand').trim()"
        )
        == "#0f766e"
    )
    expect(page.get_by_role("link", name="Go to the start page")).to_have_count(0)

    axe_page = axe_context().new_page()
    axe_page.goto(link + "/p/no-such-platform")
    _no_violations(axe_page, "404 under a client link")

    # 500 under a known link: still the agency's page.
    from portal.client import flow

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(flow, "progress", broken)
    response = page.goto(link)
    assert response.status == 500
    expect(page.get_by_role("heading", level=1)).to_have_text("Something went wrong on our side")
    expect(page.locator(".client-header")).to_contain_text("Acme Studio")
    expect(page.get_by_role("link", name="help@acme.test").first).to_be_visible()
    monkeypatch.undo()

    errors = [text for _url, text in console.errors if "404" not in text and "500" not in text]
    assert errors == []
