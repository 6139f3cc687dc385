# ruff: noqa: E501, S608  (bulk-load column lists read best on one line)
"""Bench: the agency's request list and dashboard at 100,000 requests.

Standalone: creates a throwaway PostgreSQL database, bulk-loads it with COPY
(one agency with 100,000 requests and 300,000 grants, plus 1,000,000 rows
spread over other agencies), then times the real views through Flask's test
client (server time: routing, queries, templates) and counts their queries
at two page sizes.

    .venv/bin/python bench/admin_list.py [--url postgresql://postgres@127.0.0.1:5432/postgres]

Skips with a message when PostgreSQL cannot be reached.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

MAIN_REQUESTS = 100_000
MAIN_GRANTS = 300_000
OTHER_AGENCIES = 50
OTHER_REQUESTS = 500_000  # + as many grants: 1,000,000 rows across agencies
RUNS = 30
STATUSES = [
    "sent",
    "opened",
    "in_progress",
    "completed",
    "partially_completed",
    "expired",
    "revoked",
]
# Mostly verified, as in a working agency; 5% failed, 5% waiting on a manual step.
GRANT_STATUSES = ["verified"] * 16 + ["failed", "needs_action", "verifying", "granted"]
ITEMS = json.dumps(
    [{"platform": "pinterest", "asset_type": "AD_ACCOUNT", "permissions": ["CAMPAIGN_MANAGER"]}]
)


def _copy(cur, table: str, columns: list[str], rows) -> None:
    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join("\\N" if v is None else str(v) for v in row) + "\n")
    buffer.seek(0)
    names = ", ".join(columns)
    with cur.copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
        while chunk := buffer.read(1 << 20):
            copy.write(chunk)


def load(url: str) -> tuple[int, float]:
    import psycopg

    started = time.perf_counter()
    rng = random.Random(7)
    now = datetime.now(UTC)
    with (
        psycopg.connect(url.replace("+psycopg", ""), autocommit=False) as conn,
        conn.cursor() as cur,
    ):
        agencies = [(i, f"Agency {i}", f"agency-{i}", "#4338ca", "en", "{}", "f", now) for i in range(1, OTHER_AGENCIES + 2)]  # fmt: skip
        _copy(cur, "agency", ["id", "name", "slug", "primary_color", "default_locale", "identities", "require_2fa", "created_at"], agencies)  # fmt: skip
        plan = [(1, MAIN_REQUESTS, MAIN_GRANTS)]
        per_other = OTHER_REQUESTS // OTHER_AGENCIES
        plan += [(a, per_other, per_other) for a in range(2, OTHER_AGENCIES + 2)]
        client_rows, request_rows, grant_rows = [], [], []
        rid = gid = 0
        for agency_id, n_requests, n_grants in plan:
            first = rid + 1
            for _ in range(n_requests):
                rid += 1
                created = now - timedelta(minutes=rng.randint(0, 200 * 24 * 60))
                status = rng.choice(STATUSES)
                opened = created + timedelta(hours=1) if status != "sent" else None
                completed = (
                    created + timedelta(hours=rng.randint(1, 96)) if status == "completed" else None
                )
                client_rows.append(
                    (
                        rid,
                        agency_id,
                        f"Client {rid}",
                        f"client{rid}@example.test",
                        "en",
                        f"crm-{rid}",
                        created,
                    )
                )
                request_rows.append((rid, agency_id, rid, ITEMS, "[]", "{}", "en", f"{rid:064x}", "x", status, f"crm-{rid}", created, created + timedelta(days=rng.randint(-10, 30)), created, opened, completed, created))  # fmt: skip
            for _ in range(n_grants):
                gid += 1
                r = rng.randint(first, rid)
                grant_rows.append((gid, agency_id, r, 0, "pinterest", "AD_ACCOUNT", '["CAMPAIGN_MANAGER"]', f"asset-{gid}", "Ad account", rng.choice(GRANT_STATUSES), "f", "{}", 0, now, now))  # fmt: skip
        _copy(cur, "client", ["id", "agency_id", "name", "email", "locale", "external_id", "created_at"], client_rows)  # fmt: skip
        _copy(cur, "access_request", ["id", "agency_id", "client_id", "items", "questions", "answers", "locale", "token_hash", "token_encrypted", "status", "external_id", "created_at", "expires_at", "sent_at", "opened_at", "completed_at", "updated_at"], request_rows)  # fmt: skip
        _copy(cur, "grant", ["id", "agency_id", "access_request_id", "item_index", "platform", "asset_type", "permissions", "asset_id", "asset_name", "status", "manual", "external", "verify_attempts", "created_at", "updated_at"], grant_rows)  # fmt: skip
        for table in ("agency", "client", "access_request", "grant"):
            cur.execute(f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), (SELECT max(id) FROM \"{table}\"))")  # fmt: skip
        conn.commit()
        conn.autocommit = True
        cur.execute("VACUUM ANALYZE")
    total = OTHER_AGENCIES + 1 + len(client_rows) + len(request_rows) + len(grant_rows)
    return total, time.perf_counter() - started


def timed(client, path: str, runs: int = RUNS) -> tuple[float, int]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        answer = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, (path, answer.status_code)
    return statistics.median(times), max(times)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default=os.environ.get("LATCHKEY_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"))  # fmt: skip
    args = parser.parse_args()
    try:
        import psycopg

        admin_url = args.url.replace("+psycopg", "")
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=3) as conn:
            name = f"latchkey_bench_{os.getpid()}"
            conn.execute(f'CREATE DATABASE "{name}"')
    except Exception as exc:  # a bench: say why and stop
        print(f"SKIP: PostgreSQL not reachable at {args.url} ({exc.__class__.__name__}: {exc})")
        return 0
    base = args.url.rpartition("/")[0]
    url = f"{base}/{name}".replace("postgresql://", "postgresql+psycopg://")
    try:
        return run(url)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(url: str) -> int:
    from cryptography.fernet import Fernet

    os.environ["LATCHKEY_INSTANCE_PATH"] = tempfile.mkdtemp(prefix="latchkey-bench-")
    from portal import create_app
    from portal.extensions import db

    app = create_app(
        {
            "ENV": {"LATCHKEY_ENV": "test", "LATCHKEY_SANDBOX": "1"},
            "SECRET_KEY": "bench-secret-key-0123456789abcdef0123456789",
            "LATCHKEY_ENCRYPTION_KEYS": [Fernet.generate_key().decode()],
            "SQLALCHEMY_DATABASE_URI": url,
            "REDIS_URL": None,
            "RATELIMIT_ENABLED": False,
            "JOBS_MODE": "inline",
            "TESTING": True,
        }
    )
    with app.app_context():
        db.create_all()
    rows, seconds = load(url)
    print(f"loaded {rows:,} rows in {seconds:.1f} s")
    with app.app_context():
        from portal.auth.passwords import hash_password
        from portal.models import Membership, User

        user = User(email="bench@acme.test", password_hash=hash_password("bench password 1234"))
        db.session.add(user)
        db.session.flush()
        db.session.add(Membership(agency_id=1, user_id=user.id, role="owner"))
        db.session.commit()
        user_key = user.get_id()
        client = app.test_client()
        now = int(time.time())
        with client.session_transaction() as sess:
            sess.update({"_user_id": user_key, "_fresh": True, "auth_at": now, "seen_at": now, "agency_id": 1})  # fmt: skip
        cases = [
            ("list, status filter", "/app/requests?status=completed"),
            ("list, status + platform", "/app/requests?status=in_progress&platform=pinterest"),
            ("list, first page", "/app/requests"),
            ("list, sort by expiry", "/app/requests?sort=expires&status=sent"),
            ("list, page 100", "/app/requests?status=opened&page=100"),
            ("list, search e-mail", "/app/requests?q=client4242%40"),
            ("list, search name", "/app/requests?q=Client%20424"),
            ("list, search external id", "/app/requests?q=crm-4242"),
            ("dashboard", "/app/"),
            ("clients, search", "/app/clients?q=client42"),
        ]
        client.get("/app/requests")  # warm up
        print(f"{'case':30} {'median ms':>10} {'max ms':>8}")
        for label, path in cases:
            med, worst = timed(client, path)
            print(f"{label:30} {med:10.1f} {worst:8.1f}")
        from sqlalchemy import event

        counts = {}
        for size in (10, 100):
            statements: list[str] = []

            def count(*a, _s=statements):
                _s.append(a[2])

            event.listen(db.engine, "before_cursor_execute", count)
            client.get(f"/app/requests?status=completed&per_page={size}")
            event.remove(db.engine, "before_cursor_execute", count)
            counts[size] = len(statements)
        print(f"queries for the list at 10 rows: {counts[10]}, at 100 rows: {counts[100]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
