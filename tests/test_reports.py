"""The PDF confirmation report: content, language, branding, verification code,
and a renderer that cannot be made to read local files or call out."""

from __future__ import annotations

import gc
import io
import os
import socket
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import segno
from conftest import make_agency
from flask_babel import force_locale, format_date, format_time
from flask_babel import gettext as _
from PIL import Image
from pypdf import PdfReader
from sqlalchemy import text

from portal import audit
from portal.crypto import encrypt, new_token, token_hash
from portal.extensions import db
from portal.models import AccessRequest, AuditEvent, Client, Grant
from portal.reports import (
    FetchRefused,
    ReportTimeout,
    ReportURLFetcher,
    allowed_dirs,
    css_string,
    find_by_verification_code,
    render_report,
    render_report_html,
    report_filename,
    verification_code,
)
from portal.reports.branding import logo_data_uri, safe_color
from portal.reports.renderer import ReportError, render_pdf

T0 = datetime(2025, 3, 12, 9, 30, tzinfo=UTC)
GRANTED = datetime(2025, 3, 14, 10, 5, tzinfo=UTC)
VERIFIED = datetime(2025, 3, 14, 10, 7, tzinfo=UTC)
COMPLETED = datetime(2025, 3, 14, 10, 9, tzinfo=UTC)
PASSWD_MARKER = "root:x:0:0"


def tiny_png() -> bytes:
    out = io.BytesIO()
    segno.make("Acme", micro=False).save(out, kind="png", scale=3, dark="#0e7490")
    return out.getvalue()


def pdf_text(pdf: bytes) -> str:
    """All the PDF's text with whitespace runs folded to one space."""
    reader = PdfReader(io.BytesIO(pdf))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


def add_grant(
    request: AccessRequest,
    index: int,
    asset_type: str,
    asset_id: str,
    name: str,
    permissions: list[str],
    status: str,
    **fields,
) -> Grant:
    grant = Grant(
        agency_id=request.agency_id,
        access_request_id=request.id,
        item_index=index,
        platform="pinterest",
        asset_type=asset_type,
        asset_id=asset_id,
        asset_name=name,
        permissions=permissions,
        status=status,
        **fields,
    )
    db.session.add(grant)
    db.session.flush()
    return grant


def build_request(
    agency,
    *,
    locale: str = "en",
    client_name: str = "Bloom Bakery",
    asset_name: str = "Bloom main ads",
) -> AccessRequest:
    """A completed request: two verified grants, one manual step waiting, one failure."""
    agency.display_name = "Acme Growth"
    agency.primary_color = "#0e7490"
    agency.logo = tiny_png()
    agency.logo_mimetype = "image/png"
    agency.support_email = "help@acme.test"
    client = Client(agency_id=agency.id, name=client_name, email="owner@bloom.test", locale=locale)
    db.session.add(client)
    db.session.flush()
    token = new_token()
    request = AccessRequest(
        agency_id=agency.id,
        client_id=client.id,
        items=[
            {
                "platform": "pinterest",
                "asset_type": "AD_ACCOUNT",
                "permissions": ["CAMPAIGN_MANAGER", "ANALYST"],
            },
            {
                "platform": "pinterest",
                "asset_type": "PROFILE",
                "permissions": ["PROFILE_PUBLISHER"],
            },
            {"platform": "pinterest", "asset_type": "CATALOG", "permissions": ["CATALOGS_VIEWER"]},
            {"platform": "pinterest", "asset_type": "AD_ACCOUNT", "permissions": ["FINANCE_VIEW"]},
        ],
        locale=locale,
        token_hash=token_hash(token),
        token_encrypted=encrypt(token),
        status="completed",
        created_at=T0,
        sent_at=T0,
        opened_at=T0 + timedelta(days=1),
        completed_at=COMPLETED,
        expires_at=T0 + timedelta(days=14),
    )
    db.session.add(request)
    db.session.flush()
    client_actor = audit.Actor("client", str(client.id), client.email)
    audit.record(
        "access_request.created",
        agency_id=agency.id,
        actor=audit.SYSTEM,
        subject=("access_request", request.id),
    )
    audit.record(
        "access_request.opened",
        agency_id=agency.id,
        actor=client_actor,
        subject=("access_request", request.id),
    )
    ads = add_grant(
        request,
        0,
        "AD_ACCOUNT",
        "549755885175",
        asset_name,
        ["CAMPAIGN_MANAGER", "ANALYST"],
        "verified",
        granted_at=GRANTED,
        verified_at=VERIFIED,
    )
    profile = add_grant(
        request,
        1,
        "PROFILE",
        "bloombakery",
        "Bloom Bakery profile",
        ["PROFILE_PUBLISHER"],
        "verified",
        granted_at=GRANTED + timedelta(minutes=1),
        verified_at=VERIFIED + timedelta(minutes=1),
    )
    catalog = add_grant(
        request,
        2,
        "CATALOG",
        "cat-3391",
        "Bloom product feed",
        ["CATALOGS_VIEWER"],
        "needs_action",
        manual=True,
    )
    failed = add_grant(
        request,
        3,
        "AD_ACCOUNT",
        "549755885199",
        "Bloom export ads",
        ["FINANCE_VIEW"],
        "failed",
        error="Pinterest refused the invitation: two-factor authentication is off.",
        fix="Turn on two-factor authentication, then send the invitation again.",
    )
    for grant in (ads, profile):
        audit.record(
            "grant.granted", agency_id=agency.id, actor=client_actor, subject=("grant", grant.id)
        )
        audit.record(
            "grant.verifying", agency_id=agency.id, actor=audit.SYSTEM, subject=("grant", grant.id)
        )
        audit.record(
            "grant.verified", agency_id=agency.id, actor=audit.SYSTEM, subject=("grant", grant.id)
        )
    audit.record(
        "grant.needs_action", agency_id=agency.id, actor=client_actor, subject=("grant", catalog.id)
    )
    audit.record(
        "grant.failed", agency_id=agency.id, actor=client_actor, subject=("grant", failed.id)
    )
    audit.record(
        "access_request.completed",
        agency_id=agency.id,
        actor=audit.SYSTEM,
        subject=("access_request", request.id),
    )
    db.session.commit()
    return request


@pytest.fixture
def access_request(agency):
    return build_request(agency)


@pytest.fixture
def no_network(monkeypatch):
    """Fail loudly if anything opens a connection while the test runs."""
    attempts: list[object] = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    return attempts


@pytest.fixture
def fetch_log(monkeypatch):
    """Every URL the renderer asked for, and whether it was served."""
    log: list[tuple[str, bool]] = []
    original = ReportURLFetcher.fetch

    def spy(self, url, headers=None):
        try:
            response = original(self, url, headers)
        except FetchRefused:
            log.append((url, False))
            raise
        log.append((url, True))
        return response

    monkeypatch.setattr(ReportURLFetcher, "fetch", spy)
    return log


# ------------------------------------------------------------------ content


def test_it_lists_every_asset_permission_and_date_in_english(access_request):
    pdf = render_report(access_request.id)
    content = pdf_text(pdf)

    for name, asset_id in (
        ("Bloom main ads", "549755885175"),
        ("Bloom Bakery profile", "bloombakery"),
        ("Bloom product feed", "cat-3391"),
        ("Bloom export ads", "549755885199"),
    ):
        assert name in content
        assert asset_id in content
    for platform_word, label in (
        ("CAMPAIGN_MANAGER", "Campaign manager"),
        ("ANALYST", "Analyst"),
        ("PROFILE_PUBLISHER", "Profile publisher"),
        ("CATALOGS_VIEWER", "Catalogs viewer"),
        ("FINANCE_VIEW", "Finance viewer"),
    ):
        # The platform's label, its code small beside it.
        assert f"{label} {platform_word}" in content
    # The plain-language explanations, once each.
    assert "Create, edit and optimise campaigns, and see their reports." in content
    assert "See catalogs and feed diagnostics." in content
    # Granted and verified, to the minute, in English.
    assert "Mar 14, 2025, 10:05 AM" in content
    assert "Mar 14, 2025, 10:07 AM" in content
    assert "Mar 14, 2025, 10:08 AM" in content
    # The request's own dates, to the second.
    assert "Created Mar 12, 2025, 9:30:00 AM" in content
    assert "Completed Mar 14, 2025, 10:09:00 AM" in content
    assert "Link expiry Mar 26, 2025, 9:30:00 AM" in content
    for status in ("Verified", "Action needed", "Failed"):
        assert status in content
    assert "Acme Growth" in content and "Bloom Bakery" in content
    assert "help@acme.test" in content and "owner@bloom.test" in content


def test_it_explains_what_failed_and_what_stayed_manual(access_request):
    content = pdf_text(render_report(access_request.id))

    assert "two-factor authentication is off." in content
    assert "Turn on two-factor authentication, then send the invitation again." in content
    assert "What stayed manual" in content
    manual = content.split("What stayed manual", 1)[1].split("Billing", 1)[0]
    assert "Bloom product feed" in manual
    assert "Action needed" in manual
    assert "Waiting for Bloom Bakery to follow the steps" in manual


def test_it_states_that_billing_stays_with_the_client(access_request):
    content = pdf_text(render_report(access_request.id))

    assert (
        "Billing stays with Bloom Bakery. Acme Growth cannot change payment methods or "
        "billing settings." in content
    )
    # FINANCE_VIEW failed, so the agency was given no view of invoices either.
    assert "can see invoices and spend" not in content


def test_it_says_when_the_client_handed_over_billing(access_request):
    grant = next(g for g in access_request.grants if g.permissions == ["FINANCE_VIEW"])
    grant.permissions = ["FINANCE_MANAGER"]
    grant.status = "verified"
    grant.granted_at, grant.verified_at = GRANTED, VERIFIED
    db.session.commit()

    content = pdf_text(render_report(access_request.id))

    assert "Billing stays with" not in content
    assert (
        "Bloom Bakery remains the owner of billing, but gave Acme Growth permission to manage "
        "billing and payment methods on: Bloom export ads (Pinterest)." in content
    )


def test_it_lists_the_audit_trail_with_the_chain_anchor(access_request):
    head = audit.current_anchor(access_request.agency_id)
    content = pdf_text(render_report(access_request.id))
    mine = db.or_(
        db.and_(
            AuditEvent.subject_type == "access_request",
            AuditEvent.subject_id == str(access_request.id),
        ),
        db.and_(
            AuditEvent.subject_type == "grant",
            AuditEvent.subject_id.in_([str(g.id) for g in access_request.grants]),
        ),
    )
    first, last = (
        db.session.execute(
            db.select(AuditEvent)
            .where(AuditEvent.agency_id == access_request.agency_id, mine)
            .order_by(AuditEvent.seq.asc() if asc else AuditEvent.seq.desc())
            .limit(1)
        ).scalar_one()
        for asc in (True, False)
    )

    assert "Request created · Latchkey (automatic)" in content
    assert "Client opened the link · Client: owner@bloom.test" in content
    assert "Access granted on the platform · Bloom main ads · Client: owner@bloom.test" in content
    assert "Access verified from the agency's side · Bloom Bakery profile" in content
    assert "Grant failed · Bloom export ads" in content
    assert "Request completed" in content
    # A check starting is routine: counted, not listed (its result is).
    assert "Verification started ·" not in content
    assert (
        "Not listed: 2 “Verification started” entries; each check's result is listed."
        in " ".join(content.split())
    )
    # The whole chain's length and head hash (`latchkey audit verify --anchor`);
    # the hash may wrap onto a second line, so compare without spaces.
    assert f"Anchor:{head.length}:{head.head}" in content.replace(" ", "")
    assert (
        f"intact when this document was issued (entries #{first.seq} to #{last.seq} checked)"
        in " ".join(content.split())
    )
    # Another agency's events never appear.
    assert "agency.created" not in content


def test_it_reports_a_broken_audit_chain(access_request):
    db.session.execute(
        text("UPDATE audit_event SET action = 'grant.removed' WHERE seq = 3 AND agency_id = :a"),
        {"a": access_request.agency_id},
    )
    db.session.commit()

    content = pdf_text(render_report(access_request.id))

    assert "NOT intact when this document was issued" in content
    assert "event content was changed" in content


def test_it_is_in_the_clients_language(agency):
    request = build_request(agency, locale="fr")

    html = render_report_html(request.id)
    pdf = render_report(request.id)
    content = pdf_text(pdf)

    assert '<html lang="fr">' in html
    assert PdfReader(io.BytesIO(pdf)).trailer["/Root"]["/Lang"] == "fr"
    with force_locale("fr"):
        french_day = format_date(GRANTED, "medium")
        french_time = format_time(GRANTED, "short")
        title = _("Access confirmation")
        verified = _("Verified")
    assert (french_day, french_time) == ("14 mars 2025", "10:05")
    assert french_day in content and french_time in content
    assert "Mar 14, 2025" not in content and "10:05 AM" not in content
    # Whatever the French catalogue says today, the report says the same.
    assert title in content
    assert verified in content


def test_it_falls_back_to_a_supported_language(agency):
    request = build_request(agency, locale="xx")
    agency.default_locale = "en"
    db.session.commit()

    assert '<html lang="en">' in render_report_html(request.id)


# ------------------------------------------------------------------ branding


def test_it_embeds_the_agency_logo_and_colour(access_request):
    pdf = render_report(access_request.id)
    first_page = PdfReader(io.BytesIO(pdf)).pages[0]
    expected = Image.open(io.BytesIO(access_request.agency.logo)).size

    sizes = [image.image.size for image in first_page.images]
    assert expected in sizes
    html = render_report_html(access_request.id)
    assert ".brand-bar { background: #0e7490; }" in html


def test_it_ignores_a_brand_colour_that_is_not_a_colour():
    assert safe_color("#0E7490") == "#0e7490"
    assert safe_color("#abc") == "#aabbcc"
    assert safe_color("red;}") == "#4338ca"
    assert safe_color("url(x)") == "#4338ca"
    assert safe_color(None) == "#4338ca"


def test_it_only_embeds_real_images_as_the_logo():
    png = tiny_png()
    assert logo_data_uri(png, "image/gif").startswith("data:image/png;base64,")
    assert logo_data_uri(b"<html><script>x</script></html>", "image/png") is None
    assert logo_data_uri(b"", "image/png") is None
    svg = (
        b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
        b'<rect width="10" height="10"/></svg>'
    )
    assert logo_data_uri(svg, "image/svg+xml").startswith("data:image/svg+xml;base64,")
    xxe = (
        b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<svg xmlns="http://www.w3.org/2000/svg"><text>&x;</text></svg>'
    )
    assert logo_data_uri(xxe, "image/svg+xml") is None


# ------------------------------------------------------------------ security


def test_it_refuses_local_files_and_any_host():
    fetcher = ReportURLFetcher(allowed_dirs())
    fonts = allowed_dirs()[0]

    for url in (
        "file:///etc/passwd",
        "FILE:///etc/passwd",
        f"file://{fonts}/../../../../etc/passwd",
        f"file://{fonts}/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "file://evil.example/share/x.png",
        "http://127.0.0.1:1/x",
        "https://example.com/logo.png",
        "ftp://example.com/x",
        "gopher://127.0.0.1:70/x",
        "//127.0.0.1/x",
        "x.png",
    ):
        with pytest.raises(FetchRefused):
            fetcher.fetch(url)
    assert len(fetcher.refused) == 11


def test_it_refuses_a_symlink_out_of_an_allowed_folder(tmp_path):
    allowed = tmp_path / "fonts"
    allowed.mkdir()
    (allowed / "passwd.ttf").symlink_to("/etc/passwd")
    fetcher = ReportURLFetcher([allowed])

    with pytest.raises(FetchRefused):
        fetcher.fetch((allowed / "passwd.ttf").as_uri())


def test_it_serves_bundled_fonts_and_data_uris():
    fetcher = ReportURLFetcher(allowed_dirs())
    font = allowed_dirs()[0] / "DejaVuSans.ttf"

    response = fetcher.fetch(font.as_uri())
    assert response.read(4) == b"\x00\x01\x00\x00"
    assert fetcher.fetch("data:text/plain;base64,aGVsbG8=").read() == b"hello"
    assert fetcher.fetch("data:,a%20b").read() == b"a b"
    assert os.path.exists(allowed_dirs()[0] / "LICENSE-DejaVu.txt")


def test_it_never_fetches_what_hostile_names_point_to(agency, no_network, fetch_log):
    agency.name = 'Evil <img src="file:///etc/passwd"> Agency'
    db.session.commit()
    hostile_asset = (
        '<link rel="stylesheet" href="http://127.0.0.1:1/evil.css">'
        '<img src="file:///etc/passwd"><img src="http://127.0.0.1:1/x.png">'
    )
    request = build_request(
        agency,
        client_name='</style><style>@import url("http://127.0.0.1:1/a.css");</style>"; }',
        asset_name=hostile_asset,
    )
    request.agency.display_name = None
    # An SVG logo that points at a local file and at a host.
    request.agency.logo = (
        b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
        b'width="40" height="20"><rect width="40" height="20" fill="#0e7490"/>'
        b'<image href="file:///etc/passwd" width="10" height="10"/>'
        b'<image xlink:href="http://127.0.0.1:1/y.png" width="10" height="10"/>'
        b'<style>@import url("http://127.0.0.1:1/z.css");</style></svg>'
    )
    request.agency.logo_mimetype = "image/svg+xml"
    db.session.commit()

    content = pdf_text(render_report(request.id))

    assert no_network == []
    assert PASSWD_MARKER not in content
    # The hostile text is shown as text, never interpreted.
    assert '<img src="file:///etc/passwd">' in content
    assert 'Evil <img src="file:///etc/passwd"> Agency' in content
    served = [url for url, ok in fetch_log if ok]
    refused = [url for url, ok in fetch_log if not ok]
    assert all(url.startswith("data:") or "/static/fonts/" in url for url in served)
    assert any("etc/passwd" in url for url in refused)
    assert any("127.0.0.1:1/y.png" in url for url in refused)
    # The hostile names never reached the fetcher as URLs.
    assert not any("evil.css" in url or "x.png" in url or "a.css" in url for url, _ in fetch_log)


def test_it_writes_css_strings_that_cannot_break_out():
    written = str(css_string('A"; } body { background: url(http://x) } </style><b>'))

    assert written.startswith('"') and written.endswith('"')
    inner = written[1:-1]
    assert not set(inner) & set("\"'{};:()<>/ ")
    assert "\\000022" in inner  # the quote, escaped


def test_it_stops_a_render_that_runs_too_long():
    heavy = "<p>" + "word " * 300_000 + "</p>"
    started = time.monotonic()

    with pytest.raises(ReportTimeout):
        render_pdf(
            heavy,
            stylesheet_path=allowed_dirs()[1] / "confirmation.css",
            font_dir=allowed_dirs()[0],
            allowed_dirs=allowed_dirs(),
            timeout=0.3,
        )

    assert time.monotonic() - started < 2
    deadline = time.monotonic() + 10
    while any(t.name.startswith("latchkey-pdf") for t in threading.enumerate()):
        assert time.monotonic() < deadline, "the interrupted render thread kept running"
        time.sleep(0.05)


# ------------------------------------------------------------- verification


def test_it_prints_a_verification_code_that_an_admin_can_look_up(access_request):
    code = verification_code(access_request)
    content = pdf_text(render_report(access_request.id))

    assert code.startswith("LK-") and len(code) == 12
    assert code in content
    assert f"/app/verify/{code}" in content.replace(" ", "")
    assert find_by_verification_code(access_request.agency_id, code).id == access_request.id
    typed = code.lower().replace("-", " ").replace("0", "o")
    assert find_by_verification_code(access_request.agency_id, typed).id == access_request.id


def test_it_scopes_verification_codes_to_the_agency(access_request):
    other, _owner = make_agency("Other Agency", "owner@other.test")
    code = verification_code(access_request)

    assert find_by_verification_code(other.id, code) is None
    assert find_by_verification_code(access_request.agency_id, "LK-0000-0000") is None
    assert find_by_verification_code(access_request.agency_id, "not a code") is None


def test_it_issues_a_new_code_when_the_request_is_completed_again(access_request):
    code = verification_code(access_request)
    access_request.completed_at = COMPLETED + timedelta(days=1)
    db.session.commit()

    assert verification_code(access_request) != code
    assert find_by_verification_code(access_request.agency_id, code) is None


def test_it_names_the_file_after_the_agency_client_and_date(access_request):
    assert report_filename(access_request) == (
        f"{access_request.agency.slug}-access-confirmation-bloom-bakery-"
        f"{access_request.id}-2025-03-14.pdf"
    )


def test_it_refuses_an_unknown_request():
    with pytest.raises(LookupError):
        render_report(987654)


def test_it_renders_a_request_with_no_asset_chosen_yet(agency):
    request = build_request(agency)
    for grant in list(request.grants):
        db.session.delete(grant)
    request.status, request.completed_at = "opened", None
    db.session.commit()

    content = pdf_text(render_report(request.id))

    assert "No asset was chosen for this request yet." in content
    assert "The request is not finished: this is its state on the date of issue." in content
    assert "0 of 0 assets verified" in content


def test_it_says_how_many_older_audit_entries_were_left_out(access_request, monkeypatch):
    monkeypatch.setattr("portal.reports.content.MAX_AUDIT_EVENTS", 3)

    html = render_report_html(access_request.id)

    assert "6 earlier entries for this request are in the audit log" in html
    assert "Request completed" in html
    assert "Request created" not in html


def test_a_forked_child_renders_with_the_parents_kit_and_leaves_its_fonts_alone(
    app, access_request
):
    from portal.reports import allowed_dirs, font_dir, prepare_renderer, renderer, stylesheet_path

    prepare_renderer()
    assert renderer.pool_size() >= 1
    folders = [kit.font_config._folder for kit in renderer._pool]
    assert all(folder is not None and folder.exists() for folder in folders)
    html = render_report_html(access_request.id)

    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: what an RQ work horse does with a report job
        code = 1
        try:
            inherited = renderer.pool_size()
            detached = all(kit.font_config._folder is None for kit in renderer._pool)
            kits = list(renderer._pool)
            pdf = renderer.render_pdf(
                html,
                stylesheet_path=stylesheet_path(),
                font_dir=font_dir(),
                allowed_dirs=allowed_dirs(),
                timeout=20,
            )
            reused = renderer.pool_size() == inherited and list(renderer._pool) == kits
            os.write(write, f"{inherited} {detached} {reused} {pdf[:5]!r}".encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    _pid, status = os.waitpid(pid, 0)
    answer = os.read(read, 200).decode()
    os.close(read)

    assert os.waitstatus_to_exitcode(status) == 0
    assert answer == f"{len(folders)} True True b'%PDF-'"
    # The parent's font folders outlive the child and its copies of the kits.
    assert all(folder.exists() for folder in folders)


# ------------------------------------------------------------- garbage collection


_RENDER_PATHS: dict = {}


class _RecordingHTML:
    """Stands in for the renderer's ReportHTML: notes whether the collector ran; can
    stall or fail."""

    seen: list[bool] = []
    release = threading.Event()
    fail = False

    def __init__(self, string, url_fetcher):
        self.html = string

    def write_pdf(self, stylesheets, font_config):
        type(self).seen.append(gc.isenabled())
        if self.html == "stall":
            type(self).release.wait(10)
        if type(self).fail:
            raise ValueError("broken document")
        return b"%PDF-fake"


def _render(html: str, timeout: float = 20) -> bytes:
    return render_pdf(html, **_RENDER_PATHS, timeout=timeout)


def _render_in_thread(html: str) -> threading.Thread:
    """Start a render in another thread; return once it is inside WeasyPrint."""
    thread = threading.Thread(target=_render, args=(html,))
    thread.start()
    deadline = time.monotonic() + 10
    while not _RecordingHTML.seen:
        assert time.monotonic() < deadline, "the render did not start"
        time.sleep(0.01)
    return thread


@pytest.fixture
def recording_html(monkeypatch):
    folders = allowed_dirs()  # needs the app; the render threads have none
    _RENDER_PATHS.update(
        stylesheet_path=folders[1] / "confirmation.css", font_dir=folders[0], allowed_dirs=folders
    )
    monkeypatch.setattr("portal.reports.renderer.ReportHTML", _RecordingHTML)
    _RecordingHTML.seen = []
    _RecordingHTML.release = threading.Event()
    _RecordingHTML.fail = False
    assert gc.isenabled()
    yield _RecordingHTML
    _RecordingHTML.release.set()
    gc.enable()


def test_the_garbage_collector_pauses_while_a_report_renders(recording_html):
    assert _render("<p>one</p>") == b"%PDF-fake"
    assert recording_html.seen == [False]
    assert gc.isenabled()

    recording_html.fail = True
    with pytest.raises(ReportError):
        _render("<p>two</p>")
    assert gc.isenabled()

    recording_html.fail = False
    with pytest.raises(ReportTimeout):
        _render("stall", timeout=0.2)
    assert gc.isenabled()  # the abandoned render does not hold the pause


def test_the_collector_resumes_when_the_last_of_two_renders_ends(recording_html):
    stalled = _render_in_thread("stall")

    _render("<p>quick</p>")
    assert not gc.isenabled()  # the first render still runs

    recording_html.release.set()
    stalled.join(10)
    assert gc.isenabled()


def test_a_collector_switched_off_before_stays_off(recording_html):
    gc.disable()
    _render("<p>one</p>")
    assert not gc.isenabled()


def test_a_child_forked_during_a_render_has_the_collector_on(recording_html):
    from portal.reports import renderer

    stalled = _render_in_thread("stall")
    assert not gc.isenabled()

    pid = os.fork()
    if pid == 0:
        ok = gc.isenabled() and renderer._gc_pauses == 0
        os._exit(0 if ok else 1)
    _pid, status = os.waitpid(pid, 0)
    recording_html.release.set()
    stalled.join(10)

    assert os.waitstatus_to_exitcode(status) == 0
    assert gc.isenabled()


def test_reports_use_weasyprints_stylesheet_less_the_unused_pseudo_elements():
    import weasyprint

    from portal.reports import renderer

    # WeasyPrint still asks documents for their user-agent stylesheets this way.
    assert "_ua_stylesheets" in vars(weasyprint.HTML)
    (sheet,) = renderer.ReportHTML(string="<p>x</p>")._ua_stylesheets()
    assert sheet is renderer._lean_ua()

    source = renderer._lean_ua_source()
    for rule in ("::marker", "::footnote-call", "::footnote-marker", "::note-call"):
        assert rule not in source
    assert "h1 { " in source and "table { " in source  # the rest is kept
