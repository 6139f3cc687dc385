"""Record every call to an emulated platform, and what the connector read of it.

Connectors reach the sandbox at `<base>/sandbox/<platform>/<real host><real
path>` (see `portal.platforms.sandbox_url`), through `requests`: their own
calls (`portal.platforms.http`) and Authlib's token calls alike. The recorder
wraps `requests.Session.send` for the whole test run, so it sees them all
without any hook in the product (and leaves out the tests' stand-in
browsers). Each answer's JSON is handed back to the connector wrapped in
`TrackedDict` / `TrackedList`, which note every key the connector asks for:
the checker then holds those reads to the description.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

# /sandbox/<platform>/<host>/<path...>; the host has a dot (graph.facebook.com).
_SANDBOX_PATH = re.compile(
    r"^/sandbox/(?P<platform>[a-z0-9_-]+)/(?P<host>[^/]+\.[^/]+)(?P<path>/.*)?$"
)

ReadPath = tuple[str, ...]  # keys from the top of the answer; "[]" for an item of a list


@dataclass
class Call:
    platform: str
    method: str
    url: str  # the real platform URL (https://host/path), without the query
    query: dict[str, list[str]]
    body: Any  # decoded JSON, form fields ({name: [values]}), or None
    body_media: str | None
    status: int = 0
    response: Any = None  # decoded JSON of the answer, or None
    reads: set[ReadPath] = field(default_factory=set)
    test: str = ""

    def describe(self) -> str:
        return f"{self.method} {self.url}"


def parse_sandbox_url(url: str) -> tuple[str, str] | None:
    """(platform, real URL without query) for a sandbox URL, else None."""
    parts = urlsplit(url)
    match = _SANDBOX_PATH.match(parts.path)
    if not match:
        return None
    return match["platform"], f"https://{match['host']}{match['path'] or ''}"


def _decode_body(request: requests.PreparedRequest) -> tuple[Any, str | None]:
    raw = request.body
    if raw is None or raw in (b"", ""):
        return None, None
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    media = (request.headers.get("Content-Type") or "").split(";")[0].strip().lower() or None
    if media == "application/json":
        try:
            return json.loads(raw), media
        except ValueError:
            return raw, media
    if media == "application/x-www-form-urlencoded":
        return parse_qs(raw, keep_blank_values=True), media
    return raw, media


class TrackedDict(dict):
    """A JSON object that notes the keys its reader asks for."""

    __slots__ = ("_path", "_reads")

    def __init__(self, data: dict, path: ReadPath, reads: set[ReadPath]):
        super().__init__(data)
        self._path = path
        self._reads = reads

    def _note(self, key: Any) -> None:
        if isinstance(key, str):
            self._reads.add((*self._path, key))

    def _wrap(self, key: str, value: Any) -> Any:
        return track(value, (*self._path, key), self._reads)

    def __getitem__(self, key):
        self._note(key)
        return self._wrap(key, super().__getitem__(key))

    def get(self, key, default=None):
        self._note(key)
        if super().__contains__(key):
            return self._wrap(key, super().__getitem__(key))
        return default

    def __contains__(self, key):
        self._note(key)
        return super().__contains__(key)

    def pop(self, key, *default):
        self._note(key)
        return self._wrap(key, super().pop(key, *default))

    def setdefault(self, key, default=None):
        self._note(key)
        return self._wrap(key, super().setdefault(key, default))

    # Iterating hands out keys the answer has: they are checked with the answer.
    def items(self):
        return [(k, self._wrap(k, v)) for k, v in super().items()]

    def values(self):
        return [self._wrap(k, v) for k, v in super().items()]


class TrackedList(list):
    """A JSON array whose items note the keys their reader asks for."""

    __slots__ = ("_path", "_reads")

    def __init__(self, data: list, path: ReadPath, reads: set[ReadPath]):
        super().__init__(data)
        self._path = path
        self._reads = reads

    def _wrap(self, value: Any) -> Any:
        return track(value, (*self._path, "[]"), self._reads)

    def __getitem__(self, index):
        value = super().__getitem__(index)
        if isinstance(index, slice):
            return [self._wrap(v) for v in value]
        return self._wrap(value)

    def __iter__(self):
        for value in super().__iter__():
            yield self._wrap(value)


def track(value: Any, path: ReadPath, reads: set[ReadPath]) -> Any:
    if type(value) is dict:
        return TrackedDict(value, path, reads)
    if type(value) is list:
        return TrackedList(value, path, reads)
    return value


def _connector_session() -> requests.Session | None:
    from portal.platforms import http

    return http._session


def _product_session(session: requests.Session) -> bool:
    """A session of the product's own platform calls, not a test's stand-in browser.

    Connectors call through `portal.platforms.http`'s shared session, and
    Authlib's `OAuth2Session` exchanges codes and refreshes tokens. A test that
    presses **Allow** on an emulated consent page plays the person's browser
    with a plain `requests.Session`: that is the platform's web page, not its
    API, and is not held to the API's description.
    """
    from authlib.integrations.requests_client import OAuth2Session

    return session is _connector_session() or isinstance(session, OAuth2Session)


class Recorder:
    """Keeps every sandbox call of the run; `on_call` sees each once it is answered."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.current_test = "(session start)"
        self.on_call: Callable[[Call], None] | None = None
        self._lock = threading.Lock()
        self._original_send: Callable | None = None

    def install(self) -> None:
        if self._original_send is not None:
            return
        original = requests.Session.send
        recorder = self

        def send(session, request, **kwargs):
            parsed = parse_sandbox_url(request.url or "")
            if parsed is None or not _product_session(session):
                return original(session, request, **kwargs)
            call = recorder._start(request, *parsed)
            response = original(session, request, **kwargs)
            # What Authlib reads of a token answer (`error`, `expires_at`) is
            # RFC 6749's generic handling, not a connector's assumption.
            recorder._finish(call, response, track_reads=session is _connector_session())
            return response

        self._original_send = original
        requests.Session.send = send

    def uninstall(self) -> None:
        if self._original_send is not None:
            requests.Session.send = self._original_send
            self._original_send = None

    def _start(self, request: requests.PreparedRequest, platform: str, real_url: str) -> Call:
        body, media = _decode_body(request)
        query = parse_qs(urlsplit(request.url).query, keep_blank_values=True)
        return Call(platform, (request.method or "GET").upper(), real_url, query, body, media)

    def _finish(self, call: Call, response: requests.Response, track_reads: bool = True) -> None:
        call.status = response.status_code
        call.test = self.current_test
        if response.content:
            try:
                call.response = response.json()
            except ValueError:
                call.response = None
        if call.response is not None and track_reads:
            tracked = track(call.response, (), call.reads)
            # The connector decodes the answer itself: hand it the tracked copy.
            response.json = lambda **_kw: tracked
        with self._lock:
            self.calls.append(call)
        if self.on_call is not None:
            self.on_call(call)


RECORDER = Recorder()
