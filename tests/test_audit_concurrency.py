"""Appending to one agency's audit chain from many writers at once (issue 14, bug 1).

"Send by e-mail" answered 500 one time in three: the page and the e-mail job
both appended to the chain, read the same newest event and wrote the same seq
(`UNIQUE constraint failed: audit_event.agency_id, audit_event.seq`). Appends
now take the chain's head first (a row lock on PostgreSQL, the write lock on
SQLite), so threads and processes append one after the other: no error, no
gap, and the chain verifies.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from helpers_engines import sqlite_app
from sqlalchemy import select

from portal import audit
from portal.extensions import db
from portal.models import AuditEvent
from portal.services.agencies import create_agency

THREADS = 4
PER_THREAD = 15
PROCESSES = 2
PER_PROCESS = 15

# One writer process: its own app on the same database, appending once told to go.
WRITER = textwrap.dedent(
    """
    import os, sys, time
    from sqlalchemy import text
    from portal import audit, create_app
    from portal.extensions import db

    url, agency_id, count, go = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": None, "RATELIMIT_STORAGE_URI": "memory://"}
    )
    with app.app_context():
        db.session.execute(text("SELECT 1"))
        db.session.rollback()
        print("ready", flush=True)
        while not os.path.exists(go):
            time.sleep(0.005)
        for i in range(count):
            audit.record(
                "test.from_process", agency_id=agency_id, details={"pid": os.getpid(), "i": i}
            )
            db.session.commit()
    print("done", flush=True)
    """
)


def _start_writers(app, agency_id: int, go: Path) -> list[subprocess.Popen]:
    env = {
        **os.environ,
        "LATCHKEY_ENV": "test",
        "LATCHKEY_AUDIT_KEYS": ",".join(app.config["LATCHKEY_AUDIT_KEYS"]),
    }
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, url, str(agency_id), str(PER_PROCESS), str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=str(Path(__file__).resolve().parent.parent),
        )
        for _ in range(PROCESSES)
    ]
    for writer in writers:
        line = writer.stdout.readline()
        assert line.strip() == "ready", writer.stderr.read()[-3000:]
    return writers


def _append_at_once(app, agency_id: int, tmp_path: Path, processes: bool) -> list[str]:
    """Threads of this process (and writer processes) append together; their errors."""
    go = tmp_path / f"go-{time.monotonic_ns()}"
    writers = _start_writers(app, agency_id, go) if processes else []
    errors: list[str] = []
    start = threading.Barrier(THREADS + 1)

    def append(n: int) -> None:
        with app.app_context():
            try:
                start.wait()
                for i in range(PER_THREAD):
                    audit.record("test.from_thread", agency_id=agency_id, details={"t": n, "i": i})
                    db.session.commit()
            except Exception as exc:
                errors.append(f"thread {n}: {type(exc).__name__}: {exc}")
                db.session.rollback()
            finally:
                db.session.remove()

    threads = [threading.Thread(target=append, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    go.touch()
    start.wait()
    for thread in threads:
        thread.join(120)
    for writer in writers:
        _out, err = writer.communicate(timeout=120)
        if writer.returncode != 0:
            errors.append(f"process {writer.pid}: {err.strip().splitlines()[-1:]}")
    return errors


def _check_chain(agency_id: int, expected: int) -> None:
    db.session.expire_all()
    seqs = list(
        db.session.execute(
            select(AuditEvent.seq).where(AuditEvent.agency_id == agency_id).order_by(AuditEvent.seq)
        ).scalars()
    )
    assert seqs == list(range(1, expected + 1))  # no gap, no duplicate
    result = audit.verify_chain(agency_id)
    assert result.ok, result
    assert result.count == expected


@pytest.mark.postgres
def test_threads_and_processes_append_to_one_chain_on_postgresql(
    app, needs_postgres, agency, tmp_path
):
    before = db.session.query(AuditEvent).filter_by(agency_id=agency.id).count()
    db.session.commit()

    errors = _append_at_once(app, agency.id, tmp_path, processes=True)

    assert errors == []
    _check_chain(agency.id, before + THREADS * PER_THREAD + PROCESSES * PER_PROCESS)


@pytest.mark.parametrize("processes", [False, True], ids=["threads", "threads-and-processes"])
def test_threads_and_processes_append_to_one_chain_on_sqlite(tmp_path, processes):
    with sqlite_app(tmp_path) as second, second.app_context():
        agency, _user = create_agency("Race Agency", "owner@race.test", "correct horse battery 42")
        before = db.session.query(AuditEvent).filter_by(agency_id=agency.id).count()
        db.session.commit()

        errors = _append_at_once(second, agency.id, tmp_path, processes=processes)

        assert errors == []
        writers = PROCESSES * PER_PROCESS if processes else 0
        _check_chain(agency.id, before + THREADS * PER_THREAD + writers)
