"""The agency's side of a request in the browser, and links that no longer work.

Revoked and expired links answer 410 with a page saying so and how to reach
the agency; an unknown link answers 404.
"""

from __future__ import annotations

import re
import secrets

from conftest import PASSWORD, make_agency
from helpers_requests import expire_now
from playwright.sync_api import expect

from portal.extensions import db
from portal.services.requests import find_by_token

from .helpers import AgencyBrowser, connected_agency, link_for, watch_console

SUPPORT = "hello@acme.test"


def _with_support_email(agency):
    agency.support_email = SUPPORT
    db.session.commit()
    return agency


def _token(link: str) -> str:
    return link.rsplit("/", 1)[1]


def test_a_link_the_agency_revokes_answers_410_with_its_contact(context_factory):
    agency, owner = connected_agency()
    _with_support_email(agency)
    agency_side = AgencyBrowser(context_factory().new_page())
    agency_side.sign_in(owner.email, PASSWORD)
    link = agency_side.create_pinterest_request("Blue Harbor", "marketing@blueharbor.test", "en")

    client_context = context_factory()
    console = watch_console(client_context)
    client = client_context.new_page()
    assert client.goto(link).status == 200

    detail = agency_side.page
    detail.get_by_role("link", name="Revoke…").click()
    detail.get_by_role("button", name="Revoke the link").click()  # the confirmation
    expect(detail.get_by_text("The request is revoked: its link no longer works.")).to_be_visible()
    expect(detail.get_by_label("Link for the client")).to_have_count(0)

    answer = client.goto(link)
    assert answer.status == 410
    assert answer.headers["referrer-policy"] == "no-referrer"
    expect(client.get_by_role("heading", level=1)).to_have_text("This link is no longer available")
    expect(client.get_by_text("Acme Agency withdrew this access request.")).to_be_visible()
    expect(client.get_by_role("main").get_by_role("link", name=SUPPORT)).to_have_attribute(
        "href", f"mailto:{SUPPORT}"
    )
    # Every page under the link is closed, not only the first.
    assert client.goto(link + "/p/pinterest").status == 410
    assert client.goto(link + "/summary").status == 410
    # The browser logs the 410 answers themselves; nothing else may go wrong (CSP...).
    assert [text for _url, text in console.errors if "status of 410" not in text] == []


def test_an_expired_link_answers_410_with_the_agency_contact(context_factory):
    agency, owner = connected_agency()
    _with_support_email(agency)
    link = link_for(agency, owner)
    expire_now(find_by_token(_token(link)))

    page = context_factory().new_page()
    answer = page.goto(link)
    assert answer.status == 410
    expect(page.get_by_role("heading", level=1)).to_have_text("This link is no longer available")
    expect(page.get_by_text(re.compile(r"This link expired on \w+"))).to_be_visible()
    expect(page.get_by_text("Nothing was changed on your accounts by opening it.")).to_be_visible()
    expect(page.get_by_role("main").get_by_role("link", name=SUPPORT)).to_have_attribute(
        "href", f"mailto:{SUPPORT}"
    )
    expect(page.get_by_role("button", name="Connect Pinterest")).to_have_count(0)


def test_an_expired_link_without_a_support_address_names_who_to_ask(context_factory):
    agency, owner = connected_agency()
    link = link_for(agency, owner)
    expire_now(find_by_token(_token(link)))
    page = context_factory().new_page()
    assert page.goto(link).status == 410
    expect(page.get_by_text("contact the person at Acme Agency who sent it to you")).to_be_visible()


def test_an_unknown_link_answers_404(context_factory, live_server):
    page = context_factory().new_page()
    for token in (secrets.token_urlsafe(32), "not-a-token"):
        answer = page.goto(f"{live_server.url}/r/{token}")
        assert answer.status == 404, token
        assert answer.headers["referrer-policy"] == "no-referrer"
        expect(page.get_by_role("button", name="Connect Pinterest")).to_have_count(0)


def test_the_agency_cannot_ask_for_pinterest_before_connecting_it(context_factory):
    _agency, owner = make_agency()
    agency_side = AgencyBrowser(context_factory().new_page())
    agency_side.sign_in(owner.email, PASSWORD)
    page = agency_side.page
    page.goto("/app/requests/new")
    # The platform is folded, and says why; opened, it says what to do.
    expect(page.locator("#pf-pinterest")).to_have_text("Pinterest · not connected")
    expect(page.get_by_text("Pinterest is not connected for your agency yet.")).to_be_hidden()
    page.locator("#pf-pinterest").click()
    expect(page.get_by_text("Pinterest is not connected for your agency yet.")).to_be_visible()
    expect(page.get_by_role("link", name="Connect Pinterest in Connections first")).to_be_visible()
    expect(page.locator("#perm-pinterest-AD_ACCOUNT-CAMPAIGN_MANAGER")).to_be_disabled()
