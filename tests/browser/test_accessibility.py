"""axe-core (WCAG 2.0/2.1, levels A and AA) on every page of the client's
journey and on the agency's main pages, in Debian's Chromium: zero violations.

axe is vendored from its npm package (tests/browser/vendor/) and injected into
each page. The app's CSP allows only its own scripts, so the browser context
used here bypasses the CSP (for axe only: the other browser tests run under
the real policy and fail on any CSP error). A summary of the pages checked and
what was found is printed at the end of the module.
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import pytest
from conftest import PASSWORD
from playwright.sync_api import Page, expect

from portal.extensions import db

from .helpers import AgencyBrowser, BackgroundWorker, ClientBrowser, connected_agency

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
# Pages checked in this run: name -> violations (for the summary).
CHECKED: dict[str, list[dict]] = {}

RUN_AXE = """async (tags) => {
  const result = await axe.run(document, {
    runOnly: {type: "tag", values: tags},
    resultTypes: ["violations"],
  });
  window.__axePassed = result.passes.map(p => p.id);
  window.__axeIncomplete = result.incomplete.map(i => i.id + ": " + i.nodes.length);
  return result.violations.map(v => ({
    id: v.id,
    impact: v.impact,
    help: v.help,
    nodes: v.nodes.map(n => ({
      target: n.target.join(" "),
      summary: n.failureSummary,
      html: n.html.slice(0, 300),
    })),
  }));
}"""


def axe_violations(page: Page, name: str) -> list[dict]:
    """Run axe on the page as it is now; remember the result under `name`."""
    page.wait_for_load_state("load")
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    violations = page.evaluate(RUN_AXE, WCAG_TAGS)
    CHECKED[name] = violations
    return violations


def describe(found: dict[str, list[dict]]) -> str:
    lines = []
    for name, violations in found.items():
        for v in violations:
            lines.append(f"{name}: {v['id']} ({v['impact']}): {v['help']}")
            for node in v["nodes"][:5]:
                summary = " ".join(node["summary"].split())
                lines.append(f"    {node['target']}: {summary}\n      {node['html']}")
    return "\n".join(lines)


class Audit:
    """Collects the violations of several pages, to report them all at once."""

    def __init__(self, page: Page):
        self.page = page
        self.names: list[str] = []
        self.found: dict[str, list[dict]] = {}

    def check(self, name: str) -> None:
        violations = axe_violations(self.page, name)
        self.names.append(name)
        if violations:
            self.found[name] = violations

    def assert_clean(self, expected_pages: int) -> None:
        assert len(self.names) == expected_pages, self.names
        assert not self.found, "accessibility violations:\n" + describe(self.found)


@pytest.fixture(scope="module", autouse=True)
def _summary(request):
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or not CHECKED:
        return
    total = sum(len(v) for v in CHECKED.values())
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled():  # shown with or without -s
        reporter.write("\n")
        reporter.write_line(
            f"axe-core ({', '.join(WCAG_TAGS)}): {len(CHECKED)} page(s) checked, "
            f"{total} violation(s)"
        )
        for name, violations in CHECKED.items():
            rules = ", ".join(sorted({v["id"] for v in violations})) or "none"
            reporter.write_line(f"  {name}: {len(violations)} ({rules})")


@pytest.fixture
def axe_context(browser, live_server):
    """A browser profile for axe: the CSP is bypassed so the injected script may run."""
    contexts = []

    def make(width: int = 1280):
        context = browser.new_context(
            base_url=live_server.url,
            locale="en-GB",
            bypass_csp=True,
            viewport={"width": width, "height": 900},
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


def _item(asset_type: str, permission: str) -> dict:
    return {"platform": "pinterest", "asset_type": asset_type, "permissions": [permission]}


def _request_with_everything(agency, owner):
    """A Pinterest request with intake questions and a manual step (the Tag)."""
    from helpers_requests import make_request

    from portal.services.requests import request_url
    from portal.services.templates import save_template

    template = save_template(
        agency.id,
        "Onboarding",
        "We run your campaigns and publish on your boards.",
        [
            {
                "platform": "pinterest",
                "asset_type": "AD_ACCOUNT",
                "permissions": ["CAMPAIGN_MANAGER"],
            },
            {
                "platform": "pinterest",
                "asset_type": "PROFILE",
                "permissions": ["PROFILE_PUBLISHER"],
            },
            {"platform": "pinterest", "asset_type": "TAG", "permissions": ["VERIFY_TAG"]},
        ],
        [
            {"label": "Website address", "kind": "short_text", "required": True},
            {"label": "Monthly budget", "kind": "choice", "choices": ["Under 1,000", "More"]},
        ],
        None,
    )
    access_request, token = make_request(agency, owner, items=template.items, template=template)
    return access_request, request_url(access_request, token)


@pytest.mark.usefixtures("needs_redis")
def test_every_page_of_the_client_journey_has_no_violation(app, axe_context):
    agency, owner = connected_agency()
    agency.support_email = "hello@acme.test"
    db.session.commit()
    _request, link = _request_with_everything(agency, owner)
    page = axe_context(width=360).new_page()  # a client on a phone
    audit = Audit(page)
    client = ClientBrowser(page)

    client.open(link)
    audit.check("client: welcome")
    # A pale brand colour: buttons and links must stay readable with it.
    agency.primary_color = "#f5d547"
    db.session.commit()
    client.open(link)
    audit.check("client: welcome, pale brand colour")

    page.goto(link + "/questions")
    expect(page.get_by_label("Website address")).to_be_visible()
    audit.check("client: questions")
    page.get_by_role("button", name=re.compile("Continue|Save")).click()
    expect(page.get_by_role("alert").or_(page.locator(".field-error")).first).to_be_visible()
    audit.check("client: questions with an error")
    page.get_by_label("Website address").fill("https://blueharbor.test")
    page.get_by_role("button", name=re.compile("Continue|Save")).click()
    expect(page.get_by_role("button", name="Connect Pinterest")).to_be_visible()

    page.goto(link + "/p/pinterest")
    expect(page.get_by_role("button", name="Connect Pinterest")).to_be_visible()
    audit.check("client: platform, before connecting")
    client.connect()
    audit.check("sandbox: consent page")
    client.consent("Business account")
    expect(page.get_by_role("button", name="Grant access")).to_be_visible()
    audit.check("client: asset choice")
    client.grant()
    audit.check("client: results, verifying")

    with BackgroundWorker(app):
        client.wait_until_settled()
    audit.check("client: results, verified")

    page.goto(link + "/steps")
    audit.check("client: manual steps")
    page.goto(link + "/summary")
    audit.check("client: summary")
    page.goto(link + "/finish")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Thank you")
    audit.check("client: done")

    # An account that cannot share yet: the problem and its fix.
    _other, second_link = _request_with_everything(agency, owner)
    client.open(second_link + "/p/pinterest")
    client.connect()
    client.consent("Personal account")
    expect(page.get_by_role("alert")).to_contain_text("One thing to fix first")
    audit.check("client: a problem to fix first")

    # A guided platform (no sign-in): its steps, a reply with an error, then sent.
    agency.identities = {"shopify": {"partner_organization": "Acme Partners"}}
    db.session.commit()
    from helpers_requests import make_request

    from portal.services.requests import request_url

    shop, shop_token = make_request(
        agency,
        owner,
        items=[{"platform": "shopify", "asset_type": "STORE", "permissions": ["APPS"]}],
    )
    shop_link = request_url(shop, shop_token)
    page.goto(shop_link + "/p/shopify")
    send = page.get_by_role("button", name="Send")
    expect(send).to_be_visible()
    audit.check("client: guided steps (Shopify)")
    page.get_by_role("textbox", name=re.compile("Collaborator request code")).fill("12")
    send.click()
    expect(page.locator(".field.has-error").first).to_be_visible()
    audit.check("client: guided steps, a reply with an error")

    # Links that no longer work, or never did.
    from portal.services.requests import find_by_token, revoke_request

    revoke_request(find_by_token(second_link.rsplit("/", 1)[1]))
    assert page.goto(second_link).status == 410
    audit.check("client: closed link (410)")
    assert page.goto(f"/r/{secrets.token_urlsafe(32)}").status == 404
    audit.check("client: unknown link (404)")
    assert page.goto("/nowhere").status == 404
    audit.check("error page (404)")

    audit.assert_clean(expected_pages=18)


def test_every_main_page_of_the_agency_has_no_violation(app, axe_context):
    from helpers_requests import make_request

    from portal.api.keys import create_key
    from portal.webhooks import service as webhooks

    agency, owner = connected_agency()
    _request_with_everything(agency, owner)
    make_request(agency, owner, client_name="Northwind Media", client_email="ops@northwind.test")
    create_key(agency.id, "CRM")
    webhooks.create_endpoint(agency.id, "https://example.com/hooks", ["*"], "CRM", None)
    from portal.models import AccessRequest, Client, Template, WebhookEndpoint

    ids = {
        "request": db.session.query(AccessRequest.id).order_by(AccessRequest.id).first()[0],
        "client": db.session.query(Client.id).order_by(Client.id).first()[0],
        "template": db.session.query(Template.id).first()[0],
        "endpoint": db.session.query(WebhookEndpoint.id).first()[0],
    }

    from portal.models import Grant

    verified = Grant(
        agency_id=agency.id,
        access_request_id=ids["request"],
        item_index=0,
        platform="pinterest",
        asset_type="AD_ACCOUNT",
        asset_id="549755885175",
        asset_name="Blue Harbor ads",
        permissions=["CAMPAIGN_MANAGER"],
        status="verified",
    )
    db.session.add(verified)
    db.session.commit()
    ids["grant"] = verified.id

    page = axe_context().new_page()
    audit = Audit(page)
    for name, path in (
        ("sign in", "/auth/login"),
        ("sign up", "/auth/signup"),
        ("password reset", "/auth/reset"),
        ("home", "/"),
    ):
        page.goto(path)
        audit.check(f"agency: {name}")

    page.goto("/auth/login")
    page.get_by_label("E-mail").fill(owner.email)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert").first).to_be_visible()
    audit.check("agency: sign in, wrong password")
    AgencyBrowser(page).sign_in(owner.email, PASSWORD)

    pages = {
        "dashboard": "/app/",
        "requests": "/app/requests",
        "request detail": f"/app/requests/{ids['request']}",
        "new request": "/app/requests/new",
        "templates": "/app/templates",
        "template": f"/app/templates/{ids['template']}",
        "template editor (new)": "/app/templates/new",
        "template editor": f"/app/templates/{ids['template']}/edit",
        "clients": "/app/clients",
        "client": f"/app/clients/{ids['client']}",
        "branding": "/app/branding",
        "connections": "/app/connections",
        "team": "/app/team",
        "audit": "/app/audit",
        "webhooks": "/app/webhooks",
        "webhook (new)": "/app/webhooks/new",
        "webhook": f"/app/webhooks/{ids['endpoint']}",
        "API keys": "/app/api/keys",
        "API docs": "/app/api/docs",
        "health": "/app/health",
        "account security": "/app/account/security",
        "two-factor setup": "/app/account/two-factor",
        "verify a report": "/app/verify",
        "other tools": "/app/tools",
        "other tool (new)": "/app/tools/new",
        "delete a client": f"/app/clients/{ids['client']}/delete",
        "remove access": f"/app/requests/{ids['request']}/grants/{ids['grant']}/remove",
        "data retention": "/app/data-retention",
        "delete the agency": "/app/team/delete-agency",
    }
    for name, path in pages.items():
        response = page.goto(path)
        assert response.status == 200, (path, response.status)
        audit.check(f"agency: {name}")

    # A form sent back with errors.
    page.goto("/app/requests/new")
    page.get_by_role("button", name="Create the link").click()
    expect(page.locator("[aria-invalid=true]").first).to_be_visible()
    audit.check("agency: new request with errors")

    audit.assert_clean(expected_pages=len(pages) + 6)


def test_axe_finds_a_violation_when_there_is_one(app, axe_context):
    """The check can fail: a page given an unlabelled field and an image without text."""
    page = axe_context().new_page()
    page.goto("/auth/login")
    assert axe_violations(page, "sign in (as served)") == []
    page.evaluate(
        """() => {
          const main = document.querySelector("main");
          main.insertAdjacentHTML("beforeend", '<img src="/static/img/favicon.svg">');
          main.insertAdjacentHTML("beforeend", '<input type="text" name="nameless">');
          main.insertAdjacentHTML("beforeend", '<p style="color:#bbb;background:#fff">Faint</p>');
        }"""
    )
    passed = set(page.evaluate("window.__axePassed"))
    assert {"color-contrast", "label", "html-has-lang", "document-title"} <= passed, passed
    found = {v["id"] for v in axe_violations(page, "sign in (broken on purpose)")}
    assert {"image-alt", "label", "color-contrast"} <= found, found
    CHECKED.pop("sign in (broken on purpose)")
    CHECKED.pop("sign in (as served)")


def test_the_confirmations_and_refused_removals_have_no_violation(app, axe_context):
    """Pages added for issue 14: the confirmation steps before removing access
    and revoking a link, a removal the platform refused, and a language chosen
    on the link."""
    from helpers_requests import add_grant, make_request

    from portal.models import AgencyConnection, Grant
    from portal.services import offboarding
    from portal.services.requests import request_url

    agency, owner = connected_agency()
    access_request, token = make_request(agency, owner, locale="")
    held = add_grant(access_request, 0, asset_name="Blue Harbor ads")
    add_grant(access_request, 1, asset_name="Blue Harbor profile")
    connection = db.session.execute(
        db.select(AgencyConnection).where(
            AgencyConnection.agency_id == agency.id, AgencyConnection.platform == "pinterest"
        )
    ).scalar_one()
    connection.status = "expired"
    db.session.commit()
    from portal import audit

    assert offboarding.remove_all([held.id], audit.SYSTEM) == (0, 1, False)
    assert db.session.get(Grant, held.id).status == "verified"

    page = axe_context().new_page()
    audit_ = Audit(page)
    AgencyBrowser(page).sign_in(owner.email, PASSWORD)
    for name, path in (
        ("client, a removal refused", f"/app/clients/{access_request.client_id}"),
        ("remove all: confirmation", f"/app/clients/{access_request.client_id}/offboard"),
        ("request, a removal refused", f"/app/requests/{access_request.id}"),
        ("revoke: confirmation", f"/app/requests/{access_request.id}/revoke"),
    ):
        response = page.goto(path)
        assert response.status == 200, (path, response.status)
        audit_.check(f"agency: {name}")
    expect(page.get_by_role("button", name="Revoke the link")).to_be_visible()

    # The client, on a phone, after choosing French on the link.
    phone = axe_context(width=360).new_page()
    phone.goto(request_url(access_request, token))
    phone.get_by_label("Language").select_option("fr")
    expect(phone.locator("html")).to_have_attribute("lang", "fr")
    Audit(phone).check("client: welcome, language switched")
    audit_.assert_clean(expected_pages=4)
    assert not CHECKED["client: welcome, language switched"]
