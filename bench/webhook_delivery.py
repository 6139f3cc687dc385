"""One RQ worker (SimpleWorker, burst) delivers 1,000 queued webhooks to a
local receiver; prints the time taken (target: under 30 s).

    .venv/bin/python bench/webhook_delivery.py

Needs Redis on 127.0.0.1:6379 (database 12 is used and emptied). Uses a
throwaway PostgreSQL database when one answers, else SQLite.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from api_create import _open, database_url, drop_database

DELIVERIES = int(os.environ.get("BENCH_DELIVERIES", "1000"))
REDIS = "redis://127.0.0.1:6379/12"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    count = 0

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        type(self).count += 1
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def main() -> None:
    if not _open(6379):
        sys.exit("Redis is needed on 127.0.0.1:6379")
    from cryptography.fernet import Fernet

    tmp = tempfile.mkdtemp(prefix="latchkey-bench-")
    os.environ["LATCHKEY_INSTANCE_PATH"] = tmp
    url, on_pg = database_url(tmp)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()

    from rq import SimpleWorker

    from portal import create_app
    from portal.extensions import db
    from worker import set_worker_app

    app = create_app(
        {
            "ENV": {"LATCHKEY_ENV": "test", "LATCHKEY_SANDBOX": "1"},
            "SECRET_KEY": "bench-secret-key-0123456789abcdef0123456789",
            "LATCHKEY_ENCRYPTION_KEYS": [Fernet.generate_key().decode()],
            "SQLALCHEMY_DATABASE_URI": url,
            "REDIS_URL": REDIS,
            "RATELIMIT_STORAGE_URI": REDIS,
            "JOBS_MODE": "rq",
        }
    )
    set_worker_app(app)
    try:
        with app.app_context():
            db.create_all()
            from portal.kv import redis_connection
            from portal.models import WebhookDelivery
            from portal.services.agencies import create_agency
            from portal.webhooks import service

            redis_connection().flushdb()
            agency, _user = create_agency("Bench Agency", "bench@bench.test", "correct horse 42 x")
            endpoint, _secret = service.create_endpoint(
                agency.id, f"http://127.0.0.1:{server.server_address[1]}/hooks", ["*"], None, None
            )
            body = service._body("grant.verified", "2025-01-01T00:00:00Z", {"id": 1})
            rows = [
                WebhookDelivery(
                    agency_id=agency.id,
                    endpoint_id=endpoint.id,
                    event_id=service.new_event_id(),
                    event_type="grant.verified",
                    payload=body,
                )
                for _ in range(DELIVERIES)
            ]
            db.session.add_all(rows)
            db.session.commit()
            for row in rows:
                service.queue_delivery(row.id, retries=True)
            connection = redis_connection()
            db.session.remove()
        # Outside any app context, as in `latchkey worker`: each job gets its own.
        worker = SimpleWorker(["webhooks"], connection=connection)
        started = time.perf_counter()
        worker.work(burst=True, logging_level="WARNING")
        elapsed = time.perf_counter() - started
        with app.app_context():
            delivered = db.session.query(WebhookDelivery).filter_by(status="succeeded").count()
        print(f"database: {'postgresql' if on_pg else 'sqlite'}")
        print(f"{delivered} of {DELIVERIES} delivered, {_Handler.count} received")
        print(f"one SimpleWorker: {elapsed:.2f} s ({DELIVERIES / elapsed:.0f} deliveries/s)")
        print(f"target < 30 s: {'met' if elapsed < 30 and delivered == DELIVERIES else 'MISSED'}")
    finally:
        server.shutdown()
        with app.app_context():
            from portal.kv import redis_connection

            redis_connection().flushdb()
            db.session.remove()
            db.engine.dispose()
        if on_pg:
            drop_database()


if __name__ == "__main__":
    main()
