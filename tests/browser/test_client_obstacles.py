"""The client's journey for each obstacle persona of the emulated Pinterest.

What the client sees when their account cannot share yet (and what to do
about it), when Pinterest refuses for want of two-factor authentication, when
it throttles, and when it fails halfway through.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from portal.extensions import db
from portal.models import AccessRequest, Grant

from .helpers import BackgroundWorker, ClientBrowser, connected_agency, link_for, watch_console

pytestmark = pytest.mark.usefixtures("needs_redis")


@pytest.fixture
def worker(app):
    with BackgroundWorker(app) as running:
        yield running


@pytest.fixture
def client_on_link(context_factory):
    """The client's browser, on a fresh Pinterest request of a connected agency."""
    agency, owner = connected_agency()
    link = link_for(agency, owner)
    context = context_factory()
    console = watch_console(context)
    client = ClientBrowser(context.new_page())
    client.open(link)
    yield client
    assert console.errors == []


@pytest.mark.parametrize(
    ("persona", "problem", "guidance"),
    [
        pytest.param(
            "Personal account",
            "Your Pinterest account is a personal account",
            "Converting is free and keeps your Pins and boards",
            id="personal",
        ),
        pytest.param(
            "No admin rights",
            # The employer's Pinterest username: businesses have no other name in the API.
            "You are not an admin of @harborcoffeeroasters_",
            "Ask an admin of @harborcoffeeroasters_",
            id="not-admin",
        ),
    ],
)
def test_an_account_that_cannot_share_is_told_what_to_do_and_cannot_grant(
    client_on_link, persona, problem, guidance
):
    client = client_on_link
    page = client.page
    client.connect()
    client.consent(persona)
    problems = page.get_by_role("alert")
    expect(problems).to_contain_text("One thing to fix first")
    expect(problems).to_contain_text(problem)
    expect(problems).to_contain_text(guidance)
    expect(problems.get_by_role("link", name="How to do it on Pinterest")).to_have_attribute(
        "target", "_blank"
    )
    # The grant is blocked: no picker, no Grant button, only Retry (checks again).
    expect(page.get_by_role("button", name="Grant access")).to_have_count(0)
    expect(page.get_by_role("checkbox")).to_have_count(0)
    page.get_by_role("button", name="Retry").click()
    expect(page.get_by_role("alert")).to_contain_text(problem)
    expect(page.get_by_role("button", name="Grant access")).to_have_count(0)
    assert db.session.query(Grant).count() == 0


def test_two_factor_authentication_off_is_explained_when_pinterest_refuses(client_on_link, worker):
    """Pinterest's account says nothing of two-factor authentication: its refusal
    to accept the agency's invitation does, at the grant step."""
    client = client_on_link
    page = client.page
    client.connect()
    client.consent("Two-factor authentication off")
    expect(page.get_by_role("alert")).to_have_count(0)
    client.grant()
    assert client.wait_until_settled() == ["failed", "failed"]
    failed = page.locator(".grant-row:has(.badge.failed)").first
    expect(failed).to_contain_text("Two-factor authentication is off on your Pinterest account")
    expect(failed).to_contain_text("Turn it on in Settings → Security")
    expect(failed.get_by_role("button", name="Retry")).to_be_visible()


def test_a_throttled_account_still_gets_through_by_waiting(client_on_link, worker):
    client = client_on_link
    page = client.page
    client.connect()
    client.consent("Rate limited")
    # Pinterest said "wait 2 seconds" along the way: the page waited rather than failing.
    expect(page.get_by_role("button", name="Grant access")).to_be_visible()
    client.grant()
    assert client.wait_until_settled() == ["verified", "verified"]
    expect(page.get_by_role("alert")).to_have_count(0)


def test_a_failure_mid_grant_shows_the_fix_and_retry_then_succeeds(client_on_link, worker):
    client = client_on_link
    page = client.page
    client.connect()
    client.consent("Fails mid-grant")
    client.grant()
    # Pinterest failed (500) on the first asset, once; the second went through.
    assert client.wait_until_settled() == ["failed", "verified"]
    failed = page.locator(".grant-row:has(.badge.failed)")
    expect(failed).to_contain_text("What to do:")
    expect(failed).to_contain_text("You will sign in to Pinterest again.")
    [failed_grant] = db.session.query(Grant).filter_by(status="failed").all()
    assert failed_grant.error and failed_grant.fix

    # Retry: sign in again as the same person, and grant what failed.
    failed.get_by_role("button", name="Retry").click()
    expect(page.get_by_role("button", name="Allow")).to_be_visible()
    client.consent("Fails mid-grant")
    expect(page.get_by_role("checkbox", checked=True)).to_have_count(2)
    client.grant()
    assert client.wait_until_settled() == ["verified", "verified"]
    db.session.expire_all()
    assert db.session.get(Grant, failed_grant.id).status == "verified"
    assert db.session.get(AccessRequest, failed_grant.access_request_id).status == "completed"
