"""How fast are the client's pages under /r/<token>, and how many queries do they make?

Standalone (not a test). Builds its own app (LATCHKEY_ENV=test, sandbox on):

  * PostgreSQL when it answers on 127.0.0.1:5432: a throwaway database
    `latchkey_bench_<pid>`, created here and dropped at the end (override the
    server with LATCHKEY_BENCH_DATABASE_URL, a URL of its admin database);
    else SQLite in a temporary folder;
  * Redis when it answers on 127.0.0.1:6379 and its db index 1 is empty (a
    spare index: the test suite uses 2..15), flushed at the end; else none
    (in-memory rate limits, jobs inline);

then one agency connected to the emulated Pinterest, and a request in each
interesting state (just sent, verification running, completed, waiting on a
manual step). For each client route it sends WARMUP requests, then RUNS
requests through the WSGI app, and measures, per request:

  * server time inside `app.wsgi_app` (routing, database, templates; the
    test client's own work is left out);
  * SQL statements sent (SQLAlchemy `before_cursor_execute`).

Each request comes from a different client address so the per-IP rate limit
(60/minute on /r/) is applied, with its storage, but never refuses.
No platform is called: these pages render from the database alone.

Prints a table: route, median ms, p95 ms, queries per request (max).
Targets (issue 3): median under 15 ms, at most 3 queries.

    .venv/bin/python bench/client_pages.py [--runs 300] [--warmup 30]

Exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET_MEDIAN_MS = 15.0
TARGET_QUERIES = 3
PG_ADMIN_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
REDIS_SPARE = "redis://127.0.0.1:6379/1"


# ---------------------------------------------------------------- services


def port_open(host: str, port: int) -> bool:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def _plain(url: str) -> str:
    return url.replace("postgresql+psycopg", "postgresql")


@contextlib.contextmanager
def database(tmp: Path):
    """A database URL for this run; a PostgreSQL one is dropped afterwards."""
    admin = os.environ.get("LATCHKEY_BENCH_DATABASE_URL")
    if not admin and port_open("127.0.0.1", 5432):
        admin = PG_ADMIN_DEFAULT
    if not admin:
        yield f"sqlite:///{tmp / 'bench.sqlite3'}", "SQLite"
        return
    import psycopg

    name = f"latchkey_bench_{os.getpid()}"
    with psycopg.connect(_plain(admin), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{admin.rpartition('/')[0]}/{name}", "PostgreSQL"
    finally:
        with psycopg.connect(_plain(admin), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def spare_redis():
    """Redis db 1 when reachable and empty (flushed afterwards), else None."""
    if not port_open("127.0.0.1", 6379):
        yield None
        return
    from redis import Redis

    conn = Redis.from_url(REDIS_SPARE)
    if conn.dbsize():
        print(f"{REDIS_SPARE} is not empty: running without Redis", file=sys.stderr)
        yield None
        return
    try:
        yield REDIS_SPARE
    finally:
        conn.flushdb()


def build_app(tmp: Path, database_url: str, redis_url: str | None):
    from cryptography.fernet import Fernet

    os.environ["LATCHKEY_INSTANCE_PATH"] = str(tmp / "instance")
    from portal import create_app

    return create_app(
        {
            "ENV": {"LATCHKEY_ENV": "test", "LATCHKEY_SANDBOX": "1"},
            "SECRET_KEY": "bench-secret-key-0123456789abcdef0123456789",
            "LATCHKEY_ENCRYPTION_KEYS": [Fernet.generate_key().decode()],
            "SQLALCHEMY_DATABASE_URI": database_url,
            "REDIS_URL": redis_url,
            "RATELIMIT_STORAGE_URI": redis_url or "memory://",
            "JOBS_MODE": "rq" if redis_url else "inline",
            "LATCHKEY_BASE_URL": "http://127.0.0.1:5000",
        }
    )


# ------------------------------------------------------------------ data


PINTEREST_ITEMS = [
    {"platform": "pinterest", "asset_type": "AD_ACCOUNT", "permissions": ["CAMPAIGN_MANAGER"]},
    {"platform": "pinterest", "asset_type": "PROFILE", "permissions": ["PROFILE_PUBLISHER"]},
]
MANUAL_ITEMS = [
    {"platform": "pinterest", "asset_type": "AD_ACCOUNT", "permissions": ["FINANCE_VIEW"]},
    {"platform": "pinterest", "asset_type": "TAG", "permissions": ["VERIFY_TAG"]},
]


def seed() -> dict[str, str]:
    """An agency connected to the sandbox and one request per state; their tokens."""
    from portal.extensions import db
    from portal.models import Grant
    from portal.models.base import utcnow
    from portal.sandbox.connect import connect_agency_to_sandbox
    from portal.services.agencies import create_agency
    from portal.services.requests import create_request

    agency, owner = create_agency("Acme Agency", "owner@acme.test", "bench password 0123456789")
    agency.support_email = "hello@acme.test"
    db.session.commit()
    connect_agency_to_sandbox(agency)

    def request(items, **fields):
        access_request, token = create_request(
            agency,
            owner,
            client_name="Blue Harbor",
            client_email="marketing@blueharbor.test",
            locale="en",
            items=items,
            message="We need this to run your spring campaign.",
        )
        for name, value in fields.items():
            setattr(access_request, name, value)
        db.session.commit()
        return access_request, token

    def grant(access_request, index, asset_id, name, status, manual=False):
        item = access_request.items[index]
        now = utcnow()
        db.session.add(
            Grant(
                agency_id=access_request.agency_id,
                access_request_id=access_request.id,
                item_index=index,
                platform=item["platform"],
                asset_type=item["asset_type"],
                permissions=list(item["permissions"]),
                asset_id=asset_id,
                asset_name=name,
                status=status,
                manual=manual,
                granted_at=now if status in ("granted", "verifying", "verified") else None,
                verifying_since=now if status == "verifying" else None,
                verified_at=now if status == "verified" else None,
            )
        )

    tokens = {}
    _fresh, tokens["sent"] = request(PINTEREST_ITEMS)

    running, tokens["verifying"] = request(PINTEREST_ITEMS, status="in_progress")
    grant(running, 0, "549755885175", "Juniper Home Goods - United States", "verifying")
    grant(running, 1, "juniperhome", "Juniper Home Goods", "granted")

    done, tokens["completed"] = request(PINTEREST_ITEMS, status="completed", completed_at=utcnow())
    grant(done, 0, "549755885175", "Juniper Home Goods - United States", "verified")
    grant(done, 1, "juniperhome", "Juniper Home Goods", "verified")

    manual, tokens["manual"] = request(MANUAL_ITEMS, status="in_progress")
    grant(manual, 0, "549755885175", "Juniper Home Goods - United States", "verified")
    grant(manual, 1, "549755885175", "Pinterest Tag on Juniper Home Goods", "needs_action", True)
    db.session.commit()
    return tokens


def routes(tokens: dict[str, str]) -> list[tuple[str, str, dict[str, str]]]:
    """(label, path, headers) for each page and fragment measured."""
    htmx = {"HX-Request": "true"}
    poll = {"HX-Request": "true", "HX-Target": "grant-status"}
    sent, running = tokens["sent"], tokens["verifying"]
    done, manual = tokens["completed"], tokens["manual"]
    return [
        ("GET /r/<t> (full page, welcome)", f"/r/{sent}", {}),
        ("welcome fragment", f"/r/{sent}", htmx),
        ("platform page (full, connect)", f"/r/{sent}/p/pinterest", {}),
        ("platform fragment (connect)", f"/r/{sent}/p/pinterest", htmx),
        ("platform fragment (results)", f"/r/{running}/p/pinterest", htmx),
        ("platform status poll", f"/r/{running}/p/pinterest", poll),
        ("summary page (full, verifying)", f"/r/{running}/summary", {}),
        ("summary fragment (verifying)", f"/r/{running}/summary", htmx),
        ("summary status poll", f"/r/{running}/summary", poll),
        ("summary fragment (completed)", f"/r/{done}/summary", htmx),
        ("manual steps page (full)", f"/r/{manual}/steps", {}),
        ("manual steps fragment", f"/r/{manual}/steps", htmx),
        ("finish page (full)", f"/r/{done}/finish", {}),
    ]


# ---------------------------------------------------------------- measure


class Meter:
    """Times each request inside the WSGI app and counts its SQL statements."""

    def __init__(self, app, engine):
        from sqlalchemy import event

        self.seconds = 0.0
        self.queries = 0
        inner = app.wsgi_app

        def timed(environ, start_response):
            started = time.perf_counter()
            try:
                # Consume the body inside the timing: rendering may be lazy.
                return list(inner(environ, start_response))
            finally:
                self.seconds = time.perf_counter() - started

        app.wsgi_app = timed
        event.listen(engine, "before_cursor_execute", self._count)

    def _count(self, *args) -> None:
        self.queries += 1

    def reset(self) -> None:
        self.seconds = 0.0
        self.queries = 0


def measure(app, meter, path, headers, runs, warmup, address):
    client = app.test_client()
    times, queries = [], []
    for i in range(warmup + runs):
        meter.reset()
        answer = client.get(path, headers=headers, environ_overrides={"REMOTE_ADDR": next(address)})
        if answer.status_code != 200:
            raise SystemExit(f"{path} {headers}: HTTP {answer.status_code}")
        if i >= warmup:
            times.append(meter.seconds * 1000)
            queries.append(meter.queries)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1], queries


def addresses():
    n = 0
    while True:
        n += 1
        yield f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30)
    args = parser.parse_args()

    with (
        tempfile.TemporaryDirectory(prefix="latchkey-bench-") as folder,
        database(Path(folder)) as (database_url, database_name),
        spare_redis() as redis_url,
    ):
        tmp = Path(folder)
        (tmp / "instance").mkdir()
        app = build_app(tmp, database_url, redis_url)
        from portal.extensions import db

        with app.app_context():
            db.create_all()
            tokens = seed()
            engine = db.engine
        meter = Meter(app, engine)
        address = addresses()
        print(
            f"Client pages, {args.runs} requests each after {args.warmup} warm-up; "
            f"{database_name}, {'Redis' if redis_url else 'no Redis'}; "
            f"server time inside app.wsgi_app"
        )
        header = f"{'route':<34} {'median ms':>10} {'p95 ms':>8} {'queries':>8}"
        print(header)
        print("-" * len(header))
        missed = []
        for label, path, headers in routes(tokens):
            median, p95, queries = measure(
                app, meter, path, headers, args.runs, args.warmup, address
            )
            low, high = min(queries), max(queries)
            spread = f"{high}" if low == high else f"{low}-{high}"
            flag = ""
            if median >= TARGET_MEDIAN_MS or max(queries) > TARGET_QUERIES:
                flag = "  <- misses target"
                missed.append(label)
            print(f"{label:<34} {median:>10.2f} {p95:>8.2f} {spread:>8}{flag}")
        print(
            f"\nTargets: median < {TARGET_MEDIAN_MS:g} ms, at most {TARGET_QUERIES} queries "
            f"per request. {'All met.' if not missed else 'Missed: ' + ', '.join(missed)}"
        )
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
