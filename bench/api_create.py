"""Median server time of POST /api/v1/access-requests over 300 calls.

    .venv/bin/python bench/api_create.py

Uses a throwaway PostgreSQL database when one answers on 127.0.0.1:5432
(else SQLite) and Redis database 12 for rate limits; the app is called
in-process (WSGI), so the time measured is the server's alone.
"""

from __future__ import annotations

import os
import socket
import statistics
import sys
import tempfile
import time
from contextlib import closing

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

CALLS = 300
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
BENCH_DB = "latchkey_bench_api"


def _open(port: int) -> bool:
    with closing(socket.socket()) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def database_url(tmp: str) -> tuple[str, bool]:
    if _open(5432):
        import psycopg

        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
        return f"postgresql+psycopg://postgres@127.0.0.1:5432/{BENCH_DB}", True
    return f"sqlite:///{tmp}/bench.sqlite3", False


def drop_database() -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')


def main() -> None:
    from cryptography.fernet import Fernet

    tmp = tempfile.mkdtemp(prefix="latchkey-bench-")
    os.environ["LATCHKEY_INSTANCE_PATH"] = tmp
    url, on_pg = database_url(tmp)
    redis = "redis://127.0.0.1:6379/12" if _open(6379) else None
    from portal import create_app
    from portal.extensions import db

    app = create_app(
        {
            "ENV": {"LATCHKEY_ENV": "test", "LATCHKEY_SANDBOX": "1"},
            "SECRET_KEY": "bench-secret-key-0123456789abcdef0123456789",
            "LATCHKEY_ENCRYPTION_KEYS": [Fernet.generate_key().decode()],
            "SQLALCHEMY_DATABASE_URI": url,
            "REDIS_URL": redis,
            "RATELIMIT_STORAGE_URI": redis or "memory://",
            "API_RATE_LIMIT": "100000 per minute",
            "JOBS_MODE": "rq" if redis else "inline",
        }
    )
    try:
        with app.app_context():
            db.create_all()
            from portal.api.keys import create_key
            from portal.services.agencies import create_agency
            from tests.helpers_requests import PINTEREST_ITEMS, fake_connection

            agency, _user = create_agency("Bench Agency", "bench@bench.test", "correct horse 42 x")
            fake_connection(agency)
            _key, plain = create_key(agency.id, "bench")
            if redis:
                from portal.kv import redis_connection

                redis_connection().flushdb()
        # Server time: measured inside the WSGI app, as the issue asks, so the
        # test client's own overhead is left out.
        server_times: list[float] = []
        inner = app.wsgi_app

        def timed(environ, start_response):
            began = time.perf_counter()
            try:
                return inner(environ, start_response)
            finally:
                server_times.append((time.perf_counter() - began) * 1000)

        app.wsgi_app = timed
        client = app.test_client()
        headers = {"Authorization": f"Bearer {plain}"}
        for n in range(CALLS + 10):
            body = {
                "client": {"name": f"Client {n}", "email": f"client{n}@bench.test"},
                "items": PINTEREST_ITEMS,
                "external_id": f"crm-{n}",
            }
            response = client.post("/api/v1/access-requests", json=body, headers=headers)
            assert response.status_code == 201, response.get_data(as_text=True)
        times = sorted(server_times[10:])  # warm-up excluded
        print(f"database: {'postgresql' if on_pg else 'sqlite'}; redis: {bool(redis)}")
        print(f"POST /api/v1/access-requests x {CALLS}, server time inside app.wsgi_app")
        print(f"median {statistics.median(times):.2f} ms")
        print(f"p90    {times[int(len(times) * 0.9)]:.2f} ms")
        print(f"p99    {times[int(len(times) * 0.99)]:.2f} ms")
        print(f"target < 20 ms median: {'met' if statistics.median(times) < 20 else 'MISSED'}")
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        if redis:
            from redis import Redis

            Redis.from_url(redis).flushdb()
        if on_pg:
            drop_database()


if __name__ == "__main__":
    main()
