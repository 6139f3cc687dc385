"""How fast does one worker send queued e-mails to a local SMTP server?

Standalone: builds its own app (LATCHKEY_ENV=test, SQLite in a temporary
folder, Redis at BENCH_REDIS_URL, default redis://127.0.0.1:6379/13, which it
empties), starts an aiosmtpd server on a free port, creates one agency and
COUNT requests, queues one `send_request_email` job per request, then times
one RQ worker (burst) sending them all: job fetch, database reads, the
templates in the client's language, one SMTP connection per message, and the
NotificationLog row that makes each job idempotent. Target: 100 in under 10 s.

    .venv/bin/python bench/email_send.py [--count 100] [--worker latchkey|forking|simple]

--worker latchkey (the default) is the class `latchkey worker` runs, prepared
the same way (`prepare_for_fork`): it forks a work horse for reports,
verification and webhooks, and sends e-mails (queue `default`) in-process.
`forking` is RQ's plain forking Worker (a work horse per job, after the same
preparation) and `simple` RQ's SimpleWorker, for comparison.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ITEMS = [
    {"platform": "pinterest", "asset_type": "AD_ACCOUNT", "permissions": ["CAMPAIGN_MANAGER"]},
    {"platform": "pinterest", "asset_type": "PROFILE", "permissions": ["PROFILE_PUBLISHER"]},
]


def free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def build_app(tmp: Path, redis_url: str, smtp_port: int):
    from cryptography.fernet import Fernet

    os.environ["LATCHKEY_INSTANCE_PATH"] = str(tmp / "instance")
    from portal import create_app

    return create_app(
        {
            "ENV": {"LATCHKEY_ENV": "test", "LATCHKEY_SANDBOX": "1"},
            "SECRET_KEY": "bench-secret-key-0123456789abcdef0123456789",
            "LATCHKEY_ENCRYPTION_KEYS": [Fernet.generate_key().decode()],
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp / 'bench.sqlite3'}",
            "REDIS_URL": redis_url,
            "RATELIMIT_STORAGE_URI": "memory://",
            "JOBS_MODE": "rq",
            "LATCHKEY_BASE_URL": "https://latchkey.example",
            "SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
            # An established agency: the daily allowance is not what is measured.
            "CLIENT_EMAILS_AGENCY": 100_000,
            "CLIENT_EMAILS_NEW_AGENCY": 100_000,
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--worker", choices=("latchkey", "forking", "simple"), default="latchkey")
    args = parser.parse_args()

    from aiosmtpd.controller import Controller

    class Count:
        received = 0

        async def handle_DATA(self, server, session, envelope):
            Count.received += 1
            return "250 OK"

    port = free_port()
    smtp = Controller(Count(), hostname="127.0.0.1", port=port)
    smtp.start()
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
    with tempfile.TemporaryDirectory() as tmp:
        app = build_app(Path(tmp), redis_url, port)
        from rq import SimpleWorker, Worker

        from portal import events, notifications
        from portal.extensions import db
        from portal.kv import redis_connection
        from portal.models import AgencyConnection
        from portal.services.agencies import create_agency
        from portal.services.requests import create_request
        from worker import enqueue, jobs, set_worker_app
        from worker.runner import LatchkeyWorker, prepare_for_fork

        with app.app_context():
            db.create_all()
            redis_connection().flushdb()
            agency, owner = create_agency(
                "Bench Agency", "owner@bench.test", "bench password 1234 ok", email_verified=True
            )
            agency.support_email = "help@bench.test"
            db.session.add(
                AgencyConnection(
                    agency_id=agency.id,
                    platform="pinterest",
                    access_token_encrypted="-",  # noqa: S106 (never used)
                    account_id="1",
                    account_name="Bench",
                    identity={"business_id": "1"},
                    status="active",
                )
            )
            db.session.commit()
            # Requests are made without their creation side effects (expiry planning).
            events._subscribers.remove(notifications.on_event)
            ids = []
            for n in range(args.count):
                access_request, _token = create_request(
                    agency,
                    owner,
                    f"Client {n}",
                    f"client{n}@example.test",
                    "fr" if n % 2 else "en",
                    ITEMS,
                    message="Thanks for your help!",
                )
                ids.append(access_request.id)
            for request_id in ids:
                enqueue(jobs.send_request_email, request_id, timeout=60)
            set_worker_app(app)
            if args.worker != "simple":
                prepare_for_fork(app)  # as `latchkey worker` does before its first job
            worker_class = {
                "latchkey": LatchkeyWorker,
                "forking": Worker,
                "simple": SimpleWorker,
            }[args.worker]
            worker = worker_class(["default"], connection=redis_connection())
            started = time.perf_counter()
            worker.work(burst=True)
            elapsed = time.perf_counter() - started
            redis_connection().flushdb()
    smtp.stop()
    kind = {"latchkey": "LatchkeyWorker", "forking": "forking Worker", "simple": "SimpleWorker"}
    print(
        f"{Count.received}/{args.count} e-mails sent by one {kind[args.worker]} in {elapsed:.2f} s"
    )
    print(f"  {elapsed / max(args.count, 1) * 1000:.1f} ms per e-mail; target: 100 in under 10 s")
    if Count.received != args.count:
        sys.exit(1)


if __name__ == "__main__":
    main()
