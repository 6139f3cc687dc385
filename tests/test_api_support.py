"""Helpers for the API and webhook tests (no tests here): keys, a local
webhook receiver, and running the webhook queue."""

from __future__ import annotations

import json
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from portal.api.keys import create_key


def api_key(agency, scopes=("read", "write"), name="CRM sync") -> str:
    return create_key(agency.id, name, list(scopes))[1]


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


class Receiver:
    """A local HTTP server recording each POST; answers from a script of
    (status, headers, body) replies, then 200."""

    def __init__(self):
        self.received: list[dict] = []
        self.replies: deque = deque()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with receiver.lock:
                    receiver.received.append(
                        {
                            "path": self.path,
                            "headers": {k.lower(): v for k, v in self.headers.items()},
                            "body": body.decode(),
                        }
                    )
                    status, headers, text = (
                        receiver.replies.popleft() if receiver.replies else (200, {}, "ok")
                    )
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                data = text.encode()
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def reply(self, status: int, headers: dict | None = None, body: str = "") -> None:
        self.replies.append((status, headers or {}, body))

    def events(self) -> list[dict]:
        return [json.loads(r["body"]) for r in self.received]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def running_receiver():
    """For a `receiver` fixture: a Receiver, closed afterwards."""
    server = Receiver()
    yield server
    server.close()


def no_retry_wait(app):
    """For a `fast_retries` fixture: retries without waiting (the schedule
    itself is unit-tested)."""
    app.config["WEBHOOK_RETRY_SCHEDULE"] = (0, 0, 0, 0, 0, 0, 0)
    yield
    app.config.pop("WEBHOOK_RETRY_SCHEDULE", None)
