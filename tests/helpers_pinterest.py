"""Shared by the Pinterest connector tests: persona tokens, the first ad account,
and a tiny HTTP server standing in for Pinterest where the sandbox cannot."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from portal.platforms.base import Asset
from portal.sandbox import core

CAMPAIGNS = ["CAMPAIGN_MANAGER", "ANALYST"]


def persona_token(persona: str, **options):
    return core.sandbox_token("pinterest", persona, **options)


def first_ad_account(connector, token) -> Asset:
    return connector.list_assets(token, ["AD_ACCOUNT"])["AD_ACCOUNT"][0]


class Stub:
    """A tiny HTTP server answering from a script of (status, headers, body)."""

    def __init__(self):
        self.answers: list[tuple[int, dict[str, str], object]] = []
        self.seen: list[tuple[str, str, dict[str, str]]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                stub.seen.append((self.command, self.path, dict(self.headers)))
                status, headers, body = stub.answers.pop(0)
                raw = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            do_GET = do_POST = do_PATCH = do_DELETE = _answer

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def point_api_at(app, monkeypatch, url: str) -> None:
    """Send the Pinterest connector's API calls to `url` for one test."""
    urls = dict(app.extensions["latchkey_platform_urls"]["pinterest"])
    urls["api"] = url
    monkeypatch.setitem(app.extensions["latchkey_platform_urls"], "pinterest", urls)
