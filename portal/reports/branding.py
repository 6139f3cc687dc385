"""The agency's look on the report: brand colour, logo and the QR code.

Nothing here trusts what was uploaded or typed: the colour is used only if it
is a plain hex colour, and the logo is re-encoded (bitmaps) or checked (SVG)
before it becomes a `data:` URI; the report's fetcher refuses anything an SVG
logo points to.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass

import segno
from PIL import Image

DEFAULT_COLOR = "#4338ca"
_HEX_COLOR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")

# Sniffed from the bytes: the stored mimetype is only a hint.
_IMAGE_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
MAX_LOGO_BYTES = 2 * 1024 * 1024
# The logo prints at most 55 x 14 mm: about 300 dpi at this size.
LOGO_MAX_PIXELS = (650, 170)
_LOGO_CACHE_SIZE = 64
_logo_cache: OrderedDict[bytes, str | None] = OrderedDict()
_logo_lock = threading.Lock()


@dataclass
class Branding:
    name: str
    color: str
    ink: str  # text colour on the brand colour
    accent: str  # brand colour dark enough for text on white
    logo_uri: str | None


def safe_color(value: str | None) -> str:
    """The brand colour as `#rrggbb`, or the default for anything else."""
    if not value or not _HEX_COLOR.match(value):
        return DEFAULT_COLOR
    if len(value) == 4:
        value = "#" + "".join(ch * 2 for ch in value[1:])
    return value.lower()


def _luminance(color: str) -> float:
    channels = []
    for i in (1, 3, 5):
        c = int(color[i : i + 2], 16) / 255
        channels.append(c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4)
    r, g, b = channels
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def _darken(color: str, factor: float) -> str:
    return "#" + "".join(f"{int(int(color[i : i + 2], 16) * factor):02x}" for i in (1, 3, 5))


def branding_for(agency) -> Branding:
    color = safe_color(agency.primary_color)
    ink = "#ffffff" if contrast(color, "#ffffff") >= contrast(color, "#111111") else "#111111"
    accent = color
    while contrast(accent, "#ffffff") < 4.5:
        accent = _darken(accent, 0.85)
    return Branding(
        name=agency.brand_name,
        color=color,
        ink=ink,
        accent=accent,
        logo_uri=logo_data_uri(agency.logo, agency.logo_mimetype),
    )


def _sniff(data: bytes) -> str | None:
    for signature, mimetype in _IMAGE_SIGNATURES:
        if data.startswith(signature):
            return mimetype
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    head = data[:1024].lstrip().lower()
    if head.startswith((b"<?xml", b"<svg")) and b"<svg" in data[:4096].lower():
        return "image/svg+xml"
    return None


def logo_data_uri(data: bytes | None, declared: str | None = None) -> str | None:
    """The agency's logo as a `data:` URI, or None if it is not a usable image.

    The type comes from the bytes, not from what was declared at upload.
    Bitmaps are decoded and re-encoded by Pillow, scaled down to print size
    and flattened onto white: WeasyPrint then embeds a small RGB image instead
    of splitting an alpha channel out of a full-size upload on every render,
    and nothing but pixels survives from the upload. SVG is kept as vector
    (WeasyPrint draws it) but refused if it declares a DTD or entities; any
    URL inside it goes through the report's fetcher, which refuses it.
    Results are cached by content hash, so a warm worker prepares each logo
    once.
    """
    if not data or len(data) > MAX_LOGO_BYTES:
        return None
    data = bytes(data)
    digest = hashlib.sha256(data).digest()
    with _logo_lock:
        if digest in _logo_cache:
            _logo_cache.move_to_end(digest)
            return _logo_cache[digest]
    uri = _prepare_logo(data)
    with _logo_lock:
        _logo_cache[digest] = uri
        while len(_logo_cache) > _LOGO_CACHE_SIZE:
            _logo_cache.popitem(last=False)
    return uri


def _prepare_logo(data: bytes) -> str | None:
    mimetype = _sniff(data)
    if mimetype is None:
        return None
    if mimetype == "image/svg+xml":
        lowered = data.lower()
        if b"<!doctype" in lowered or b"<!entity" in lowered:
            return None
        return f"data:image/svg+xml;base64,{base64.b64encode(data).decode('ascii')}"
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.seek(0)  # the first frame of an animation
            image.thumbnail(LOGO_MAX_PIXELS)
            rgba = image.convert("RGBA")
    except (OSError, ValueError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        return None
    flat = Image.new("RGB", rgba.size, "white")
    flat.paste(rgba, mask=rgba.getchannel("A"))
    out = io.BytesIO()
    flat.save(out, format="PNG")
    return f"data:image/png;base64,{base64.b64encode(out.getvalue()).decode('ascii')}"


@functools.lru_cache(maxsize=256)
def qr_data_uri(payload: str) -> str:
    """A QR code of `payload` as a PNG `data:` URI (cached: segno's mask
    search is the slow part, and a report's code does not change).

    PNG rather than SVG: WeasyPrint draws a bitmap in one operation but parses
    an SVG path of hundreds of segments on every render. Modules are whole
    pixels and the template turns off smoothing, so it prints sharp.
    """
    qr = segno.make(payload, error="m", micro=False)
    return qr.png_data_uri(scale=4, border=0, dark="#111111")
