"""The agency area in Chromium, where it showed its insides (issue 14):

- the template editor's "What to ask for" shows no Python object;
- a removal a platform refused shows as refused, with the reason, not "Verified";
  "Remove access to all" and Revoke ask for confirmation first;
- the timeline and the audit log say what happened in people's words and link
  what it was about; the audit page has one "Check a PDF's verification code";
- when the request turns Completed by itself, its stale buttons go at once;
- the PDF confirmation: labels with their codes small beside them, a long asset
  name that stays in its column, and an audit trail in people's words.
"""

from __future__ import annotations

import io
import re

import pytest
from conftest import PASSWORD
from helpers_requests import add_grant, make_request
from playwright.sync_api import Page, expect

from portal import audit
from portal.extensions import db
from portal.models import AccessRequest, AgencyConnection, Grant

from .helpers import AgencyBrowser, BackgroundWorker, connected_agency, watch_console

pytestmark = pytest.mark.usefixtures("needs_redis")


def _signed_in(context_factory, owner) -> tuple[Page, object]:
    context = context_factory()
    console = watch_console(context)
    agency_side = AgencyBrowser(context.new_page())
    agency_side.sign_in(owner.email, PASSWORD)
    return agency_side.page, console


# -------------------------------------------------------------- template editor


def test_the_template_editor_shows_no_python_object_under_what_to_ask_for(context_factory):
    agency, owner = connected_agency()
    page, console = _signed_in(context_factory, owner)

    page.goto("/app/templates/new")
    items = page.get_by_role("group", name="What to ask for")
    expect(items).to_be_visible()
    expect(page.locator("body")).not_to_contain_text("built-in method")
    expect(items.get_by_role("alert")).to_have_count(0)
    expect(items).not_to_have_attribute("aria-describedby", "items-error")

    # Saved without anything to ask for: the real error, where it belongs.
    page.get_by_label("Name", exact=True).fill("Empty")
    page.get_by_role("button", name="Save the template").click()
    expect(items.get_by_role("alert")).to_be_visible()
    expect(items).to_have_attribute("aria-describedby", "items-error")
    expect(page.locator("body")).not_to_contain_text("built-in method")

    # The editor of a saved template too.
    from helpers_requests import PINTEREST_ITEMS

    from portal.services.templates import save_template

    template = save_template(agency.id, "Ads", None, PINTEREST_ITEMS, [], None)
    page.goto(f"/app/templates/{template.id}/edit")
    expect(page.get_by_role("group", name="What to ask for")).to_be_visible()
    expect(page.locator("body")).not_to_contain_text("built-in method")
    # The browser logs the 422 answer itself; nothing else may go wrong.
    assert [text for _url, text in console.errors if "status of 422" not in text] == []


# -------------------------------------------------------------------- removals


def test_a_refused_removal_shows_as_refused_with_why_after_a_confirmation(app, context_factory):
    agency, owner = connected_agency()
    access_request, _token = make_request(agency, owner)
    ads = add_grant(access_request, 0, asset_name="Blue Harbor ads")
    profile = add_grant(access_request, 1, asset_name="Blue Harbor profile")
    # The agency's Pinterest connection stopped working: Pinterest refuses the removals.
    connection = db.session.execute(
        db.select(AgencyConnection).where(
            AgencyConnection.agency_id == agency.id, AgencyConnection.platform == "pinterest"
        )
    ).scalar_one()
    connection.status = "expired"
    db.session.commit()
    page, console = _signed_in(context_factory, owner)

    page.goto(f"/app/clients/{access_request.client_id}")
    remove_all = page.get_by_role("link", name=re.compile("Remove access to all 2 assets"))
    remove_all.click()
    # A confirmation first, saying what goes; Cancel changes nothing.
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Remove your access to 2 assets of Blue Harbor?"
    )
    expect(page.get_by_role("main")).to_contain_text("Blue Harbor ads")
    page.get_by_role("link", name="Cancel").click()
    expect(page).to_have_url(re.compile(rf"/app/clients/{access_request.client_id}$"))

    page.get_by_role("link", name=re.compile("Remove access to all 2 assets")).click()
    with BackgroundWorker(app):
        page.get_by_role("button", name="Remove access to 2 assets").click()
        expect(page.get_by_text("Removing your access to 2 assets")).to_be_visible()

        def refused_twice():
            db.session.expire_all()
            from portal.models import AuditEvent

            return db.session.query(AuditEvent).filter_by(action="grant.revoke_failed").count() == 2

        from .helpers import wait_for

        wait_for(refused_twice)
    page.reload()
    for grant in (ads, profile):
        row = page.locator(f"#held-grant-{grant.id}")
        expect(row.locator(".badge")).to_have_text("Removal refused")
        expect(row).not_to_contain_text("Verified")
        expect(row).to_contain_text("Pinterest refused to remove it on")
        expect(row).to_contain_text("What to do:")
        expect(row.get_by_role("link", name=re.compile("Remove access…"))).to_be_visible()
    # The request's page says so too.
    page.goto(f"/app/requests/{access_request.id}")
    expect(page.locator("#request-status .badge.failed")).to_have_count(2)
    expect(page.locator("#request-status")).to_contain_text("Removal refused")
    db.session.expire_all()
    assert {g.status for g in db.session.query(Grant)} == {"verified"}
    assert console.errors == []


def test_revoke_asks_for_confirmation_first(context_factory):
    agency, owner = connected_agency()
    access_request, _token = make_request(agency, owner)
    page, console = _signed_in(context_factory, owner)
    page.goto(f"/app/requests/{access_request.id}")

    page.get_by_role("link", name="Revoke…").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Revoke the link sent to Blue Harbor?"
    )
    page.get_by_role("link", name="Cancel").click()
    db.session.expire_all()
    assert db.session.get(AccessRequest, access_request.id).status == "sent"
    expect(page.get_by_label("Link for the client")).to_be_visible()

    page.get_by_role("link", name="Revoke…").click()
    page.get_by_role("button", name="Revoke the link").click()
    expect(page.get_by_text("The request is revoked: its link no longer works.")).to_be_visible()
    db.session.expire_all()
    assert db.session.get(AccessRequest, access_request.id).status == "revoked"
    assert console.errors == []


# ---------------------------------------------------------------- people's words


def _events_of_a_finished_request(agency, owner) -> tuple[AccessRequest, Grant]:
    access_request, _token = make_request(agency, owner)
    grant = add_grant(access_request, 0, asset_name="Blue Harbor ads")
    client = audit.Actor("client", str(access_request.client_id), "marketing@blueharbor.test")
    subject = ("access_request", access_request.id)
    audit.record(
        "access_request.answered", agency_id=agency.id, actor=client, subject=subject, details={}
    )
    audit.record(
        "oauth.client_connected",
        agency_id=agency.id,
        actor=client,
        subject=subject,
        details={"platform": "pinterest"},
    )
    for who, to in (("client", "marketing@blueharbor.test"), ("agency", owner.email)):
        audit.record(
            "report.sent",
            agency_id=agency.id,
            actor=audit.SYSTEM,
            subject=subject,
            details={"to": to, "audience": who, "verification_code": "LK-2345-6789"},
        )
    db.session.commit()
    return access_request, grant


RAW_CODES = ("report.sent", "oauth.client_connected", "access_request.answered")


def test_the_timeline_and_the_audit_log_speak_peoples_words_and_link_the_object(
    context_factory,
):
    agency, owner = connected_agency()
    access_request, grant = _events_of_a_finished_request(agency, owner)
    connection_id = db.session.execute(
        db.select(AgencyConnection.id).where(
            AgencyConnection.agency_id == agency.id, AgencyConnection.platform == "pinterest"
        )
    ).scalar_one()
    audit.record(
        "connection.refreshed",
        agency_id=agency.id,
        actor=audit.SYSTEM,
        subject=("agency_connection", connection_id),
        details={"platform": "pinterest"},
    )
    audit.record(
        "grant.verified",
        agency_id=agency.id,
        actor=audit.SYSTEM,
        subject=("grant", grant.id),
        details={"access_request_id": access_request.id, "platform": "pinterest"},
    )
    db.session.commit()
    page, console = _signed_in(context_factory, owner)

    # The request's timeline: each e-mail of the PDF said to whom.
    page.goto(f"/app/requests/{access_request.id}")
    timeline = page.locator(".timeline")
    expect(timeline).to_contain_text(
        "PDF confirmation e-mailed to the client (marketing@blueharbor.test)"
    )
    expect(timeline).to_contain_text(f"PDF confirmation e-mailed to {owner.email}")
    expect(timeline).to_contain_text("The client signed in to Pinterest")
    expect(timeline).to_contain_text("The client answered the questions")
    expect(timeline).to_contain_text("Access verified from the agency's side · Ad account")
    for code in RAW_CODES:
        expect(timeline).not_to_contain_text(code)

    # The audit log: one button to check a PDF, and what each event is about.
    page.goto("/app/audit")
    expect(page.get_by_role("link", name="Check a PDF's verification code")).to_have_count(1)
    rows = page.locator("#audit-results tbody tr")
    about = page.locator("#audit-results td[data-label='About']")
    expect(rows.first).to_be_visible()
    texts = about.all_inner_texts()
    internal = [t for t in texts if re.fullmatch(r"\s*[a-z_]+ \d+\s*", t)]
    assert internal == [], internal
    expect(about.get_by_role("link", name="Pinterest connection").first).to_have_attribute(
        "href", "/app/connections"
    )
    expect(about.get_by_role("link", name="Request for Blue Harbor").first).to_have_attribute(
        "href", f"/app/requests/{access_request.id}"
    )
    grant_name = re.compile("Pinterest · Ad account · Blue Harbor ads")
    grant_link = about.get_by_role("link", name=grant_name)
    expect(grant_link.first).to_have_attribute("href", f"/app/requests/{access_request.id}")
    expect(about.get_by_role("link", name=re.compile(re.escape(owner.email))).first).to_be_visible()
    what = page.locator("#audit-results td[data-label='What']")
    expect(what.filter(has_text="PDF confirmation e-mailed to the client")).to_have_count(1)
    expect(what.filter(has_text="The client signed in to Pinterest")).to_have_count(1)
    # The filter names the events the same way.
    expect(page.get_by_label("What").locator("option[value='report.sent']")).to_have_text(
        "PDF confirmation e-mailed"
    )
    assert console.errors == []


# ------------------------------------------------------------------ stale buttons


def test_the_buttons_go_when_the_request_turns_completed_by_itself(context_factory):
    agency, owner = connected_agency()
    access_request, _token = make_request(agency, owner)
    access_request.status = "in_progress"
    # One asset being checked: the page follows closely.
    grant = add_grant(access_request, 0, "verifying", asset_name="Blue Harbor ads")
    db.session.commit()
    page, console = _signed_in(context_factory, owner)
    page.goto(f"/app/requests/{access_request.id}")
    buttons = ("Send by e-mail", "Extend", "Make a new link")
    for name in buttons:
        expect(page.get_by_role("button", name=name)).to_be_visible()
    page.evaluate("window.notReloaded = true")

    # The check succeeds and the request completes, with nobody touching the page.
    from portal.models.base import utcnow

    db.session.expire_all()
    grant = db.session.get(Grant, grant.id)
    grant.status = "verified"
    grant.verified_at = utcnow()
    access_request = db.session.get(AccessRequest, access_request.id)
    access_request.status = "completed"
    access_request.completed_at = utcnow()
    db.session.commit()

    expect(page.locator("#request-badge")).to_have_text("Completed", timeout=15_000)
    for name in buttons:
        expect(page.get_by_role("button", name=name)).to_have_count(0)
    assert page.evaluate("window.notReloaded === true")
    assert console.errors == []


# -------------------------------------------------------------------------- PDF

LONG_NAME = "BlueHarborCoffeeRoastersSpringSeasonalCampaignNorthEastRegionStores2025"


def _report_cells_overflowing(access_request_id: int) -> list[str]:
    """Laid out exactly as the PDF is (same stylesheet and fonts): the text of
    each cell of the per-asset table that reaches past its cell."""
    from weasyprint import CSS, HTML
    from weasyprint.text.fonts import FontConfiguration

    from portal.reports import font_dir, render_report_html, stylesheet_path
    from portal.reports.renderer import font_face_css

    fonts = FontConfiguration()
    css = CSS(
        string=font_face_css(font_dir()) + stylesheet_path().read_text(encoding="utf-8"),
        font_config=fonts,
    )
    document = HTML(string=render_report_html(access_request_id)).render(
        stylesheets=[css], font_config=fonts
    )
    found = []

    def walk(box, cell=None):
        if type(box).__name__ == "TableCellBox":
            cell = box
        if type(box).__name__ == "TextBox" and cell is not None:
            right = cell.content_box_x() + cell.width
            if box.position_x + box.width > right + 0.5:
                found.append(box.text)
        for child in getattr(box, "children", []):
            walk(child, cell)

    for page in document.pages:
        walk(page._page_box)
    return found


def test_the_pdf_says_labels_keeps_long_names_in_their_column_and_speaks_peoples_words(
    context_factory,
):
    from pypdf import PdfReader

    agency, owner = connected_agency()
    access_request, grant = _events_of_a_finished_request(agency, owner)
    grant.asset_name = LONG_NAME
    grant.permissions = ["CAMPAIGN_MANAGER", "ANALYST"]
    db.session.commit()
    page, console = _signed_in(context_factory, owner)

    # The agency downloads the PDF from the request's page.
    page.goto(f"/app/requests/{access_request.id}")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the PDF confirmation").click()
    pdf = download.value.path().read_bytes()
    text = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages).split())

    # The platform's label first, its code small beside it: never the code alone first.
    assert "Campaign manager CAMPAIGN_MANAGER" in text
    assert "Analyst ANALYST" in text
    assert "CAMPAIGN_MANAGER · Campaign manager" not in text
    # The audit trail in people's words.
    for code in RAW_CODES:
        assert code not in text
    for words in (
        "The client answered the questions",
        "The client signed in to Pinterest",
        "PDF confirmation e-mailed to the client",
        "PDF confirmation e-mailed to the agency",
    ):
        assert words in text, words
    # The long name is all there, and stays in its column.
    assert LONG_NAME in text.replace(" ", "")
    assert _report_cells_overflowing(access_request.id) == []
    assert console.errors == []
