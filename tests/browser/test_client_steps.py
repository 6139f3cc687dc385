"""The client's link in Chromium, where a client used to get lost (issue 14):

- every client page fits a 360 px phone, for every sandbox persona, even with
  the platforms' long addresses in the obstacle messages;
- the language follows the client's browser when the agency leaves it open,
  and what the client receives follows the language they switch to;
- the address follows the step after the questions, so a reload stays there;
- Back to the platform's consent page, then Allow again, lands on the client's
  own branded step with a way forward (before granting and after);
- the obstacle messages say "press Retry", and the button is named Retry.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from portal.extensions import db
from portal.models import AccessRequest

from .helpers import (
    BackgroundWorker,
    ClientBrowser,
    connected_agency,
    fits_width,
    link_for,
    watch_console,
)

pytestmark = pytest.mark.usefixtures("needs_redis")


@pytest.fixture
def worker(app):
    with BackgroundWorker(app) as running:
        yield running


def _request(link: str) -> AccessRequest:
    from portal.services.requests import find_by_token

    db.session.expire_all()
    return find_by_token(link.rsplit("/", 1)[1])


def _with_questions(agency, owner, **kwargs) -> str:
    """A Pinterest request (ad account, profile) with one required question."""
    from helpers_requests import PINTEREST_ITEMS, make_request

    from portal.services.requests import request_url
    from portal.services.templates import save_template

    template = save_template(
        agency.id,
        "Onboarding",
        None,
        PINTEREST_ITEMS,
        [{"label": "Website address", "kind": "short_text", "required": True}],
        None,
    )
    access_request, token = make_request(
        agency, owner, items=template.items, template=template, **kwargs
    )
    return request_url(access_request, token)


# ------------------------------------------------------------- 360 px, every persona

PERSONAS = (
    "Business account",
    "Personal account",
    "No admin rights",
    "Two-factor authentication off",
    "Rate limited",
    "Fails mid-grant",
)


def _overflow(page: Page) -> str | None:
    """None if the page fits its width; else how wide it is, and what sticks out."""
    if fits_width(page):
        return None
    return page.evaluate(
        """() => {
          const width = window.innerWidth;
          const wide = Array.from(document.querySelectorAll("body *"))
            .filter(el => el.getBoundingClientRect().right > width + 0.5)
            .slice(-3)
            .map(el => el.tagName.toLowerCase() + "." + el.className + ": "
                 + (el.textContent || "").trim().slice(0, 60));
          return document.documentElement.scrollWidth + "px: " + wide.join(" | ");
        }"""
    )


@pytest.mark.parametrize("persona", PERSONAS)
def test_every_client_page_fits_a_360px_phone_for_every_persona(
    app, context_factory, worker, persona
):
    agency, owner = connected_agency()
    agency.support_email = "hello@acme.test"
    db.session.commit()
    link = _with_questions(agency, owner)
    context = context_factory(width=360)
    console = watch_console(context)
    client = ClientBrowser(context.new_page())
    page = client.page
    too_wide: dict[str, str | None] = {}

    def check(name: str) -> None:
        too_wide[name] = _overflow(page)

    client.open(link)
    check("welcome")
    page.goto(link + "/questions")
    page.get_by_role("button", name="Save and continue").click()
    expect(page.get_by_role("alert").first).to_be_visible()
    check("questions, with an error")
    page.get_by_label("Website address").fill(
        "https://www.harbor-coffee-roasters.example/collections/seasonal-single-origin"
    )
    page.get_by_role("button", name="Save and continue").click()
    expect(page.get_by_role("button", name="Connect Pinterest")).to_be_visible()
    check("platform, before connecting")
    client.connect()
    client.consent(persona)
    blocked = page.get_by_role("button", name="Grant access").count() == 0
    check("platform, after signing in")
    if blocked:
        expect(page.get_by_role("alert")).to_contain_text("One thing to fix first")
        page.get_by_role("button", name="Retry").click()
        expect(page.get_by_role("alert")).to_contain_text("One thing to fix first")
        check("platform, checked again")
    else:
        client.grant()
        check("platform, granted")
        client.wait_until_settled()
        check("platform, settled")
    page.goto(link + "/summary")
    check("summary")
    page.goto(link + "/finish")
    check("finish")
    page.goto(link + "/p/pinterest")
    check("platform, coming back")
    from portal.services.requests import revoke_request

    revoke_request(_request(link))
    assert page.goto(link).status == 410
    check("closed link")

    assert {name: wide for name, wide in too_wide.items() if wide} == {}
    # The browser logs the 410 answer itself; nothing else may go wrong.
    assert [text for _url, text in console.errors if "status of 410" not in text] == []


# ------------------------------------------------------------------------ language


def _new_request_from_the_form(page: Page) -> str:
    """The agency's form, language left as offered; the link it shows."""
    from .helpers import open_platform

    page.goto("/app/requests/new")
    language = page.get_by_label("Language of the client's page")
    expect(language.locator("option:checked")).to_have_text("The client's browser language")
    page.get_by_label("Client's name").fill("Café Marée")
    page.get_by_label("Client's e-mail").fill("bonjour@cafemaree.test")
    open_platform(page, "pinterest")
    page.locator("#perm-pinterest-AD_ACCOUNT-CAMPAIGN_MANAGER").check()
    page.get_by_role("button", name="Create the link").click()
    expect(page).to_have_url(re.compile(r"/app/requests/\d+$"))
    return page.get_by_label("Link for the client").input_value()


def _sent_in(access_request: AccessRequest) -> tuple[str, str]:
    """The language of the client's e-mails and of the PDF, for this request now."""
    from portal.notifications.recipients import client_of
    from portal.reports import render_report_html

    html = render_report_html(access_request.id)
    pdf_lang = re.search(r'<html lang="([a-z]+)"', html).group(1)
    return client_of(access_request).locale, pdf_lang


def test_the_page_follows_the_browser_and_what_the_client_receives_follows_the_switch(
    app, context_factory, live_server
):
    from conftest import PASSWORD

    from portal.api.keys import create_key

    from .helpers import AgencyBrowser

    _agency, owner = connected_agency()
    agency_side = AgencyBrowser(context_factory().new_page())
    agency_side.sign_in(owner.email, PASSWORD)
    link = _new_request_from_the_form(agency_side.page)
    assert _request(link).locale == ""  # no language stored: the browser's

    # A client whose browser asks for French gets French.
    context = context_factory(locale="fr-FR")
    console = watch_console(context)
    page = context.new_page()
    page.goto(link)
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    # Whatever they receive later is in the language they read the page in.
    assert _sent_in(_request(link)) == ("fr", "fr")

    # They switch to English on the link: the page, the e-mails and the PDF follow.
    page.get_by_label("Langue").select_option("en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_contain_text("asks for access")
    access_request = _request(link)
    assert access_request.locale == "en"
    assert _sent_in(access_request) == ("en", "en")

    # A request made through the API without a locale behaves the same.
    _key, secret = create_key(_agency.id, "CRM")
    answer = context_factory().request.post(
        f"{live_server.url}/api/v1/access-requests",
        headers={"Authorization": f"Bearer {secret}"},
        data={
            "client": {"name": "Boulangerie Lune", "email": "allo@lune.test"},
            "items": [
                {
                    "platform": "pinterest",
                    "asset_type": "AD_ACCOUNT",
                    "permissions": ["CAMPAIGN_MANAGER"],
                }
            ],
        },
    )
    assert answer.status == 201, answer.text()
    api_link = answer.json()["url"]
    other = context_factory(locale="fr-FR").new_page()
    other.goto(api_link)
    expect(other.locator("html")).to_have_attribute("lang", "fr")
    assert console.errors == []


# --------------------------------------------------------------------------- reload


def test_after_the_questions_the_address_follows_the_step_and_a_reload_stays_there(
    app, context_factory
):
    agency, owner = connected_agency()
    link = _with_questions(agency, owner)
    context = context_factory()
    console = watch_console(context)
    client = ClientBrowser(context.new_page())
    page = client.page

    client.open(link)
    page.get_by_role("link", name="Answer Acme Agency's questions").click()
    expect(page).to_have_url(re.compile(r"/questions$"))
    # An answer missing: the client stays on the questions, at the same address.
    page.get_by_role("button", name="Save and continue").click()
    expect(page.get_by_role("alert").first).to_be_visible()
    expect(page).to_have_url(re.compile(r"/questions$"))
    page.get_by_label("Website address").fill("https://blueharbor.test")
    page.get_by_role("button", name="Save and continue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Share your Pinterest accounts")
    expect(page).to_have_url(re.compile(r"/p/pinterest$"))

    page.reload()
    expect(page.get_by_role("heading", level=1)).to_have_text("Share your Pinterest accounts")
    # Back goes to the questions, answered.
    page.go_back()
    expect(page).to_have_url(re.compile(r"/questions$"))
    expect(page.get_by_label("Website address")).to_have_value("https://blueharbor.test")
    assert console.errors == []


# ----------------------------------------------------------- Back, then Allow again


def _back_on_the_consent_page_and_allow_again(client: ClientBrowser) -> None:
    page = client.page
    page.go_back()
    expect(page.get_by_role("button", name="Allow")).to_be_visible()
    page.get_by_role("radio", name="Business account", exact=True).check()
    page.get_by_role("button", name="Allow", exact=True).click()


def _on_the_branded_step(page: Page, link: str) -> None:
    expect(page).to_have_url(link + "/p/pinterest")
    expect(page.get_by_text("ERROR 400")).to_have_count(0)
    expect(page.get_by_text("This sign-in cannot be used")).to_have_count(0)
    expect(page.locator(".client-header")).to_contain_text("Acme Agency")
    expect(page.get_by_role("heading", level=1)).to_have_text("Share your Pinterest accounts")
    expect(page.get_by_text("You had already signed in to Pinterest here")).to_be_visible()
    # No way to Latchkey's own sign-in from the client's link.
    expect(page.locator("a[href*='/auth/login']")).to_have_count(0)


def test_back_then_allow_again_lands_on_the_clients_own_step(app, context_factory, worker):
    agency, owner = connected_agency()
    link = link_for(agency, owner)
    context = context_factory()
    console = watch_console(context)
    client = ClientBrowser(context.new_page())
    page = client.page

    client.open(link)
    client.connect()
    client.consent("Business account")
    expect(page.get_by_role("button", name="Grant access")).to_be_visible()

    # Before granting: back on the step, the assets still to choose.
    _back_on_the_consent_page_and_allow_again(client)
    _on_the_branded_step(page, link)
    expect(page.get_by_role("button", name="Grant access")).to_be_visible()
    client.grant()
    assert client.wait_until_settled() == ["verified", "verified"]

    # After granting: back on the step, its results and the way on.
    _back_on_the_consent_page_and_allow_again(client)
    _on_the_branded_step(page, link)
    assert client.statuses() == ["verified", "verified"]
    page.get_by_role("link", name="Continue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("All set: Acme Agency has access")
    assert console.errors == []


# ------------------------------------------------------------------- button name


META_ITEMS = [
    {"platform": "meta", "asset_type": "AD_ACCOUNT", "permissions": ["ADVERTISE"]},
    {"platform": "meta", "asset_type": "PAGE", "permissions": ["CREATE_CONTENT"]},
]


def test_the_two_factor_message_names_the_button_that_is_there(app, context_factory):
    agency, owner = connected_agency()
    link = link_for(agency, owner, items=META_ITEMS)
    context = context_factory()
    console = watch_console(context)
    client = ClientBrowser(context.new_page())
    page = client.page
    client.open(link)
    client.connect("Connect Meta")
    page.get_by_role("radio", name="Two-factor authentication off", exact=True).check()
    page.get_by_role("button", name="Allow", exact=True).click()
    page.wait_for_url(re.compile(r"/r/[^/]+/p/meta$"))

    # Blocked before granting: the message says which button to press, and it is there.
    problem = page.get_by_role("alert")
    expect(problem).to_contain_text("two-factor authentication")
    expect(problem).to_contain_text("press Retry")
    expect(page.get_by_role("button", name="Grant access")).to_have_count(0)
    retry = page.get_by_role("button", name="Retry", exact=True)
    expect(retry).to_be_visible()
    expect(retry).to_have_accessible_description("Latchkey checks your Meta account again.")
    expect(page.get_by_role("button", name="Check again")).to_have_count(0)
    retry.click()
    expect(page.get_by_role("alert")).to_contain_text("press Retry")
    expect(page.get_by_role("button", name="Retry", exact=True)).to_be_visible()
    assert console.errors == []
