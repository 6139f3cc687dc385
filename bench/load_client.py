"""Client pages under load: gunicorn as deployed, 50 connections, next to a minimal Flask page.

Standalone (not a test); needs `wrk` (Debian package) and PostgreSQL on
127.0.0.1:5432 (Redis on 127.0.0.1:6379 db 1 is used when empty, as in
client_pages.py). It

  1. creates a throwaway PostgreSQL database and seeds it with an agency and
     requests in several states (bench/client_pages.py's `seed`);
  2. starts gunicorn with the repository's gunicorn.conf.py and wsgi:app in
     production settings (LATCHKEY_ENV=production, no sandbox, JSON logs to
     a file, the loopback trusted as the reverse proxy);
  3. runs `wrk -c 50 -d DURATION` with bench/wrk_summary.lua (each request from
     its own X-Forwarded-For address, so the per-IP rate limit runs with its
     Redis storage but never refuses) on: the landing page (full page), the
     platform step fragment (htmx) and the live status poll (htmx);
  4. stops it and serves bench/minimal_wsgi.py (one Flask page from an inline
     template) with the same gunicorn configuration, and loads it the same way.

Prints throughput (requests/s) and p50/p95/p99 latency for each, and the
ratio of each Latchkey page's throughput to the minimal page's (aim: >= 0.5).
Every response must be 2xx: exit status 1 otherwise.

    .venv/bin/python bench/load_client.py [--duration 60] [--connections 50]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from client_pages import database, port_open, seed, spare_redis  # noqa: E402

TARGET_RATIO = 0.5


def free_port() -> int:
    import socket

    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def gunicorn(app_path: str, env: dict[str, str], port: int, log: Path):
    """gunicorn -c gunicorn.conf.py APP on 127.0.0.1:PORT until the block ends."""
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "-c",
            str(ROOT / "gunicorn.conf.py"),
            app_path,
        ],
        cwd=ROOT,
        env={**env, "GUNICORN_BIND": f"127.0.0.1:{port}"},
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while not port_open("127.0.0.1", port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"gunicorn did not start; see {log}:\n{log.read_text()[-2000:]}")
            time.sleep(0.2)
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


def load(url: str, duration: int, connections: int, header: str | None = None) -> dict:
    """One wrk run; its JSON summary line."""
    env = {**os.environ, "WRK_HEADER": header or ""}
    threads = min(2, connections)
    result = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{duration}s",
            "--timeout",
            "10s",
            "-s",
            str(ROOT / "bench" / "wrk_summary.lua"),
            url,
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    line = [row for row in result.stdout.splitlines() if row.startswith("{")][-1]
    return json.loads(line)


def _wait_ready(base: str, log: Path) -> None:
    """Until /healthz answers 200 (the workers, not only the master's socket)."""
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=5) as answer:  # noqa: S310
                if answer.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"Latchkey is not healthy; its log:\n{log.read_text()[-3000:]}")
        time.sleep(0.3)


def warm(url: str, header: str | None = None, count: int = 30) -> None:
    """A few requests first (the loopback http URLs of this run only)."""
    for n in range(count):
        request = urllib.request.Request(  # noqa: S310 (http on the loopback)
            url, headers={"X-Forwarded-For": f"10.9.9.{n}"}
        )
        if header:
            name, _, value = header.partition(":")
            request.add_header(name.strip(), value.strip())
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            answer.read()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=60, help="seconds per page")
    parser.add_argument("--connections", type=int, default=50)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing: apt-get install wrk")
    if not port_open("127.0.0.1", 5432):
        raise SystemExit("PostgreSQL must answer on 127.0.0.1:5432")

    from cryptography.fernet import Fernet

    rows = []
    with (
        tempfile.TemporaryDirectory(prefix="latchkey-load-") as folder,
        database(Path(folder)) as (database_url, _kind),
        spare_redis() as redis_url,
    ):
        tmp = Path(folder)
        metrics_dir = tmp / "metrics"
        metrics_dir.mkdir()
        key = Fernet.generate_key().decode()
        secret = secrets.token_urlsafe(48)
        os.environ["LATCHKEY_INSTANCE_PATH"] = str(tmp / "instance")

        # Seed through the app in test mode (the sandbox makes the agency's connection).
        from portal import create_app
        from portal.extensions import db

        app = create_app(
            {
                "ENV": {"LATCHKEY_ENV": "test", "LATCHKEY_SANDBOX": "1"},
                "SECRET_KEY": secret,
                "LATCHKEY_ENCRYPTION_KEYS": [key],
                "SQLALCHEMY_DATABASE_URI": database_url,
                "REDIS_URL": None,
                "RATELIMIT_STORAGE_URI": "memory://",
                "JOBS_MODE": "thread",  # the expiry planned at creation never comes due here
                "LATCHKEY_BASE_URL": "https://latchkey.bench.example",
            }
        )
        with app.app_context():
            db.create_all()
            tokens = seed()
            db.session.remove()
            db.engine.dispose()

        env = {
            "PATH": os.environ.get("PATH", ""),
            "PYTHONPATH": str(ROOT),
            "LATCHKEY_ENV": "production",
            "LATCHKEY_SANDBOX": "0",
            "LATCHKEY_BASE_URL": "https://latchkey.bench.example",
            "LATCHKEY_INSTANCE_PATH": str(tmp / "instance"),
            "LATCHKEY_TRUSTED_PROXIES": "127.0.0.1",
            "LATCHKEY_ENCRYPTION_KEYS": key,
            "SECRET_KEY": secret,
            "DATABASE_URL": database_url,
            "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        }
        if redis_url:
            env["REDIS_URL"] = redis_url
        log = tmp / "gunicorn.log"
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        htmx = "HX-Request: true"
        pages = [
            ("landing page (full)", f"/r/{tokens['sent']}", None),
            ("platform step (htmx fragment)", f"/r/{tokens['sent']}/p/pinterest", htmx),
            ("status poll (htmx fragment)", f"/r/{tokens['verifying']}/summary", htmx),
        ]
        with gunicorn("wsgi:app", env, port, log):
            _wait_ready(base, log)
            for label, path, header in pages:
                try:
                    warm(base + path, header)
                except OSError as exc:
                    tail = log.read_text()[-3000:]
                    raise SystemExit(f"{label}: {exc}; the log:\n{tail}") from exc
                rows.append((label, load(base + path, args.duration, args.connections, header)))

        port = free_port()
        with gunicorn("bench.minimal_wsgi:app", env, port, log):
            warm(f"http://127.0.0.1:{port}/")
            minimal = load(f"http://127.0.0.1:{port}/", args.duration, args.connections)
        rows.append(("minimal Flask page (same gunicorn)", minimal))
        workers = _workers(log)

    load_avg = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"machine: {os.cpu_count()} CPUs, load average {load_avg}; gunicorn {workers}")
    print(
        f"wrk: {args.connections} connections, {args.duration} s per page, "
        f"database {_kind}, Redis {'yes' if redis_url else 'no'}"
    )
    print(
        f"{'page':38} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
        f"{'non-2xx':>8} {'ratio':>6}"
    )
    failed = False
    for label, row in rows:
        ratio = row["rps"] / minimal["rps"] if minimal["rps"] else 0.0
        print(
            f"{label:38} {row['rps']:8.1f} {row['p50_ms']:8.1f} {row['p95_ms']:8.1f} "
            f"{row['p99_ms']:8.1f} {row['non_2xx'] + row['socket_errors']:8d} {ratio:6.2f}"
        )
        failed |= bool(row["non_2xx"] or row["socket_errors"])
    worst = min(row["rps"] for label, row in rows[:-1]) / minimal["rps"]
    print(
        f"target: each page at least {TARGET_RATIO:.1f}x the minimal page's throughput -> "
        f"{'met' if worst >= TARGET_RATIO else 'MISSED'} (lowest {worst:.2f})"
    )
    if failed:
        print("some responses were not 2xx: see the gunicorn log", file=sys.stderr)
    return 1 if failed else 0


def _workers(log: Path) -> str:
    """What gunicorn started, from its log (both servers use the same settings)."""
    booted = log.read_text(errors="replace").count("Booting worker")
    return f"{booted // 2} worker processes (gthread) per server"


if __name__ == "__main__":
    sys.exit(main())
