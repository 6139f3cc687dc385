"""The only way the PDF renderer may read anything.

WeasyPrint resolves every `url(...)`, `<img src>`, `<link href>` and SVG
`href` through its URL fetcher. The report's own resources are inline (`data:`
URIs for the logo and the QR code) or bundled files (the fonts), so this
fetcher serves exactly those and refuses everything else by raising: no file
outside the allowed folders (resolved with symlinks and `..`), no host, no
other scheme. Nothing it refuses is ever opened.
"""

from __future__ import annotations

import base64
import binascii
import logging
import mimetypes
import os
from collections.abc import Iterable
from typing import NoReturn
from urllib.parse import unquote, unquote_to_bytes, urlsplit
from urllib.request import url2pathname

from weasyprint.urls import URLFetcher, URLFetcherResponse

log = logging.getLogger(__name__)

# A logo is a few hundred kilobytes at most; anything larger is refused.
MAX_DATA_URI_BYTES = 5 * 1024 * 1024
MAX_FILE_BYTES = 5 * 1024 * 1024


class FetchRefused(ValueError):
    """The report renderer asked for something it may not read."""


class ReportURLFetcher(URLFetcher):
    """Serve `data:` URIs and files inside `allowed_dirs`; refuse everything else.

    Refusals raise `FetchRefused`, which WeasyPrint treats as a missing
    resource (logged, the element left out): a hostile reference can never
    make the renderer read a local file or open a connection.
    """

    def __init__(self, allowed_dirs: Iterable[str | os.PathLike[str]]):
        # No handler is ever used: `fetch` below never reaches urllib.
        super().__init__(allowed_protocols=("data", "file"), allow_redirects=False)
        self.allowed_dirs = tuple(os.path.realpath(os.fspath(d)) for d in allowed_dirs)
        self.refused: list[str] = []

    def fetch(self, url: str, headers=None) -> URLFetcherResponse:
        scheme = url.split(":", 1)[0].lower() if ":" in url else ""
        if scheme == "data":
            return self._data(url)
        if scheme == "file":
            return self._file(url)
        self._refuse(url, "only data: URIs and bundled files may be read")

    # -- data: -------------------------------------------------------------
    def _data(self, url: str) -> URLFetcherResponse:
        header, sep, payload = url[len("data:") :].partition(",")
        if not sep:
            self._refuse(url, "malformed data: URI")
        params = [p.strip() for p in header.split(";")]
        is_base64 = bool(params) and params[-1].lower() == "base64"
        if is_base64:
            params.pop()
        mediatype = (params[0] if params and "=" not in params[0] else "") or "text/plain"
        try:
            if is_base64:
                body = base64.b64decode(unquote(payload), validate=False)
            else:
                body = unquote_to_bytes(payload)
        except (binascii.Error, ValueError):
            self._refuse(url, "undecodable data: URI")
        if len(body) > MAX_DATA_URI_BYTES:
            self._refuse(url, "data: URI too large")
        headers = {"Content-Type": mediatype.lower()}
        for param in params[1:]:
            name, _, value = param.partition("=")
            if name.strip().lower() == "charset" and value.strip():
                headers["Content-Type"] += f"; charset={value.strip()}"
        return URLFetcherResponse(url="data:", body=body, headers=headers)

    # -- file: -------------------------------------------------------------
    def _file(self, url: str) -> URLFetcherResponse:
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost"):
            self._refuse(url, "file URLs naming a host are not allowed")
        path = os.path.realpath(url2pathname(unquote(parts.path)))
        if not any(path.startswith(root + os.sep) for root in self.allowed_dirs):
            self._refuse(url, "outside the report's bundled files")
        if not os.path.isfile(path):
            self._refuse(url, "no such bundled file")
        if os.path.getsize(path) > MAX_FILE_BYTES:
            self._refuse(url, "bundled file too large")
        with open(path, "rb") as fh:
            body = fh.read()
        mimetype = mimetypes.guess_type(path)[0] or "application/octet-stream"
        if path.endswith(".ttf"):
            mimetype = "font/ttf"
        return URLFetcherResponse(
            url=f"file://{path}", body=body, headers={"Content-Type": mimetype}
        )

    def _refuse(self, url: str, reason: str) -> NoReturn:
        shown = url if len(url) <= 120 else url[:117] + "..."
        self.refused.append(shown)
        log.warning("PDF report: refused to fetch %r (%s)", shown, reason)
        raise FetchRefused(f"{reason}: {shown}")
