"""One request mixing Pinterest, Meta and Google, driven through Chromium.

The agency is connected to every emulated platform. The client opens the
link, connects each platform in turn on its emulated consent page, grants,
watches verification settle and moves on to the next platform from the page
itself; Search Console's guided step is done on the emulated Search Console
page; one summary then lists everything as verified. A second test stops
after Pinterest, closes the browser and comes back in a fresh profile.
"""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from portal.extensions import db
from portal.models import AccessRequest, AgencyConnection, Grant

from .helpers import BackgroundWorker, ClientBrowser, connected_agency, link_for, watch_console

pytestmark = pytest.mark.usefixtures("needs_redis")

ITEMS = [
    {"platform": "pinterest", "asset_type": "AD_ACCOUNT", "permissions": ["CAMPAIGN_MANAGER"]},
    {"platform": "meta", "asset_type": "AD_ACCOUNT", "permissions": ["ADVERTISE"]},
    {"platform": "meta", "asset_type": "PAGE", "permissions": ["CREATE_CONTENT", "ANALYZE"]},
    {"platform": "google", "asset_type": "ADS_ACCOUNT", "permissions": ["MANAGER_LINK"]},
    {
        "platform": "google",
        "asset_type": "GA4_PROPERTY",
        "permissions": ["predefinedRoles/analyst"],
    },
    {
        "platform": "google",
        "asset_type": "SEARCH_CONSOLE_PROPERTY",
        "permissions": ["siteFullUser"],
    },
]
EVERY_GRANT = {
    ("pinterest", "AD_ACCOUNT"): "verified",
    ("meta", "AD_ACCOUNT"): "verified",
    ("meta", "PAGE"): "verified",
    ("google", "ADS_ACCOUNT"): "verified",
    ("google", "GA4_PROPERTY"): "verified",
    ("google", "SEARCH_CONSOLE_PROPERTY"): "verified",
}
MAX_TEST_SECONDS = 60.0


@pytest.fixture
def worker(app):
    with BackgroundWorker(app) as running:
        yield running


@pytest.fixture
def mixed_link():
    """A link asking for Pinterest, Meta and Google, from an agency connected to all."""
    agency, owner = connected_agency()
    return link_for(agency, owner, items=ITEMS), agency


class MixedClient(ClientBrowser):
    """The client on a link that asks for several platforms."""

    def consent_on(self, platform: str, persona: str = "Business account") -> None:
        """On the emulated platform's consent page: `persona`, Allow; back on the link."""
        page = self.page
        radio = page.get_by_role("radio", name=persona, exact=True)
        if not radio.is_checked():
            self.click(radio)
        expect(radio).to_be_checked()
        self.click(page.get_by_role("button", name="Allow", exact=True))
        page.wait_for_url(re.compile(rf"/r/[^/]+/p/{platform}$"))

    def share(self, platform: str, name: str, expected: list[str]) -> None:
        """Connect `platform` from the page, allow, grant what is ticked, wait for checks."""
        page = self.page
        self.connect(name=f"Connect {name}")
        self.consent_on(platform)
        expect(page.get_by_role("heading", level=1)).to_have_text(f"Share your {name} accounts")
        picker = page.locator("form.asset-picker")
        expect(picker.locator("fieldset")).to_have_count(len(expected))
        for fieldset in picker.locator("fieldset").all():
            # The suggestion is ticked for each requested item.
            expect(fieldset.get_by_role("checkbox", checked=True)).to_have_count(1)
        self.grant()
        assert self.wait_until_settled(timeout=25) == expected

    def next_step(self) -> None:
        """The platform's page offers the next step: Continue."""
        self.click(self.page.locator("#step").get_by_role("link", name="Continue"))

    def search_console_step(self, agency_email: str) -> None:
        """Finishing touches: add the agency in (emulated) Search Console, then say so."""
        page = self.page
        expect(page.get_by_role("heading", level=1)).to_have_text("A few things to do yourself")
        card = page.locator("article.manual-item", has_text="Search Console")
        expect(card).to_contain_text(agency_email)  # the steps name who to add
        with page.context.expect_page() as opened:
            self.click(card.get_by_role("link", name="Open Google settings"))
        search_console = opened.value
        expect(search_console.get_by_role("heading", level=1)).to_have_text("Users and permissions")
        search_console.get_by_label("Email address").fill(agency_email)
        search_console.get_by_label("Permission", exact=True).select_option("siteFullUser")
        search_console.get_by_role("button", name="Add", exact=True).click()
        expect(search_console.get_by_role("status")).to_contain_text(f"{agency_email} was added.")
        search_console.close()
        self.click(card.get_by_role("button", name="I've done this"))
        expect(card.get_by_role("button", name="I've done this")).to_have_count(0)
        expect(card.locator(".badge.needs_action")).to_have_count(0)  # the agency checks now


def _agency_google_email(agency) -> str:
    connection = db.session.execute(
        select(AgencyConnection).where(
            AgencyConnection.agency_id == agency.id, AgencyConnection.platform == "google"
        )
    ).scalar_one()
    return connection.identity["email"]


def _request_and_grants(link: str) -> tuple[str, dict[tuple[str, str], str]]:
    from portal.services.requests import find_by_token

    db.session.expire_all()
    access_request: AccessRequest = find_by_token(link.rsplit("/", 1)[1])
    grants = db.session.execute(
        select(Grant).where(Grant.access_request_id == access_request.id)
    ).scalars()
    return access_request.status, {(g.platform, g.asset_type): g.status for g in grants}


def _finish_on_the_summary(client: MixedClient, link: str) -> None:
    """From Finishing touches to the one summary, everything verified, then Finish."""
    page: Page = client.page
    client.next_step()
    expect(page).to_have_url(re.compile(r"/summary$"))
    expect(page.locator(".progress-steps li.done")).to_have_text(
        ["Welcome", "Pinterest", "Meta", "Google", "Finishing touches"]
    )
    # Search Console's check was still running: the summary follows it by itself.
    assert client.wait_until_settled(timeout=25) == ["verified"] * len(EVERY_GRANT)
    # One list for the whole request, each asset named with its platform.
    names = page.locator("#grant-status .grant-name").all_inner_texts()
    assert [name.split(" · ")[:2] for name in names] == [
        ["Pinterest", "Ad account"],
        ["Meta", "Ad account"],
        ["Meta", "Facebook Page"],
        ["Google", "Google Ads account"],
        ["Google", "Google Analytics property"],
        ["Google", "Search Console property"],
    ]
    expect(page.get_by_text("Not shared:")).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile("^Connect "))).to_have_count(0)
    finish = page.get_by_role("link", name="Finish")
    expect(finish).to_have_class(re.compile(r"\bprimary\b"))  # nothing else to do
    client.click(finish)
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you, Blue Harbor")
    assert _request_and_grants(link) == ("completed", EVERY_GRANT)


def test_a_mixed_request_completes_in_one_visit(app, context_factory, worker, mixed_link):
    link, agency = mixed_link
    agency_email = _agency_google_email(agency)
    started = time.monotonic()
    context = context_factory()
    console = watch_console(context)
    client = MixedClient(context.new_page())
    page = client.page

    client.open(link)
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Acme Agency asks for access to your accounts"
    )
    for platform in ("Pinterest", "Meta", "Google"):
        expect(page.get_by_role("heading", level=3, name=platform)).to_be_visible()

    client.share("pinterest", "Pinterest", ["verified"])
    client.next_step()
    client.share("meta", "Meta", ["verified", "verified"])
    client.next_step()
    # Search Console has no API: its grant waits for the client's own steps.
    client.share("google", "Google", ["verified", "verified", "needs_action"])
    client.next_step()
    client.search_console_step(agency_email)
    _finish_on_the_summary(client, link)

    seconds = time.monotonic() - started
    print(f"\nmixed journey in one visit: {client.clicks} clicks, {seconds:.1f}s")
    assert seconds < MAX_TEST_SECONDS
    assert console.errors == []


def test_a_mixed_request_resumes_across_two_visits(app, context_factory, worker, mixed_link):
    link, agency = mixed_link
    agency_email = _agency_google_email(agency)
    started = time.monotonic()

    # First visit: Pinterest only, then the browser is closed.
    first = context_factory()
    first_console = watch_console(first)
    client = MixedClient(first.new_page())
    client.open(link)
    client.share("pinterest", "Pinterest", ["verified"])
    assert first_console.errors == []
    first.close()
    assert _request_and_grants(link) == ("in_progress", {("pinterest", "AD_ACCOUNT"): "verified"})

    # Later, a second visit in a fresh profile (no cookies): where they left off.
    second = context_factory()
    console = watch_console(second)
    client = MixedClient(second.new_page())
    page = client.page
    client.open(link)
    expect(page).to_have_url(re.compile(r"/r/[^/]+/p/meta$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Share your Meta accounts")
    progress = page.get_by_role("navigation", name="Progress")
    expect(progress).to_contain_text("Step 3 of 6")
    expect(progress.locator("li.done")).to_have_text(["Welcome", "Pinterest"])
    expect(progress.locator("li[aria-current=step]")).to_have_text("Meta")
    expect(page.get_by_role("button", name="Connect Pinterest")).to_have_count(0)
    expect(page.get_by_role("button", name="Connect Meta")).to_be_visible()

    client.share("meta", "Meta", ["verified", "verified"])
    client.next_step()
    client.share("google", "Google", ["verified", "verified", "needs_action"])
    client.next_step()
    client.search_console_step(agency_email)
    _finish_on_the_summary(client, link)

    seconds = time.monotonic() - started
    print(f"\nmixed journey over two visits: {seconds:.1f}s")
    assert seconds < MAX_TEST_SECONDS
    assert console.errors == []
