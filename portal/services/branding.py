"""White label: logo checks, SVG sanitising, colour contrast, custom domains.

Logos are checked by their content (magic bytes, then a real parse), never by
their name or the browser's content type. SVG is parsed with defusedxml (no
DTD, no entities) and rebuilt from an allow-list of drawing elements and
attributes, so no script, event handler, foreign object or external
reference survives.
"""

from __future__ import annotations

import io
import re
from urllib.parse import urlsplit
from xml.etree import ElementTree as ET  # serialising only; parsing is defusedxml

from defusedxml import ElementTree as SafeET
from email_validator import EmailNotValidError, validate_email
from flask import current_app, has_request_context, request
from flask_babel import gettext as _
from sqlalchemy import func, select

from .. import audit
from ..extensions import db
from ..inputs import normalise_host
from ..models import Agency

MAX_LOGO_BYTES = 1024 * 1024
MAX_LOGO_PIXELS = 4096 * 4096
MIN_CONTRAST = 4.5  # WCAG 2 AA for normal text
HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
HOSTNAME = re.compile(r"^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
SVG_TAGS = frozenset(
    {
        "svg", "g", "path", "rect", "circle", "ellipse", "line", "polyline", "polygon",
        "text", "tspan", "defs", "linearGradient", "radialGradient", "stop", "title",
        "desc", "clipPath", "mask", "symbol", "use",
    }
)  # fmt: skip
SVG_ATTRIBUTES = frozenset(
    {
        "id", "class", "viewBox", "width", "height", "x", "y", "x1", "y1", "x2", "y2",
        "cx", "cy", "r", "rx", "ry", "d", "points", "fill", "fill-opacity", "fill-rule",
        "stroke", "stroke-width", "stroke-opacity", "stroke-linecap", "stroke-linejoin",
        "stroke-miterlimit", "stroke-dasharray", "opacity", "transform", "offset",
        "stop-color", "stop-opacity", "gradientUnits", "gradientTransform", "clip-path",
        "clip-rule", "mask", "font-family", "font-size", "font-weight", "text-anchor",
        "dominant-baseline", "preserveAspectRatio", "version", "href",
        "clipPathUnits", "maskUnits", "fx", "fy", "dx", "dy", "letter-spacing",
    }
)  # fmt: skip


class BrandingError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


# -------------------------------------------------------------------- logo


def check_logo(data: bytes) -> tuple[bytes, str]:
    """Return (bytes to store, mimetype) for an acceptable logo, else raise."""
    if not data:
        raise BrandingError("logo", _("The file is empty. Choose a PNG, JPEG or SVG image."))
    if len(data) > MAX_LOGO_BYTES:
        raise BrandingError("logo", _("The logo is larger than 1 MB. Use a smaller image."))
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return data, _check_raster(data, "PNG", "image/png")
    if data.startswith(b"\xff\xd8\xff"):
        return data, _check_raster(data, "JPEG", "image/jpeg")
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"<?xml", b"<svg", b"<!--")):
        return sanitise_svg(data), "image/svg+xml"
    raise BrandingError(
        "logo", _("This file is not a PNG, JPEG or SVG image. Choose an image file.")
    )


def _check_raster(data: bytes, kind: str, mimetype: str) -> str:
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format != kind:
                raise ValueError(image.format)
            if image.width * image.height > MAX_LOGO_PIXELS:
                raise BrandingError("logo", _("The image is too large: use at most 4096 x 4096."))
            image.verify()
    except BrandingError:
        raise
    except Exception as exc:
        raise BrandingError(
            "logo", _("The image could not be read. Export it again as PNG or JPEG.")
        ) from exc
    return mimetype


def _local(name: str) -> tuple[str | None, str]:
    if name.startswith("{"):
        ns, _sep, local = name[1:].partition("}")
        return ns, local
    return None, name


def sanitise_svg(data: bytes) -> bytes:
    """Parse safely and keep only drawing elements and attributes."""
    try:
        root = SafeET.fromstring(data, forbid_dtd=True)
    except Exception as exc:
        raise BrandingError(
            "logo", _("The SVG could not be read. Export it again as plain SVG.")
        ) from exc
    ns, local = _local(root.tag)
    if local != "svg" or ns not in (SVG_NS, None):
        raise BrandingError("logo", _("This file is not an SVG image."))
    clean = _clean_element(root)
    ET.register_namespace("", SVG_NS)
    ET.register_namespace("xlink", XLINK_NS)
    return ET.tostring(clean, encoding="utf-8", xml_declaration=True)


def _clean_element(element) -> ET.Element:
    _ns, tag = _local(element.tag)
    out = ET.Element(f"{{{SVG_NS}}}{tag}")
    for name, value in element.attrib.items():
        ns, attr = _local(name)
        if ns not in (None, XLINK_NS) or attr not in SVG_ATTRIBUTES:
            continue  # on* handlers, style, foreign namespaces
        if attr == "href":
            if not value.startswith("#"):
                continue  # external or javascript: references
            out.set(f"{{{XLINK_NS}}}href" if ns == XLINK_NS else "href", value)
            continue
        if "url(" in value.replace(" ", "").lower() and not re.fullmatch(
            r"\s*url\(#[\w.-]+\)\s*", value
        ):
            continue
        if "javascript:" in value.lower():
            continue
        out.set(attr, value)
    out.text = element.text if tag in ("text", "tspan", "title", "desc") else None
    for child in element:
        child_ns, child_tag = _local(child.tag)
        if child_ns in (SVG_NS, None) and child_tag in SVG_TAGS:
            cleaned = _clean_element(child)
            cleaned.tail = None
            out.append(cleaned)
    return out


# ------------------------------------------------------------------ colour


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast_ratio(a: str, b: str = "#ffffff") -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def check_colour(value: str) -> str:
    value = (value or "").strip()
    if not HEX_COLOUR.match(value):
        raise BrandingError("primary_color", _("Enter a colour like #4338ca."))
    ratio = contrast_ratio(value)
    if ratio < MIN_CONTRAST:
        raise BrandingError(
            "primary_color",
            _(
                "White text on this colour is hard to read (contrast %(ratio).1f:1, at least "
                "4.5:1 is needed). Choose a darker colour.",
                ratio=ratio,
            ),
        )
    return value.lower()


# ------------------------------------------------------------------ domain


def base_host() -> str:
    return normalise_host(urlsplit(current_app.config["LATCHKEY_BASE_URL"]).netloc)


def normalise_domain(value: str | None, agency_id: int) -> str | None:
    value = (value or "").strip().lower()
    if not value:
        return None
    if "://" in value:
        try:
            value = urlsplit(value).hostname or ""
        except ValueError:
            value = ""
    value = normalise_host(value.split("/")[0])
    if not HOSTNAME.match(value):
        raise BrandingError("custom_domain", _("Enter a domain name like access.example.com."))
    if value == base_host():
        raise BrandingError("custom_domain", _("This is Latchkey's own address."))
    taken = db.session.scalar(
        select(Agency.id).where(func.lower(Agency.custom_domain) == value, Agency.id != agency_id)
    )
    if taken:
        raise BrandingError("custom_domain", _("Another agency already uses this domain."))
    return value


def request_host() -> str:
    """This request's host as compared with custom domains (see `normalise_host`)."""
    if not has_request_context():
        return ""
    return normalise_host(request.host)


def host_agency() -> Agency | None:
    """The agency whose custom domain this request came in on, if any."""
    host = request_host()
    if not host or host == base_host() or not HOSTNAME.match(host):
        return None
    return db.session.scalar(select(Agency).where(func.lower(Agency.custom_domain) == host))


def host_serves(agency_id: int, custom_domain: str | None) -> bool:
    """May this request's Host show this agency's links?

    The agency's own custom domain and Latchkey's address: yes. Another
    agency's custom domain: no. An unknown host is left to the proxy.
    """
    host = request_host()
    if not host:
        return True
    if custom_domain and host == normalise_host(custom_domain):
        return True
    if host == base_host() or not HOSTNAME.match(host):
        return True  # Latchkey's own address, localhost or an IP: no agency's domain
    owner = db.session.scalar(select(Agency.id).where(func.lower(Agency.custom_domain) == host))
    return owner is None or owner == agency_id


# ------------------------------------------------------------------ saving


def save_branding(agency: Agency, values: dict, actor: audit.Actor | None) -> list[str]:
    """Apply already-checked values; return the names of what changed."""
    changed = []
    for key, value in values.items():
        if key == "logo":
            if value is None:
                if agency.logo is not None:
                    agency.logo = None
                    agency.logo_mimetype = None
                    changed.append("logo")
            else:
                agency.logo, agency.logo_mimetype = value
                changed.append("logo")
            continue
        if getattr(agency, key) != value:
            setattr(agency, key, value)
            changed.append(key)
    if changed:
        audit.record(
            "agency.branding_changed",
            agency_id=agency.id,
            actor=actor,
            subject=("agency", agency.id),
            details={"changed": changed, "custom_domain": agency.custom_domain},
        )
    db.session.commit()
    return changed


def check_support_email(value: str | None) -> str | None:
    value = (value or "").strip()
    if not value:
        return None
    if len(value) > 254:
        raise BrandingError("support_email", _("Use at most %(n)d characters.", n=254))
    try:
        return validate_email(
            value,
            check_deliverability=False,
            test_environment=current_app.config["LATCHKEY_ENV"] != "production",
        ).normalized
    except EmailNotValidError as exc:
        raise BrandingError(
            "support_email", _("Enter a valid e-mail address, like help@example.com.")
        ) from exc
