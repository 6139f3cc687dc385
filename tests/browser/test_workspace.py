"""The agency's workspace in a real browser: a template, a request from it, and
the client's progress (answers, then grants) appearing live on the detail page."""

from __future__ import annotations

import re

import pytest
from conftest import PASSWORD
from playwright.sync_api import expect

from .helpers import (
    AgencyBrowser,
    BackgroundWorker,
    ClientBrowser,
    connected_agency,
    fits_width,
    open_platform,
    watch_console,
)

pytestmark = pytest.mark.usefixtures("needs_redis")


@pytest.fixture
def worker(app):
    with BackgroundWorker(app) as running:
        yield running


def test_it_creates_a_template_and_a_request_and_follows_the_client_live(
    app, context_factory, worker
):
    _agency, owner = connected_agency()
    context = context_factory()
    console = watch_console(context)
    agency = AgencyBrowser(context.new_page())
    agency.sign_in(owner.email, PASSWORD)
    page = agency.page

    # A template: an ad account as campaign manager, and one required question.
    page.goto("/app/templates/new")
    page.get_by_label("Name", exact=True).fill("Ads onboarding")
    open_platform(page, "pinterest")
    page.locator("#perm-pinterest-AD_ACCOUNT-CAMPAIGN_MANAGER").check()
    page.get_by_label("Question 1").fill("What is your website?")
    page.locator("input[name=q-0-required]").check()
    # The live preview follows the form.
    expect(page.locator("#template-preview")).to_contain_text("What is your website?")
    page.get_by_role("button", name="Save the template").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Ads onboarding")

    # A request from it.
    page.get_by_role("link", name="New request from this template").click()
    expect(page.locator("#perm-pinterest-AD_ACCOUNT-CAMPAIGN_MANAGER")).to_be_checked()
    page.get_by_label("Client's name").fill("Blue Harbor")
    page.get_by_label("Client's e-mail").fill("marketing@blueharbor.test")
    page.get_by_role("button", name="Create the link").click()
    expect(page).to_have_url(re.compile(r"/app/requests/\d+$"))
    link = page.get_by_label("Link for the client").input_value()
    expect(page.locator("#request-status")).to_contain_text("Waiting for the client")
    page.evaluate("window.notReloaded = true")

    # The client, in another browser profile, answers and grants.
    client = ClientBrowser(context_factory().new_page())
    client.open(link)
    client.page.get_by_role("link", name=re.compile("questions")).click()
    client.page.get_by_label(re.compile("What is your website")).fill("https://blueharbor.test")
    client.page.get_by_role("button", name="Save and continue").click()
    client.connect()
    client.consent("Business account")
    client.grant()
    assert client.wait_until_settled() == ["verified"]

    # The agency's page followed along by itself.
    expect(page.locator("#request-status .badge.verified")).to_have_count(1, timeout=25_000)
    expect(page.locator("#request-badge")).to_have_text("Completed", timeout=25_000)
    assert page.evaluate("window.notReloaded === true")
    page.reload()
    expect(page.get_by_text("https://blueharbor.test")).to_be_visible()
    expect(page.get_by_text("Access verified").first).to_be_visible()
    assert console.errors == []


def test_the_workspace_fits_a_phone(app, context_factory):
    _agency, owner = connected_agency()
    context = context_factory(width=360)
    agency = AgencyBrowser(context.new_page())
    agency.sign_in(owner.email, PASSWORD)
    for path in ("/app/", "/app/requests", "/app/templates/new", "/app/branding", "/app/audit"):
        agency.page.goto(path)
        assert fits_width(agency.page), path
