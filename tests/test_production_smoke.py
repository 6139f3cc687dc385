"""Production smoke test: the processes of deploy/ run as they would in production.

gunicorn (2 worker processes, gunicorn.conf.py, TLS), two `latchkey worker`
processes (one of them elected to run the periodic-job scheduler) against a
fresh PostgreSQL database migrated with `latchkey db upgrade` and a Redis
database of their own, with LATCHKEY_ENV=production. The only departure from
a real deployment is the sandbox, let in by the smoke test's explicit
override (a loopback base URL plus LATCHKEY_PRODUCTION_SMOKE_TEST_ALLOW_SANDBOX
set to its exact phrase; tests/test_observability.py checks production refuses
it otherwise).

One full request then goes through the API and the client pages (played by
`requests` as the browser), and the test checks completion, the PDF, signed
webhooks, readiness, metrics and the logs.
"""

from __future__ import annotations

import datetime as dt
import http.server
import ipaddress
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import closing, suppress
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from cryptography import x509
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from helpers_requests import csrf_from, form_fields
from prometheus_client.parser import text_string_to_metric_families
from standardwebhooks import Webhook

from portal.config import SMOKE_TEST_CONSENT, SMOKE_TEST_VARIABLE

pytestmark = [pytest.mark.smoke, pytest.mark.postgres, pytest.mark.redis]

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
PG_ADMIN = os.environ.get(
    "LATCHKEY_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_ROOT = os.environ.get("LATCHKEY_TEST_REDIS_URL", "redis://127.0.0.1:6379/15").rsplit("/", 1)[
    0
]
PASSWORD = "smoke test passphrase 8812 quartz"
START_TIMEOUT = 60
FLOW_TIMEOUT = 60


# ----------------------------------------------------------------- helpers


def _port_open(host: str, port: int) -> bool:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def _free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _services_or_skip() -> None:
    pg = urlsplit(PG_ADMIN.replace("postgresql+psycopg", "postgresql"))
    redis = urlsplit(REDIS_ROOT)
    missing = [
        name
        for name, host, port in (
            ("PostgreSQL", pg.hostname, pg.port or 5432),
            ("Redis", redis.hostname, redis.port or 6379),
        )
        if not _port_open(host or "127.0.0.1", port)
    ]
    if missing:
        message = f"the production smoke test needs {' and '.join(missing)}"
        if CI:
            pytest.fail(f"CI=true: {message}")
        pytest.skip(message)


def _self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1: gunicorn serves TLS, so the Secure cookies of
    production work, and the test (and the app's own calls) trust this one."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "latchkey smoke test")])
    now = dt.datetime.now(dt.UTC)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=True,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([x509.OID_SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path


class _Database:
    """A fresh PostgreSQL database for the run, dropped afterwards."""

    def __init__(self):
        import psycopg

        self.admin = PG_ADMIN.replace("postgresql+psycopg", "postgresql")
        base, _, name = PG_ADMIN.rpartition("/")
        self.name = f"{name}_smoke_{os.getpid()}"
        self.url = f"{base}/{self.name}"
        with psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{self.name}"')

    def drop(self) -> None:
        import psycopg

        with psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


class _RedisIndex:
    """A Redis database index of its own, claimed like tests/conftest.py does."""

    def __init__(self):
        from redis import Redis

        self.claims = Redis.from_url(REDIS_ROOT + "/0")
        for index in range(2, 16):
            key = f"latchkey-test:redis-index:{index}"
            if self.claims.set(key, f"smoke_{os.getpid()}", nx=True, ex=7200):
                self.key, self.url = key, f"{REDIS_ROOT}/{index}"
                self.client = Redis.from_url(self.url)
                self.client.flushdb()
                return
        pytest.fail("no free Redis database index (2..15) for the smoke test")

    def release(self) -> None:
        self.client.flushdb()
        self.claims.delete(self.key)


class _Receiver:
    """A webhook receiver on a local thread: keeps every delivery, answers 204."""

    def __init__(self):
        self.received: list[dict] = []
        received = self.received

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode()
                received.append(
                    {"headers": {k.lower(): v for k, v in self.headers.items()}, "body": body}
                )
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):  # quiet
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/latchkey"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _Stack:
    """The production processes, their settings and their logs."""

    def __init__(self, folder: Path, database: _Database, redis: _RedisIndex):
        self.folder = folder
        self.port = _free_port()
        self.base = f"https://127.0.0.1:{self.port}"
        self.cert, self.key = _self_signed_certificate(folder)
        self.metrics_token = secrets.token_urlsafe(32)
        self.metrics_dir = folder / "metrics"
        self.processes: list[tuple[str, subprocess.Popen, Path]] = []
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("LATCHKEY_", "PROMETHEUS_", "GUNICORN_", "WEB_CONCURRENCY"))
            and not k.endswith(("_CLIENT_ID", "_CLIENT_SECRET"))
            and k not in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "SMTP_URL", "FLASK_APP")
        }
        env.update(
            {
                "LATCHKEY_ENV": "production",
                "DATABASE_URL": database.url,
                "REDIS_URL": redis.url,
                "SECRET_KEY": secrets.token_urlsafe(48),
                "LATCHKEY_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
                "LATCHKEY_AUDIT_KEYS": secrets.token_urlsafe(32),
                "LATCHKEY_BASE_URL": self.base,
                "LATCHKEY_INSTANCE_PATH": str(folder / "instance"),
                "LATCHKEY_SANDBOX": "1",
                SMOKE_TEST_VARIABLE: SMOKE_TEST_CONSENT,
                "LATCHKEY_METRICS_TOKEN": self.metrics_token,
                # The test plays the reverse proxy: its X-Request-ID is trusted.
                "LATCHKEY_TRUSTED_PROXIES": "127.0.0.1",
                "GUNICORN_BIND": f"127.0.0.1:{self.port}",
                "WEB_CONCURRENCY": "2",
                "PROMETHEUS_MULTIPROC_DIR": str(self.metrics_dir),
                # The app calls the sandbox on its own base URL: trust the test's certificate.
                "REQUESTS_CA_BUNDLE": str(self.cert),
                "NO_PROXY": "127.0.0.1,localhost",
                "PYTHONUNBUFFERED": "1",
            }
        )
        self.env = env

    # processes

    def run(self, *args: str) -> str:
        """Run a `latchkey` command to completion; its output."""
        done = subprocess.run(
            [str(BIN / "latchkey"), *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, f"latchkey {' '.join(args[:2])} failed:\n{done.stderr[-3000:]}"
        return done.stdout

    def start(self, name: str, *command: str) -> None:
        log_path = self.folder / f"{name}.log"
        log_file = log_path.open("wb")
        process = subprocess.Popen(
            list(command),
            cwd=ROOT,
            env=self.env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped with its children
        )
        log_file.close()
        self.processes.append((name, process, log_path))

    def check_alive(self) -> None:
        for name, process, log_path in self.processes:
            if process.poll() is not None:
                pytest.fail(f"{name} exited with {process.returncode}:\n{self.tail(log_path)}")

    def stop(self) -> None:
        for _name, process, _log in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for _name, process, _log in self.processes:
            with suppress(subprocess.TimeoutExpired):
                process.wait(max(deadline - time.monotonic(), 0.1))
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # the group: work horses, cron child
            process.wait(5)

    @staticmethod
    def tail(path: Path, lines: int = 60) -> str:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def log_text(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text(errors="replace")

    # HTTP

    def session(self) -> requests.Session:
        session = requests.Session()
        session.verify = str(self.cert)
        session.trust_env = False
        return session

    def wait_ready(self, timeout: float = START_TIMEOUT) -> dict:
        session = self.session()
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                answer = session.get(f"{self.base}/readyz", timeout=5)
                last = answer.json()
                if answer.status_code == 200:
                    return last
            except requests.RequestException as exc:
                last = repr(exc)
            time.sleep(0.3)
        pytest.fail(f"not ready after {timeout}s: {last}")


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    _services_or_skip()
    folder = tmp_path_factory.mktemp("smoke")
    database = _Database()
    redis = _RedisIndex()
    receiver = _Receiver()
    stack = _Stack(folder, database, redis)
    stack.receiver = receiver
    stack.redis = redis
    try:
        stack.run("db", "upgrade")
        stack.start(
            "gunicorn",
            str(BIN / "gunicorn"),
            "--config",
            str(ROOT / "gunicorn.conf.py"),
            "--certfile",
            str(stack.cert),
            "--keyfile",
            str(stack.key),
            "wsgi:app",
        )
        # Two workers on every queue; each forks a scheduler candidate, one wins the lock.
        stack.start("worker-1", str(BIN / "latchkey"), "worker")
        stack.start("worker-2", str(BIN / "latchkey"), "worker")
        yield stack
    finally:
        stack.stop()
        receiver.close()
        redis.release()
        database.drop()
        shutil.rmtree(stack.metrics_dir, ignore_errors=True)


def _wait_for(what: str, check, timeout: float, stack: _Stack):
    deadline = time.monotonic() + timeout
    while True:
        stack.check_alive()
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.3)


def _json_lines(text: str, name: str) -> list[dict]:
    lines = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            lines.append(json.loads(line))
        except ValueError:
            pytest.fail(f"{name}.log line {number} is not JSON: {line[:300]}")
    return lines


def _persona_value(html: str, label: str) -> str:
    match = re.search(
        r'<input type="radio" name="persona" value="([^"]+)"[^>]*>\s*' + re.escape(label) + r"\s*<",
        html,
    )
    assert match, f"no persona {label!r} on the consent page"
    return match.group(1)


def _samples(text: str) -> list:
    return [s for family in text_string_to_metric_families(text) for s in family.samples]


def _value(samples, name: str, **labels) -> float:
    return sum(
        s.value
        for s in samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


# -------------------------------------------------------------------- test


def test_it_takes_a_request_to_completion_on_the_production_processes(stack):
    slug = (
        stack.run(
            "agency",
            "create",
            "--name",
            "Smoke Test Agency",
            "--owner-email",
            "owner@smoke-agency.example.com",
            "--password",
            PASSWORD,
            "--connect-sandbox",
        )
        .strip()
        .splitlines()[-1]
    )
    api_key = (
        stack.run("apikey", "create", "--agency", slug, "--name", "smoke").strip().splitlines()[-1]
    )

    ready = stack.wait_ready()
    assert ready["status"] == "ready" and all(c["ok"] for c in ready["checks"].values())

    api = stack.session()
    api.headers["Authorization"] = f"Bearer {api_key}"
    base = stack.base

    hook = api.post(
        f"{base}/api/v1/webhook-endpoints",
        json={"url": stack.receiver.url, "events": ["*"], "description": "smoke"},
        timeout=10,
    )
    assert hook.status_code == 201, hook.text
    webhook_secret = hook.json()["secret"]

    platforms = api.get(f"{base}/api/v1/platforms", timeout=10).json()["data"]
    pinterest = next(p for p in platforms if p["id"] == "pinterest")
    types = {t["id"]: t for t in pinterest["asset_types"]}
    items = [
        {
            "platform": "pinterest",
            "asset_type": kind,
            "permissions": [types[kind]["permissions"][-1]["id"]],
        }
        for kind in ("AD_ACCOUNT", "PROFILE")
    ]
    request_id = f"smoke-{secrets.token_hex(8)}"
    created = api.post(
        f"{base}/api/v1/access-requests",
        json={
            "client": {"name": "Blue Harbor", "email": "marketing@blueharbor.example.com"},
            "items": items,
            "external_id": "crm-smoke-1",
            "send_email": True,
        },
        headers={"X-Request-ID": request_id, "Idempotency-Key": "smoke-1"},
        timeout=10,
    )
    assert created.status_code == 201, created.text
    assert created.headers["X-Request-ID"] == request_id
    access_request = created.json()
    link = access_request["url"]
    token = link.rsplit("/r/", 1)[1]
    assert link.startswith(f"{base}/r/")

    # The client, in a browser: open the link, connect Pinterest, grant.
    browser = stack.session()
    page = browser.get(link, timeout=10)
    assert page.status_code == 200 and "Connect Pinterest" in page.text
    generated_id = page.headers["X-Request-ID"]
    assert generated_id and generated_id != request_id
    started_oauth = browser.post(
        f"{link}/p/pinterest/connect",
        data={"csrf_token": csrf_from(page.text)},
        allow_redirects=False,
        timeout=10,
    )
    assert started_oauth.status_code == 303, started_oauth.text[:500]
    authorize = started_oauth.headers["Location"]
    assert authorize.startswith(f"{base}/sandbox/pinterest/")
    consent = browser.get(authorize, timeout=10)
    assert consent.status_code == 200, consent.text[:500]
    action = urlsplit(authorize).path
    fields = form_fields(consent.text, action)
    fields.setlist("persona", [_persona_value(consent.text, "Business account")])
    fields.setlist("decision", ["allow"])
    allowed = browser.post(f"{base}{action}", data=fields, allow_redirects=False, timeout=10)
    assert allowed.status_code in (302, 303), allowed.text[:500]
    back = browser.get(allowed.headers["Location"], allow_redirects=False, timeout=30)
    assert back.status_code == 303, back.text[:800]
    assert back.headers["Location"].endswith(f"/r/{token}/p/pinterest")
    picker = browser.get(f"{link}/p/pinterest", timeout=30)
    assert picker.status_code == 200 and "Grant access" in picker.text
    choice = form_fields(picker.text, f"/r/{token}/p/pinterest/grant")
    # One ad account and the profile, as the client would tick them.
    assert [k for k in choice if k.startswith("item-")] == ["item-0", "item-1"]
    assert len(choice.getlist("item-0")) == 1
    granted = browser.post(
        f"{link}/p/pinterest/grant", data=choice, allow_redirects=False, timeout=30
    )
    assert granted.status_code == 303, granted.text[:800]

    # The workers verify the grants, settle the request and send the webhooks.
    def completed():
        body = api.get(f"{base}/api/v1/access-requests/{access_request['id']}", timeout=10).json()
        return body if body["status"] == "completed" else None

    final = _wait_for("the request to complete", completed, FLOW_TIMEOUT, stack)
    assert {g["status"] for g in final["grants"]} == {"verified"}
    assert len(final["grants"]) == 2

    pdf = api.get(f"{base}/api/v1/access-requests/{access_request['id']}/report.pdf", timeout=30)
    assert pdf.status_code == 200
    assert pdf.headers["Content-Type"].startswith("application/pdf")
    assert pdf.content.startswith(b"%PDF")

    def webhooks_in():
        types_seen = {json.loads(r["body"])["type"] for r in stack.receiver.received}
        return "access_request.completed" in types_seen

    _wait_for("the completion webhook", webhooks_in, FLOW_TIMEOUT, stack)
    verifier = Webhook(webhook_secret)
    events = [verifier.verify(r["body"], r["headers"]) for r in stack.receiver.received]
    types_seen = [e["type"] for e in events]
    for expected in (
        "access_request.opened",
        "grant.granted",
        "grant.verified",
        "access_request.completed",
    ):
        assert expected in types_seen, types_seen
    ids = [r["headers"]["webhook-id"] for r in stack.receiver.received]
    assert len(set(ids)) == len(ids)
    done = next(e for e in events if e["type"] == "access_request.completed")
    assert done["data"]["id"] == access_request["id"]
    assert done["data"]["external_id"] == "crm-smoke-1"

    # Readiness and metrics.
    probe = stack.session()
    ready = probe.get(f"{base}/readyz", timeout=10)
    assert ready.status_code == 200
    assert ready.json()["checks"]["migrations"]["ok"] is True
    assert probe.get(f"{base}/metrics", timeout=10).status_code == 403
    healthz_calls = 12
    for _ in range(healthz_calls):  # new connections: served by either worker process
        assert stack.session().get(f"{base}/healthz", timeout=10).status_code == 200
    scraped = probe.get(
        f"{base}/metrics", headers={"Authorization": f"Bearer {stack.metrics_token}"}, timeout=10
    )
    assert scraped.status_code == 200
    samples = _samples(scraped.text)
    requests_total = "latchkey_http_requests_total"
    assert _value(samples, requests_total, endpoint="main.healthz", status="200") == healthz_calls
    assert (
        _value(
            samples,
            requests_total,
            endpoint="api.create_access_request",
            method="POST",
            status="201",
        )
        == 1
    )
    assert _value(samples, requests_total, endpoint="client.welcome", status="200") >= 1
    assert (
        _value(samples, "latchkey_http_request_duration_seconds_count", endpoint="client.grant")
        >= 1
    )
    assert _value(samples, "latchkey_grants", status="verified") == 2
    assert _value(samples, "latchkey_rq_workers") >= 2
    assert {s.labels["queue"] for s in samples if s.name == "latchkey_rq_queue_jobs"} == {
        "default",
        "verify",
        "webhooks",
        "reports",
    }
    assert _value(samples, "latchkey_rq_failed_jobs") == 0
    assert _value(samples, "latchkey_metrics_source_up", source="database") == 1
    assert _value(samples, "latchkey_metrics_source_up", source="redis") == 1

    # Exactly one scheduler among the workers holds the cron lock.
    assert stack.redis.client.get("latchkey:cron:leader")

    # Logs: JSON lines, the request id carried into the jobs, no secret.
    web = _json_lines(stack.log_text("gunicorn"), "gunicorn")
    assert sum("Booting worker" in line["message"] for line in web) == 2
    create_line = next(
        line
        for line in web
        if line.get("path") == "/api/v1/access-requests" and line.get("method") == "POST"
    )
    assert create_line["request_id"] == request_id
    assert create_line["status"] == 201 and create_line["agency_id"] is not None
    assert create_line["duration_ms"] > 0 and create_line["logger"] == "latchkey.request"
    assert any(line.get("path") == "/r/[redacted]" for line in web)
    jobs = [
        line
        for name in ("worker-1", "worker-2")
        for line in _json_lines(stack.log_text(name), name)
    ]
    carried = [line for line in jobs if line.get("request_id") == request_id]
    assert any(line.get("job_id") and line.get("outcome") == "ok" for line in carried), carried
    everything = "".join(stack.log_text(name) for name in ("gunicorn", "worker-1", "worker-2"))
    for secret in (token, api_key, webhook_secret, stack.metrics_token):
        assert secret not in everything
