"""Two test runs on one machine never share a database, and a run cleans up after itself.

Each run (each xdist worker) creates its own PostgreSQL database and claims
its own Redis index. A run stopped by SIGTERM drops its database on the way
out; a run killed outright leaves them, and the next run removes them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from redis import Redis

from tests import conftest

ROOT = Path(__file__).resolve().parent.parent


def _dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def _admin_url(app) -> str:
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    return conftest._plain(url.rpartition("/")[0] + "/postgres")


def _databases(app) -> set[str]:
    with psycopg.connect(_admin_url(app), autocommit=True) as conn:
        return {row[0] for row in conn.execute("SELECT datname FROM pg_database")}


def test_this_run_has_a_database_and_a_redis_index_of_its_own(app, needs_postgres, needs_redis):
    database = app.config["SQLALCHEMY_DATABASE_URI"].rpartition("/")[2]
    assert database.endswith(f"_run_{conftest._session_tag()}")
    index = int(app.config["REDIS_URL"].rsplit("/", 1)[1])
    claims = Redis.from_url(app.config["REDIS_URL"].rsplit("/", 1)[0] + "/0")
    assert claims.get(f"latchkey-test:redis-index:{index}").decode() == conftest._session_tag()


def test_a_killed_runs_database_and_redis_index_are_reclaimed(app, needs_postgres, needs_redis):
    base = app.config["SQLALCHEMY_DATABASE_URI"].rpartition("/")[2].split("_run_")[0]
    stale = f"{base}_run_gw9_{_dead_pid()}"
    with psycopg.connect(_admin_url(app), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{stale}"')
        conftest._drop_abandoned_databases(conn, base)
    assert stale not in _databases(app)

    root = app.config["REDIS_URL"].rsplit("/", 1)[0]
    claims = Redis.from_url(root + "/0")
    free = next(i for i in range(2, 16) if not claims.exists(f"latchkey-test:redis-index:{i}"))
    dead = f"gw9_{_dead_pid()}"
    claims.set(f"latchkey-test:redis-index:{free}", dead, ex=60)
    Redis.from_url(f"{root}/{free}").set("left-over", "1")
    os.environ["LATCHKEY_TEST_REDIS_URL"] = root + "/15"
    try:
        url = conftest.redis_url()
    finally:
        del os.environ["LATCHKEY_TEST_REDIS_URL"]
        claimed = int(url.rsplit("/", 1)[1])
        claims.delete(f"latchkey-test:redis-index:{claimed}")
        conftest._CLAIMED.remove((root, claimed))
    # Other runs may claim and free indexes meanwhile: what matters is that the
    # dead run's claim is gone and its keys with it.
    assert claims.get(f"latchkey-test:redis-index:{free}") != dead.encode()
    assert Redis.from_url(f"{root}/{free}").get("left-over") is None


INTERRUPTED = """
import time


def test_waits(app):
    print("DATABASE", app.config["SQLALCHEMY_DATABASE_URI"].rpartition("/")[2], flush=True)
    time.sleep(60)
"""


def test_a_run_stopped_by_sigterm_drops_its_database(app, needs_postgres, tmp_path):
    test_file = ROOT / "tests" / f"test_zz_interrupted_{os.getpid()}.py"
    test_file.write_text(INTERRUPTED)
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", str(test_file)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "CI": ""},
        )
        name = None
        deadline = time.monotonic() + 60
        for line in process.stdout:
            if line.startswith("DATABASE "):
                name = line.split()[1]
                break
            assert time.monotonic() < deadline
        assert name and name in _databases(app)
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=30)[0]
        assert name not in _databases(app), f"the interrupted run left {name}:\n{output[-2000:]}"
    finally:
        test_file.unlink()
        if process.poll() is None:
            process.kill()


@pytest.fixture(autouse=True)
def _no_stray_test_file():
    yield
    for path in (ROOT / "tests").glob("test_zz_interrupted_*.py"):
        if not conftest._pid_alive(int(path.stem.rsplit("_", 1)[1])):
            path.unlink()
