"""A webhook receiver down for two minutes during a burst: is every event delivered, once?

Standalone (not a test); needs PostgreSQL on 127.0.0.1:5432 and Redis on
127.0.0.1:6379 (database 11 is used and emptied). It

  1. creates a throwaway PostgreSQL database, an agency, one access request
     and one webhook endpoint on a loopback port where nothing listens yet;
  2. starts two real `latchkey worker --no-cron` processes (RQ's scheduler
     included, which runs the delayed retries);
  3. emits a burst of BURST events through `webhooks.service.fan_out`, the
     function the domain events call, each event with its own id;
  4. keeps the receiver down (connection refused) for OUTAGE seconds, then
     starts it and waits until every delivery has succeeded or failed.

The retry schedule is the production one (about 5 s, 5 min, 30 min, ... with
jitter), so with a two-minute outage the events arrive on the third attempt,
about five minutes after the burst: the run takes six to seven minutes.

Prints events sent, deliveries succeeded, distinct webhook-ids received,
events received under more than one webhook-id (must be 0), repeated
receptions of the same id (allowed: at least once), attempts per delivery,
and the time from the receiver's return to the last delivery.

    .venv/bin/python bench/webhook_outage.py [--burst 500] [--outage 120]
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import hashlib
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from client_pages import database, port_open  # noqa: E402

REDIS = "redis://127.0.0.1:6379/11"


class Receiver(BaseHTTPRequestHandler):
    """Records each delivery's webhook-id, a digest of its body and when it came."""

    protocol_version = "HTTP/1.1"
    lock = threading.Lock()
    received: list[tuple[str, str, float]] = []  # (webhook-id, event marker, when)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        marker = hashlib.sha256(body).hexdigest()
        with self.lock:
            self.received.append((self.headers.get("webhook-id", ""), marker, time.monotonic()))
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def _wait_for_workers(count: int, log: Path) -> None:
    """Until every worker has registered with RQ (the outage must cover first attempts)."""
    from redis import Redis
    from rq import Worker

    connection = Redis.from_url(REDIS)
    deadline = time.monotonic() + 120
    while len(Worker.all(connection=connection)) < count:
        if time.monotonic() > deadline:
            raise SystemExit(f"the workers did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


def free_port() -> int:
    import socket

    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--burst", type=int, default=500)
    parser.add_argument("--outage", type=int, default=120, help="seconds the receiver is down")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if not (port_open("127.0.0.1", 5432) and port_open("127.0.0.1", 6379)):
        raise SystemExit("PostgreSQL (5432) and Redis (6379) must answer on 127.0.0.1")

    from cryptography.fernet import Fernet
    from redis import Redis

    Redis.from_url(REDIS).flushdb()
    port = free_port()
    workers: list[subprocess.Popen] = []
    server = None
    with (
        tempfile.TemporaryDirectory(prefix="latchkey-outage-") as folder,
        database(Path(folder)) as (database_url, _kind),
    ):
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "LATCHKEY_ENV": "test",
            "LATCHKEY_SANDBOX": "1",
            "LATCHKEY_INSTANCE_PATH": str(Path(folder) / "instance"),
            "DATABASE_URL": database_url,
            "REDIS_URL": REDIS,
            "SECRET_KEY": secrets.token_urlsafe(48),
            "LATCHKEY_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "LATCHKEY_LOG_FORMAT": "text",
        }
        os.environ.update({k: v for k, v in env.items() if k != "PYTHONPATH"})
        from portal import create_app
        from portal.extensions import db

        app = create_app()
        from portal.crypto import encrypt
        from portal.models import AgencyConnection, WebhookDelivery
        from portal.services.agencies import create_agency
        from portal.services.requests import create_request
        from portal.webhooks import service

        try:
            with app.app_context():
                db.create_all()
                agency, owner = create_agency(
                    "Outage Agency", "owner@outage.test", "outage pw 0123456789"
                )
                db.session.add(  # requests need the platform connected; never called here
                    AgencyConnection(
                        agency_id=agency.id,
                        platform="pinterest",
                        access_token_encrypted=encrypt("unused-access-token"),
                        account_id="1",
                        account_name="Outage Agency",
                        identity={"business_id": "1"},
                        status="active",
                    )
                )
                db.session.commit()
                service.create_endpoint(
                    agency.id, f"http://127.0.0.1:{port}/hooks", ["*"], None, None
                )
                access_request, _token = create_request(
                    agency,
                    owner,
                    client_name="Blue Harbor",
                    client_email="marketing@blueharbor.test",
                    locale="en",
                    items=[
                        {
                            "platform": "pinterest",
                            "asset_type": "AD_ACCOUNT",
                            "permissions": ["ANALYST"],
                        }
                    ],
                )
                db.session.commit()
                # Deliveries queued by the request's own events are not part of the burst.
                db.session.query(WebhookDelivery).delete()
                db.session.commit()
                Redis.from_url(REDIS).flushdb()

                log = Path(folder) / "workers.log"
                for _ in range(args.workers):
                    workers.append(
                        subprocess.Popen(
                            [str(Path(sys.executable).parent / "latchkey"), "worker", "--no-cron"],
                            cwd=ROOT,
                            env=env,
                            stdout=log.open("ab"),
                            stderr=subprocess.STDOUT,
                            start_new_session=True,
                        )
                    )
                _wait_for_workers(args.workers, log)
                started = time.monotonic()
                for _ in range(args.burst):
                    service.fan_out(
                        service.new_event_id(),
                        "grant.verified",
                        agency.id,
                        access_request.id,
                        "2026-11-29T09:00:00Z",
                    )
                burst_seconds = time.monotonic() - started
                print(f"burst: {args.burst} events queued in {burst_seconds:.1f} s; receiver down")

                time.sleep(max(0.0, args.outage - (time.monotonic() - started)))
                server = ThreadingHTTPServer(("127.0.0.1", port), Receiver)
                server.daemon_threads = True
                threading.Thread(target=server.serve_forever, daemon=True).start()
                back = time.monotonic()
                print(f"receiver up after {back - started:.0f} s; waiting for the retries")

                deadline = back + 45 * 60
                while time.monotonic() < deadline:
                    db.session.rollback()
                    pending = (
                        db.session.query(WebhookDelivery)
                        .filter(WebhookDelivery.status.notin_(("succeeded", "failed", "cancelled")))
                        .count()
                    )
                    if not pending:
                        break
                    time.sleep(2)
                rows = db.session.query(WebhookDelivery).all()
                succeeded = sum(1 for r in rows if r.status == "succeeded")
                attempts = collections.Counter(r.attempts for r in rows)
                event_ids = {r.event_id for r in rows}
        finally:
            for proc in workers:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
            for proc in workers:
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
            if server is not None:
                server.shutdown()
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
            Redis.from_url(REDIS).flushdb()

    received = Receiver.received
    ids_seen = collections.Counter(webhook_id for webhook_id, _m, _t in received)
    # Every event has its own id, sent as webhook-id on each attempt: the events
    # received are the distinct ids, and none may be an id that was never sent.
    unknown = set(ids_seen) - event_ids
    last = max((t for _i, _m, t in received), default=back)
    print(
        f"deliveries: {succeeded} of {len(rows)} succeeded; attempts per delivery: "
        f"{dict(sorted(attempts.items()))}"
    )
    print(
        f"received: {len(received)} requests, {len(ids_seen)} distinct webhook-ids "
        f"of {len(event_ids)} events sent; ids not sent: {len(unknown)}"
    )
    print(
        f"ids received more than once (at-least-once repeats): "
        f"{sum(1 for n in ids_seen.values() if n > 1)}"
    )
    print(f"last delivery {last - back:.0f} s after the receiver came back")
    ok = succeeded == len(rows) == args.burst and len(ids_seen) == args.burst and not unknown
    print(json.dumps({"every_event_delivered_once_per_id": ok}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
