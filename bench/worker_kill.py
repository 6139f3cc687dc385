"""Work horses killed mid-job: are their jobs recovered, and how fast?

Standalone (not a test); needs PostgreSQL on 127.0.0.1:5432 and Redis on
127.0.0.1:6379 (database 10 is used and emptied). It starts WORKERS real
`latchkey worker` processes on the verify queue (this file run with
--as-worker: `run_worker` exactly as the CLI runs it, with Pinterest's
verification made to hang while a Redis flag is set, as a platform that never
answers), queues the verification of GRANTS granted grants, waits until every
worker is stuck inside a job, kills each of those work horses with SIGKILL,
lets the platform answer again, and measures how long until every grant is
verified: RQ's worker sees its horse die, fails that attempt and retries the
job with backoff. Prints jobs killed, grants verified, time to recover and the
attempts each grant took.

(A whole worker killed with its horse leaves its job in RQ's started registry
until RQ's maintenance moves it out, and the grant to the `sweep_stuck_grants`
job after ten minutes: tests/test_worker_crash.py covers that path.)

    .venv/bin/python bench/worker_kill.py [--grants 20] [--workers 2]
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

REDIS = "redis://127.0.0.1:6379/10"
HANG_FLAG = "workerkill:hang"
HORSES = "workerkill:horses"


def as_worker() -> None:  # runs in each worker subprocess
    from portal import create_app, platforms
    from portal.kv import redis_connection
    from portal.platforms.base import VerifyResult
    from worker.runner import run_worker

    app = create_app()
    platforms.init_app(app)

    def verify(agency_token, identity, asset_type, asset_id, permissions, external):
        conn = redis_connection()
        if conn.get(HANG_FLAG):
            conn.sadd(HORSES, os.getpid())
            time.sleep(300)  # a platform call that never answers
        return VerifyResult("verified", tuple(permissions))

    platforms.get("pinterest").verify = verify
    run_worker(app, ["verify"], burst=False, cron=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--grants", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--as-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.as_worker:
        as_worker()
        return 0

    from client_pages import database, port_open

    if not (port_open("127.0.0.1", 5432) and port_open("127.0.0.1", 6379)):
        raise SystemExit("PostgreSQL (5432) and Redis (6379) must answer on 127.0.0.1")
    from cryptography.fernet import Fernet
    from redis import Redis

    redis = Redis.from_url(REDIS)
    redis.flushdb()
    workers: list[subprocess.Popen] = []
    with (
        tempfile.TemporaryDirectory(prefix="latchkey-kill-") as folder,
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
        from portal.models import AgencyConnection, Grant
        from portal.models.base import utcnow
        from portal.services import requests as service
        from portal.services.agencies import create_agency
        from portal.services.requests import create_request

        try:
            with app.app_context():
                db.create_all()
                agency, owner = create_agency(
                    "Kill Agency", "owner@kill.test", "kill pw 0123456789"
                )
                db.session.add(
                    AgencyConnection(
                        agency_id=agency.id,
                        platform="pinterest",
                        access_token_encrypted=encrypt("unused-access-token"),
                        account_id="1",
                        account_name="Kill Agency",
                        identity={"business_id": "1"},
                        status="active",
                    )
                )
                ids = []
                for n in range(args.grants):
                    access_request, _token = create_request(
                        agency,
                        owner,
                        client_name=f"Client {n}",
                        client_email=f"client{n}@kill.test",
                        locale="en",
                        items=[
                            {
                                "platform": "pinterest",
                                "asset_type": "AD_ACCOUNT",
                                "permissions": ["ANALYST"],
                            }
                        ],
                    )
                    access_request.status = "in_progress"
                    grant = Grant(
                        agency_id=agency.id,
                        item_index=0,
                        platform="pinterest",
                        asset_type="AD_ACCOUNT",
                        permissions=["ANALYST"],
                        asset_id=f"asset-{n}",
                        asset_name=f"Asset {n}",
                        status="granted",
                        granted_at=utcnow(),
                    )
                    access_request.grants.append(grant)
                    db.session.commit()
                    ids.append(grant.id)
                redis.flushdb()  # nothing queued by the set-up (e-mails, expiry)

                log = Path(folder) / "workers.log"
                for _ in range(args.workers):
                    workers.append(
                        subprocess.Popen(
                            [sys.executable, __file__, "--as-worker"],
                            cwd=ROOT,
                            env=env,
                            stdout=log.open("ab"),
                            stderr=subprocess.STDOUT,
                            start_new_session=True,
                        )
                    )
                redis.set(HANG_FLAG, "1")
                for grant_id in ids:
                    service.enqueue_verification(grant_id)
                deadline = time.monotonic() + 120
                while redis.scard(HORSES) < args.workers:
                    if time.monotonic() > deadline:
                        raise SystemExit(f"the workers never started:\n{log.read_text()[-3000:]}")
                    time.sleep(0.1)
                horses = [int(pid) for pid in redis.smembers(HORSES)]
                redis.delete(HANG_FLAG)  # the platform answers again
                killed_at = time.monotonic()
                for pid in horses:
                    os.kill(pid, signal.SIGKILL)
                print(f"killed {len(horses)} work horses mid-job ({args.workers} workers)")

                deadline = killed_at + 300
                while time.monotonic() < deadline:
                    db.session.rollback()
                    done = (
                        db.session.query(Grant)
                        .filter(Grant.id.in_(ids), Grant.status == "verified")
                        .count()
                    )
                    if done == len(ids):
                        break
                    time.sleep(0.2)
                recovered = time.monotonic() - killed_at
                grants = db.session.query(Grant).filter(Grant.id.in_(ids)).all()
                verified = sum(1 for g in grants if g.status == "verified")
                attempts = collections.Counter(g.verify_attempts for g in grants)
                alive = sum(1 for proc in workers if proc.poll() is None)
        finally:
            for proc in workers:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
            redis.flushdb()

    print(f"grants verified: {verified} of {len(ids)}; workers still running: {alive}")
    print(f"every grant verified {recovered:.1f} s after the kill")
    print(f"verification attempts per grant: {dict(sorted(attempts.items()))}")
    return 0 if verified == len(ids) and alive == args.workers else 1


if __name__ == "__main__":
    sys.exit(main())
