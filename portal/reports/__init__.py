"""The PDF confirmation report that the agency and its client both keep.

    pdf = render_report(access_request.id)            # bytes, in an app context
    name = report_filename(access_request)            # for Content-Disposition
    code = verification_code(access_request)          # "LK-7KQ2-M9XD", printed on the PDF
    found = find_by_verification_code(agency_id, code)  # the admin lookup

The report is rendered from `templates/reports/confirmation.html` in the
client's language, branded with the agency's logo and colour. WeasyPrint reads
nothing but the bundled fonts and inline `data:` URIs (see `fetcher`), and a
render that runs past its deadline is stopped (see `renderer`). Rendering only
reads: callers that send or store the PDF record that in the audit trail.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from pathlib import Path

from flask import current_app
from flask_babel import force_locale
from markupsafe import Markup

from ..extensions import db
from ..models import AccessRequest
from . import content
from .fetcher import FetchRefused, ReportURLFetcher
from .renderer import ReportError, ReportTimeout, gc_paused, render_pdf
from .verification import (
    find_by_verification_code,
    normalise_code,
    verification_code,
    verification_url,
)

__all__ = [
    "FetchRefused",
    "ReportError",
    "ReportTimeout",
    "ReportURLFetcher",
    "allowed_dirs",
    "find_by_verification_code",
    "normalise_code",
    "prepare_renderer",
    "render_report",
    "render_report_html",
    "report_filename",
    "verification_code",
    "verification_url",
]

TEMPLATE = "reports/confirmation.html"
STYLESHEET = "reports/confirmation.css"
DEFAULT_TIMEOUT = 20.0  # seconds; override with the REPORT_RENDER_TIMEOUT config key


def font_dir() -> Path:
    return Path(current_app.static_folder, "fonts").resolve()


def stylesheet_path() -> Path:
    return Path(current_app.template_folder, STYLESHEET).resolve()


def allowed_dirs() -> tuple[Path, ...]:
    """The only folders the renderer may read from: bundled fonts and report assets."""
    return (font_dir(), stylesheet_path().parent)


def css_string(value: object) -> Markup:
    """`value` as a quoted CSS string in which every character but ASCII
    letters and digits is a hex escape, so no text can end the string, the
    rule or the <style> element it is written into."""
    text = value.unescape() if isinstance(value, Markup) else str(value)
    # Six hex digits: an escape never swallows the character after it.
    escaped = "".join(ch if ch.isascii() and ch.isalnum() else f"\\{ord(ch):06x}" for ch in text)
    return Markup(f'"{escaped}"')  # noqa: S704 (every character is escaped above)


def _page_label_css(parts: list[tuple[str, str]]) -> Markup:
    pieces = []
    for kind, text in parts:
        if kind == "page":
            pieces.append("counter(page)")
        elif kind == "pages":
            pieces.append("counter(pages)")
        else:
            pieces.append(str(css_string(text)))
    return Markup(" ".join(pieces) or '""')  # noqa: S704 (counters and escaped strings only)


_BETWEEN_TAGS = re.compile(r">\s*\n\s*<")


def squeeze(html: str) -> str:
    """Drop the template's indentation between tags (whitespace containing a
    line break): fewer text nodes for WeasyPrint to build boxes for."""
    return _BETWEEN_TAGS.sub("><", html)


def _load(access_request_id: int) -> AccessRequest:
    access_request = db.session.get(AccessRequest, access_request_id)
    if access_request is None:
        raise LookupError(f"access request {access_request_id} does not exist")
    return access_request


def render_report_html(access_request_id: int, *, now: datetime | None = None) -> str:
    """The HTML the PDF is made from, in the client's language."""
    access_request = _load(access_request_id)
    locale = content.report_locale(access_request)
    issued = now or datetime.now(UTC)
    with force_locale(locale):
        report = content.build(access_request, locale, issued)
        template = current_app.jinja_env.get_template(TEMPLATE)
        return squeeze(
            template.render(
                r=report,
                css_string=css_string,
                page_label=_page_label_css(report.page_label),
                issued_iso=issued.replace(microsecond=0).isoformat(),
            )
        )


def prepare_renderer() -> None:
    """Compile the report's stylesheet and fonts now, before the first report.

    Needs an app context. A worker calls it before forking, so each work
    horse renders with the compiled copy instead of compiling its own.
    """
    from . import renderer

    renderer.prepare(stylesheet_path(), font_dir(), allowed_dirs())


def render_report(access_request_id: int, *, timeout: float | None = None) -> bytes:
    """The confirmation report of one access request, as PDF bytes.

    Needs an app context. Raises LookupError for an unknown id, ReportTimeout
    when rendering takes longer than `timeout` seconds (default 20, or the
    REPORT_RENDER_TIMEOUT config key) and ReportError if WeasyPrint fails.
    """
    limit = timeout or float(current_app.config.get("REPORT_RENDER_TIMEOUT", DEFAULT_TIMEOUT))
    with gc_paused():  # building the HTML allocates a lot too (see renderer)
        html = render_report_html(access_request_id)
        return render_pdf(
            html,
            stylesheet_path=stylesheet_path(),
            font_dir=font_dir(),
            allowed_dirs=allowed_dirs(),
            timeout=limit,
            label=f"report for access request {access_request_id}",
        )


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:40].strip("-")


def report_filename(access_request: AccessRequest) -> str:
    """A safe, descriptive ASCII file name, e.g.
    `acme-agency-access-confirmation-bloom-bakery-42-2025-03-14.pdf`."""
    agency = _slug(access_request.agency.slug or access_request.agency.name) or "agency"
    client = (_slug(access_request.client.name) if access_request.client else "") or "client"
    day = (access_request.completed_at or access_request.created_at or datetime.now(UTC)).date()
    return f"{agency}-access-confirmation-{client}-{access_request.id}-{day.isoformat()}.pdf"
