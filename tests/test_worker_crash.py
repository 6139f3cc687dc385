"""A worker killed mid-job: the job is recovered and the grant does not stay stuck.

A real `latchkey worker` (RQ's forking Worker with its scheduler) runs in a
subprocess against the test database and Redis. Its Pinterest verification
hangs while a Redis flag is set, so the test can kill it mid-job.

Run as a script, this file is that worker.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

HANG_FLAG = "crashtest:hang"
HORSE_PID = "crashtest:horse"


def _worker_main() -> None:  # pragma: no cover (runs in the subprocess)
    """A `latchkey worker --no-cron` on the verify queue whose verification can hang."""
    from portal import create_app, platforms
    from portal.kv import redis_connection
    from portal.platforms.base import VerifyResult
    from worker.runner import run_worker

    app = create_app()
    platforms.init_app(app)
    connector = platforms.get("pinterest")

    def verify(agency_token, identity, asset_type, asset_id, permissions, external):
        conn = redis_connection()
        if conn.get(HANG_FLAG):
            conn.set(HORSE_PID, os.getpid())
            time.sleep(120)  # a platform call that never answers
        return VerifyResult("verified", tuple(permissions))

    connector.verify = verify
    run_worker(app, ["verify"], burst=False, cron=False)


if __name__ == "__main__":  # pragma: no cover
    _worker_main()
    sys.exit(0)


from helpers_requests import fake_connection, make_request  # noqa: E402
from rq.registry import StartedJobRegistry  # noqa: E402

from portal import platforms  # noqa: E402
from portal.extensions import db  # noqa: E402
from portal.kv import redis_connection  # noqa: E402
from portal.models import Grant  # noqa: E402
from portal.models.base import utcnow  # noqa: E402
from portal.platforms.base import VerifyResult  # noqa: E402
from portal.services import requests as service  # noqa: E402
from worker import jobs  # noqa: E402

pytestmark = pytest.mark.usefixtures("needs_redis", "needs_postgres")
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def worker_process(app):
    """Start the subprocess worker; stop it (and its work horse) at the end."""
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
            "REDIS_URL": app.config["REDIS_URL"],
            "LATCHKEY_INSTANCE_PATH": app.instance_path,
            "LATCHKEY_ENV": "test",
            "LATCHKEY_SANDBOX": "1",
            "LATCHKEY_BASE_URL": app.config["LATCHKEY_BASE_URL"],
            "SECRET_KEY": app.config["SECRET_KEY"],
            "LATCHKEY_ENCRYPTION_KEYS": ",".join(app.config["LATCHKEY_ENCRYPTION_KEYS"]),
            "LATCHKEY_AUDIT_KEYS": ",".join(app.config["LATCHKEY_AUDIT_KEYS"]),
            "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'tests'}",
        }
    )
    started = []

    def start() -> subprocess.Popen:
        proc = subprocess.Popen(
            [sys.executable, str(Path(__file__))],
            env=env,
            cwd=ROOT,
            start_new_session=True,  # its own process group: the horse dies with it
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


@pytest.fixture
def granted(agency, owner):
    fake_connection(agency)
    access_request, _token = make_request(agency, owner)
    access_request.status = "in_progress"
    item = access_request.items[0]
    grant = Grant(
        agency_id=agency.id,
        item_index=0,
        platform="pinterest",
        asset_type=item["asset_type"],
        permissions=item["permissions"],
        asset_id="asset-0",
        asset_name="Asset 0",
        status="granted",
        granted_at=utcnow(),
        external={"client_business_id": "777"},
    )
    access_request.grants.append(grant)
    db.session.commit()
    return grant


def wait_for(predicate, timeout: float, what: str, proc=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"worker exited ({proc.returncode}): {proc.stderr.read().decode()[-2000:]}")
        time.sleep(0.2)
    detail = ""
    if proc is not None and proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        detail = proc.stderr.read().decode()[-3000:]
    pytest.fail(f"timed out waiting for {what}: {detail}")


def grant_status(grant_id: int) -> str:
    db.session.rollback()
    return db.session.get(Grant, grant_id).status


def test_it_retries_the_job_when_the_work_horse_is_killed(worker_process, granted):
    conn = redis_connection()
    conn.set(HANG_FLAG, "1")
    service.enqueue_verification(granted.id)
    proc = worker_process()
    horse = int(wait_for(lambda: conn.get(HORSE_PID), 90, "the job to start", proc))
    assert grant_status(granted.id) == "verifying"  # mid-job

    conn.delete(HANG_FLAG)  # the platform answers again
    os.kill(horse, signal.SIGKILL)

    # RQ's worker sees its horse die, fails the attempt and retries it with backoff.
    wait_for(lambda: grant_status(granted.id) == "verified", 60, "the retried job", proc)
    db.session.refresh(granted)
    assert granted.verify_attempts == 2
    assert proc.poll() is None  # the worker itself lived on


def test_it_recovers_the_grant_when_the_whole_worker_is_killed(
    worker_process, granted, rq_worker, monkeypatch
):
    conn = redis_connection()
    conn.set(HANG_FLAG, "1")
    service.enqueue_verification(granted.id)
    proc = worker_process()
    wait_for(lambda: conn.get(HORSE_PID), 90, "the job to start", proc)
    os.killpg(proc.pid, signal.SIGKILL)  # worker and horse: nobody reports the failure
    proc.wait(10)
    conn.delete(HANG_FLAG)

    assert grant_status(granted.id) == "verifying"
    started = StartedJobRegistry("verify", connection=conn)
    [orphan] = started.get_job_ids()
    # RQ's own maintenance moves an abandoned job out of "started" once its
    # heartbeat lapses (simulated here by cleaning up "in the future").
    started.cleanup(timestamp=time.time() + 3600)
    assert orphan not in started.get_job_ids()

    # Our sweeper queues verification again for a grant stuck over 10 minutes.
    grant = db.session.get(Grant, granted.id)
    grant.verifying_since = utcnow() - timedelta(minutes=11)
    db.session.commit()
    assert jobs.sweep_stuck_grants() == 1
    monkeypatch.setattr(
        platforms.get("pinterest"),
        "verify",
        lambda *args, **kwargs: VerifyResult("verified", ("CAMPAIGN_MANAGER",)),
    )
    rq_worker(queues=["verify"])
    assert grant_status(granted.id) == "verified"
