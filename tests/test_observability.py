"""Operations: request ids, structured logs, trusted proxies, readiness, metrics,
the gunicorn configuration and the production smoke test's sandbox override."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import secrets
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from helpers_requests import fake_connection, make_request
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from test_api_support import api_key, bearer

from portal import create_app, observability
from portal.config import (
    SMOKE_TEST_CONSENT,
    SMOKE_TEST_VARIABLE,
    ConfigError,
    load_config,
    production_smoke_test,
)
from portal.extensions import db
from portal.models import Grant
from portal.observability import JsonFormatter, TextFormatter, TrustedProxies, scrub
from portal.sandbox.core import SandboxRefused
from worker import enqueue, job

ROOT = Path(__file__).resolve().parent.parent
HEX_ID = re.compile(r"[0-9a-f]{32}")
METRICS_TOKEN = "metrics-token-0123456789abcdefghijklmnop"
PROD = {
    "LATCHKEY_ENV": "production",
    "SECRET_KEY": secrets.token_urlsafe(48),
    "LATCHKEY_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    "LATCHKEY_AUDIT_KEYS": secrets.token_urlsafe(32),
    "LATCHKEY_BASE_URL": "https://latchkey.example.com",
    "DATABASE_URL": "postgresql+psycopg://u@db/latchkey",
    "REDIS_URL": "redis://cache:6379/0",
    "LATCHKEY_SANDBOX": "0",
}


def fetch(client, path: str, method: str = "GET", **kwargs):
    """A request whose response is read and closed, as a WSGI server does:
    the request log line and the request metrics are written on close."""
    response = client.open(path, method=method, **kwargs)
    response.get_data()
    response.close()
    return response


@pytest.fixture
def request_log(caplog):
    caplog.set_level(logging.DEBUG, logger="latchkey.request")

    def records():
        return [r for r in caplog.records if r.name == "latchkey.request"]

    return records


@pytest.fixture
def trusted_proxy(app, monkeypatch):
    """The test client (127.0.0.1) plays a trusted reverse proxy."""
    monkeypatch.setitem(app.config, "TRUSTED_PROXIES", ("127.0.0.0/8",))


# ---------------------------------------------------------------- request ids


def test_it_gives_each_request_its_own_id_and_returns_it(client, request_log):
    first = fetch(client, "/healthz")
    second = fetch(client, "/healthz")

    assert HEX_ID.fullmatch(first.headers["X-Request-ID"])
    assert first.headers["X-Request-ID"] != second.headers["X-Request-ID"]
    assert [r.request_id for r in request_log()] == [
        first.headers["X-Request-ID"],
        second.headers["X-Request-ID"],
    ]


def test_it_ignores_the_request_id_of_a_client_that_is_not_a_trusted_proxy(client):
    answer = fetch(client, "/healthz", headers={"X-Request-ID": "forged-by-client-1"})

    assert answer.headers["X-Request-ID"] != "forged-by-client-1"
    assert HEX_ID.fullmatch(answer.headers["X-Request-ID"])


def test_it_takes_a_plain_request_id_from_a_trusted_proxy(client, trusted_proxy):
    answer = fetch(client, "/healthz", headers={"X-Request-ID": "nginx-7f3a9c1e2b"})

    assert answer.headers["X-Request-ID"] == "nginx-7f3a9c1e2b"


@pytest.mark.parametrize(
    "bad", ["short", "x" * 65, "two words here", "id\r\nX-Injected: 1", "<script>1</script>"]
)
def test_it_replaces_a_request_id_that_is_not_short_and_plain(client, trusted_proxy, bad):
    answer = fetch(client, "/healthz", environ_base={"HTTP_X_REQUEST_ID": bad})

    assert HEX_ID.fullmatch(answer.headers["X-Request-ID"])


def test_it_clears_the_request_id_once_the_request_is_answered(client):
    fetch(client, "/healthz")

    assert observability.current_request_id() is None


# ------------------------------------------------------------ trusted proxies


def _echo(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/json")])
    seen = {
        "remote_addr": environ["REMOTE_ADDR"],
        "scheme": environ["wsgi.url_scheme"],
        "trusted": environ.get(observability.ENV_TRUSTED_PROXY, False),
    }
    return [json.dumps(seen).encode()]


def _through(networks, peer, forwarded_for=None, proto=None) -> dict:
    from werkzeug.test import Client

    headers = {}
    if forwarded_for is not None:
        headers["X-Forwarded-For"] = forwarded_for
    if proto is not None:
        headers["X-Forwarded-Proto"] = proto
    client = Client(TrustedProxies(_echo, networks))
    answer = client.get("/", headers=headers, environ_base={"REMOTE_ADDR": peer})
    return json.loads(answer.get_data())


def test_it_takes_the_client_address_and_scheme_from_a_trusted_proxy():
    seen = _through(("10.0.0.0/8",), "10.0.0.5", "203.0.113.9, 10.0.0.7", "https")

    # 10.0.0.7 is another trusted hop: the client is the first untrusted from the right.
    assert seen == {"remote_addr": "203.0.113.9", "scheme": "https", "trusted": True}


def test_it_does_not_let_a_client_choose_its_address_through_the_proxy():
    seen = _through(("10.0.0.0/8",), "10.0.0.5", "1.2.3.4, 203.0.113.9")

    assert seen["remote_addr"] == "203.0.113.9"


def test_it_ignores_forwarded_headers_from_a_peer_that_is_not_trusted():
    seen = _through(("10.0.0.0/8",), "198.51.100.1", "203.0.113.9", "https")

    assert seen == {"remote_addr": "198.51.100.1", "scheme": "http", "trusted": False}


def test_it_trusts_nobody_by_default_and_keeps_the_peer_on_garbage():
    assert _through((), "127.0.0.1", "203.0.113.9", "https")["remote_addr"] == "127.0.0.1"
    assert _through(("10.0.0.0/8",), "10.0.0.5", "unknown")["remote_addr"] == "10.0.0.5"


def test_the_app_logs_the_client_address_given_by_its_proxy(client, trusted_proxy, request_log):
    fetch(client, "/", headers={"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"})

    assert request_log()[-1].remote_addr == "203.0.113.9"


# ---------------------------------------------------------------- request log


def test_it_logs_one_json_line_per_request_with_the_agency(client, agency, request_log):
    answer = fetch(client, "/api/v1/platforms", headers=bearer(api_key(agency)))

    (record,) = request_log()
    line = json.loads(JsonFormatter().format(record))
    assert line["level"] == "INFO" and line["logger"] == "latchkey.request"
    assert line["time"].endswith("Z")
    assert line["message"].startswith("GET /api/v1/platforms 200 ")
    assert line["request_id"] == answer.headers["X-Request-ID"]
    assert line["agency_id"] == agency.id
    assert (line["method"], line["path"], line["status"]) == ("GET", "/api/v1/platforms", 200)
    assert line["endpoint"] == "api.list_platforms"
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] > 0


def test_it_never_logs_a_link_token_or_a_query_string(client, agency, owner, request_log):
    fake_connection(agency)
    _row, token = make_request(agency, owner)

    fetch(client, f"/r/{token}?code=abc123&state=xyz789")
    fetch(client, f"/r/{token}/nope/nope")  # unmatched: redacted all the same

    lines = [JsonFormatter().format(r) for r in request_log()]
    assert [json.loads(line)["path"] for line in lines] == [
        "/r/[redacted]",
        "/r/[redacted]/nope/nope",
    ]
    assert not any(token in line or "abc123" in line for line in lines)


def test_a_client_link_page_is_logged_with_its_agency_but_signs_nobody_in(
    client, agency, owner, request_log
):
    fake_connection(agency)
    _row, token = make_request(agency, owner)

    fetch(client, f"/r/{token}")
    fetch(client, "/app/")  # the same browser is not signed in to the agency

    welcome, admin = (json.loads(JsonFormatter().format(r)) for r in request_log())
    assert (welcome["path"], welcome["agency_id"]) == ("/r/[redacted]", agency.id)
    assert admin["status"] == 302 and admin["agency_id"] is None


def test_it_logs_successful_probes_quietly_and_unknown_routes_as_unmatched(client, request_log):
    fetch(client, "/healthz")
    fetch(client, "/no-such-page")

    probe, missing = request_log()
    assert probe.levelno == logging.DEBUG and probe.endpoint == "main.healthz"
    assert missing.levelno == logging.INFO
    assert (missing.endpoint, missing.status) == ("unmatched", 404)


# -------------------------------------------------------------------- logging


@pytest.fixture
def root_logging():
    """Put the root logger back as it was after a test configures it."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    # An app built earlier in the session (production settings log as JSON) may
    # have left its handler on the root logger: start from none of ours.
    root.handlers[:] = [
        h for h in saved[0] if not isinstance(h.formatter, (JsonFormatter, TextFormatter))
    ]
    yield
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    logging.captureWarnings(False)


def test_it_writes_one_json_object_per_line_with_the_context(app, root_logging):
    stream = io.StringIO()
    observability.configure_logging("json", "INFO", stream=stream)
    observability.configure_logging("json", "INFO", stream=stream)  # idempotent

    with app.test_request_context("/app/"):
        from flask import g

        g.agency_id = 42
        token = observability.request_id_var.set("req-12345678")
        try:
            logging.getLogger("latchkey.test").warning("hello %s", "world")
        finally:
            observability.request_id_var.reset(token)

    (line,) = stream.getvalue().splitlines()
    data = json.loads(line)
    assert data["message"] == "hello world" and data["level"] == "WARNING"
    assert (data["request_id"], data["agency_id"], data["logger"]) == (
        "req-12345678",
        42,
        "latchkey.test",
    )
    assert sum(isinstance(h.formatter, JsonFormatter) for h in logging.getLogger().handlers) == 1


def test_it_writes_readable_lines_in_text_format(root_logging):
    stream = io.StringIO()
    observability.configure_logging("text", "INFO", stream=stream)
    token = observability.request_id_var.set("req-abcdefgh")
    try:
        logging.getLogger("latchkey.test").info("plain line")
    finally:
        observability.request_id_var.reset(token)

    line = stream.getvalue().strip()
    assert line.endswith("INFO latchkey.test [req-abcdefgh] plain line")
    assert isinstance(logging.getLogger().handlers[-1].formatter, TextFormatter)


def test_it_scrubs_secrets_from_messages_and_tracebacks():
    link = "/r/" + secrets.token_urlsafe(32)
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed on %s", (link,), None)
    try:
        raise RuntimeError(f"callback ?code=s3cr3tcode&state=abc{link}")
    except RuntimeError:
        record.exc_info = sys.exc_info()

    line = JsonFormatter().format(record)

    assert link not in line and "s3cr3tcode" not in line
    assert "/r/[redacted]" in json.loads(line)["message"]
    assert "code=[redacted]" in json.loads(line)["exc"]
    assert scrub("/auth/reset/" + "a" * 40) == "/auth/reset/[redacted]"
    assert scrub("/app/requests/12") == "/app/requests/12"


# ----------------------------------------------------------------------- jobs

SEEN: list[tuple] = []
DONE = threading.Event()


@job
def remember_context() -> None:
    """A job that records the request id and agency it runs with."""
    SEEN.append((observability.current_request_id(), observability.job_meta().get("agency_id")))
    DONE.set()


@pytest.fixture
def seen():
    SEEN.clear()
    DONE.clear()
    yield SEEN
    SEEN.clear()


def test_it_carries_the_request_id_into_rq_jobs_and_their_logs(
    app, client, agency, trusted_proxy, rq_worker, caplog, seen
):
    from portal.kv import redis_connection
    from worker import get_queue

    caplog.set_level(logging.INFO, logger="latchkey.jobs")
    fake_connection(agency)
    created = fetch(
        client,
        "/api/v1/access-requests",
        method="POST",
        json={
            "client": {"name": "Blue Harbor", "email": "marketing@blueharbor.test"},
            "items": [
                {
                    "platform": "pinterest",
                    "asset_type": "AD_ACCOUNT",
                    "permissions": ["CAMPAIGN_MANAGER"],
                }
            ],
        },
        headers={**bearer(api_key(agency)), "X-Request-ID": "crm-req-0001"},
    )
    assert created.status_code == 201

    queued = [j for name in ("default", "webhooks") for j in get_queue(name).get_jobs()]
    assert queued, "the API call queued no job"
    assert {j.meta.get("request_id") for j in queued} == {"crm-req-0001"}
    assert {j.meta.get("agency_id") for j in queued} == {agency.id}

    with app.test_request_context("/"):
        from flask import g

        g.agency_id = agency.id
        token = observability.request_id_var.set("crm-req-0002")
        try:
            enqueued = enqueue(remember_context)
        finally:
            observability.request_id_var.reset(token)
    rq_worker()

    assert seen == [("crm-req-0002", agency.id)]
    job_lines = [r for r in caplog.records if r.name == "latchkey.jobs"]
    mine = next(r for r in job_lines if r.job == "remember_context")
    assert (mine.request_id, mine.job_id, mine.outcome) == ("crm-req-0002", enqueued.id, "ok")
    assert any(r.request_id == "crm-req-0001" and r.outcome == "ok" for r in job_lines)
    redis_connection().flushdb()


def test_it_carries_the_request_id_into_in_process_jobs(app, agency, monkeypatch, seen):
    monkeypatch.setitem(app.config, "JOBS_MODE", "thread")
    with app.test_request_context("/"):
        from flask import g

        g.agency_id = agency.id
        token = observability.request_id_var.set("demo-req-0001")
        try:
            enqueue(remember_context, retry=())
        finally:
            observability.request_id_var.reset(token)

    assert DONE.wait(10)
    assert seen == [("demo-req-0001", agency.id)]


# -------------------------------------------------------------------- readyz


@pytest.fixture
def migrated(app):
    """An alembic_version table, as `latchkey db upgrade` leaves (dropped afterwards)."""
    from portal.ops import migration_heads

    def stamp(revision: str | None = None):
        with app.test_request_context():
            head = revision or sorted(migration_heads())[0]
        with db.engine.begin() as conn:
            conn.execute(text("DELETE FROM alembic_version"))
            conn.execute(text("INSERT INTO alembic_version VALUES (:v)"), {"v": head})
        return head

    with db.engine.begin() as conn:
        conn.execute(
            text("CREATE TABLE IF NOT EXISTS alembic_version (version_num VARCHAR(32) NOT NULL)")
        )
    yield stamp
    with db.engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))


def test_it_is_ready_when_the_database_is_at_the_code_s_migration(client, migrated):
    head = migrated()

    answer = fetch(client, "/readyz")

    assert answer.status_code == 200
    body = answer.get_json()
    assert body["status"] == "ready"
    assert body["checks"]["migrations"] == {"ok": True, "revision": head}
    assert body["checks"]["database"]["ok"] and body["checks"]["redis"]["ok"]
    assert answer.headers["Cache-Control"] == "no-store"


def test_it_is_not_ready_before_the_migrations_ran(client):
    answer = fetch(client, "/readyz")

    assert answer.status_code == 503
    migrations = answer.get_json()["checks"]["migrations"]
    assert not migrations["ok"] and "latchkey db upgrade" in migrations["detail"]


def test_it_is_not_ready_on_an_older_migration(client, migrated):
    migrated("0123456789ab")

    answer = fetch(client, "/readyz")

    assert answer.status_code == 503
    detail = answer.get_json()["checks"]["migrations"]["detail"]
    assert "0123456789ab" in detail and "latchkey db upgrade" in detail


def test_it_is_not_ready_when_redis_does_not_answer(
    app, client, migrated, monkeypatch, needs_redis
):
    from redis import Redis

    migrated()
    monkeypatch.setitem(
        app.extensions,
        "latchkey_readyz_redis",
        Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5),
    )

    answer = fetch(client, "/readyz")

    assert answer.status_code == 503
    redis = answer.get_json()["checks"]["redis"]
    assert redis["ok"] is False and "Redis did not answer" in redis["detail"]


def test_it_is_not_ready_when_the_database_does_not_answer(app, client, monkeypatch, tmp_path):
    from sqlalchemy import create_engine

    broken = create_engine(f"sqlite:///{tmp_path}/missing/folder/db.sqlite3")
    monkeypatch.setitem(db._app_engines[app], None, broken)

    answer = fetch(client, "/readyz")

    assert answer.status_code == 503
    checks = answer.get_json()["checks"]
    assert checks["database"]["ok"] is False
    assert "did not answer" in checks["database"]["detail"]
    body = answer.get_data(as_text=True)
    assert str(tmp_path) not in body and app.config["SECRET_KEY"] not in body


# ------------------------------------------------------------------- metrics


def _samples(text_: str) -> list:
    return [s for family in text_string_to_metric_families(text_) for s in family.samples]


def _value(samples, name: str, **labels) -> float | None:
    found = [
        s.value
        for s in samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    ]
    return sum(found) if found else None


@pytest.fixture
def metrics_on(app, monkeypatch):
    monkeypatch.setitem(app.config, "METRICS_TOKEN", METRICS_TOKEN)
    return {"Authorization": f"Bearer {METRICS_TOKEN}"}


def scrape(client, headers) -> list:
    answer = fetch(client, "/metrics", headers=headers)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return _samples(answer.get_data(as_text=True))


def test_metrics_are_off_without_a_token(client):
    assert fetch(client, "/metrics").status_code == 404


@pytest.mark.parametrize(
    "header", [None, "Bearer wrong-token-0123456789abcdefghij", f"Basic {METRICS_TOKEN}"]
)
def test_metrics_refuse_a_missing_or_wrong_token(client, metrics_on, header):
    answer = fetch(client, "/metrics", headers={"Authorization": header} if header else {})

    assert answer.status_code == 403
    assert "LATCHKEY_METRICS_TOKEN" in answer.get_data(as_text=True)
    assert "latchkey_" not in answer.get_data(as_text=True)


def test_metrics_count_requests_by_endpoint_method_and_status(client, metrics_on):
    labels = {"endpoint": "main.healthz", "method": "GET", "status": "200"}
    before = _value(scrape(client, metrics_on), "latchkey_http_requests_total", **labels) or 0

    for _ in range(3):
        fetch(client, "/healthz")
    fetch(client, "/no-such-page", method="DELETE")

    samples = scrape(client, metrics_on)
    assert _value(samples, "latchkey_http_requests_total", **labels) == before + 3
    assert (
        _value(samples, "latchkey_http_requests_total", endpoint="unmatched", method="DELETE") >= 1
    )
    assert _value(samples, "latchkey_http_request_duration_seconds_count", endpoint="main.healthz")


def test_metrics_count_grants_by_status(client, agency, owner, metrics_on):
    fake_connection(agency)
    access_request, _token = make_request(agency, owner)
    for index, status in enumerate(("verified", "verified", "failed")):
        db.session.add(
            Grant(
                agency_id=agency.id,
                access_request_id=access_request.id,
                item_index=0,
                platform="pinterest",
                asset_type="AD_ACCOUNT",
                asset_id=f"ad-{index}",
                status=status,
            )
        )
    db.session.commit()

    samples = scrape(client, metrics_on)

    assert _value(samples, "latchkey_grants", status="verified") == 2
    assert _value(samples, "latchkey_grants", status="failed") == 1
    assert _value(samples, "latchkey_grants", status="removed") == 0
    assert _value(samples, "latchkey_metrics_source_up", source="database") == 1


@job
def always_fails() -> None:
    raise RuntimeError("this job fails on purpose")


def test_metrics_show_queue_lengths_and_failed_jobs(
    app, client, metrics_on, rq_worker, needs_redis
):
    with app.test_request_context():
        enqueue(always_fails, queue="verify", retry=())
        rq_worker(["verify"])
        enqueue(remember_context, queue="verify")
        enqueue(remember_context, queue="verify")

    samples = scrape(client, metrics_on)

    assert _value(samples, "latchkey_rq_queue_jobs", queue="verify") == 2
    assert _value(samples, "latchkey_rq_queue_jobs", queue="webhooks") == 0
    assert _value(samples, "latchkey_rq_failed_jobs", queue="verify") == 1
    assert _value(samples, "latchkey_metrics_source_up", source="redis") == 1


def test_metrics_say_which_source_did_not_answer(app, client, metrics_on, monkeypatch, needs_redis):
    from redis import Redis

    monkeypatch.setitem(
        app.extensions,
        "latchkey_redis",
        Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5),
    )

    samples = scrape(client, metrics_on)

    assert _value(samples, "latchkey_metrics_source_up", source="redis") == 0
    assert _value(samples, "latchkey_rq_queue_jobs") is None


def test_metrics_add_up_the_counts_of_every_web_process(app, monkeypatch, tmp_path):
    """Under gunicorn each worker process counts in its own file; a scrape adds them up."""
    from portal import metrics

    code = (
        "from portal import metrics\n"
        "for _ in range(3): metrics.observe_request('client.welcome', 'GET', 200, 0.02)\n"
    )
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for _ in range(2):
        subprocess.run([sys.executable, "-c", code], env=env, check=True, cwd=ROOT)
    assert len(list(tmp_path.glob("counter_*.db"))) == 2  # one file per process
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))

    with app.app_context():
        samples = _samples(metrics.exposition(app).decode())

    labels = {"endpoint": "client.welcome", "method": "GET", "status": "200"}
    assert _value(samples, "latchkey_http_requests_total", **labels) == 6
    assert (
        _value(samples, "latchkey_http_request_duration_seconds_count", endpoint="client.welcome")
        == 6
    )


# -------------------------------------------------------------- configuration


def test_it_reads_the_operations_settings_strictly(tmp_path):
    config = load_config(
        str(tmp_path),
        {
            **PROD,
            "LATCHKEY_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8",
            "LATCHKEY_METRICS_TOKEN": METRICS_TOKEN,
        },
    )
    assert config["LOG_FORMAT"] == "json"  # production's default
    assert config["TRUSTED_PROXIES"] == ("127.0.0.1/32", "10.0.0.0/8")
    assert config["METRICS_TOKEN"] == METRICS_TOKEN
    assert load_config(str(tmp_path), {"LATCHKEY_ENV": "test"})["LOG_FORMAT"] == "text"
    assert load_config(str(tmp_path), {"LATCHKEY_ENV": "test"})["TRUSTED_PROXIES"] == ()


@pytest.mark.parametrize(
    ("change", "variable"),
    [
        ({"LATCHKEY_LOG_FORMAT": "xml"}, "LATCHKEY_LOG_FORMAT"),
        ({"LATCHKEY_LOG_LEVEL": "chatty"}, "LATCHKEY_LOG_LEVEL"),
        ({"LATCHKEY_TRUSTED_PROXIES": "my-proxy"}, "LATCHKEY_TRUSTED_PROXIES"),
        ({"LATCHKEY_METRICS_TOKEN": "short"}, "LATCHKEY_METRICS_TOKEN"),
    ],
)
def test_it_refuses_a_bad_operations_setting_naming_it(tmp_path, change, variable):
    with pytest.raises(ConfigError) as excinfo:
        load_config(str(tmp_path), {**PROD, **change})
    assert variable in str(excinfo.value)


SMOKE = {
    **PROD,
    "LATCHKEY_BASE_URL": "https://127.0.0.1:8443",
    "LATCHKEY_SANDBOX": "1",
    SMOKE_TEST_VARIABLE: SMOKE_TEST_CONSENT,
}


def test_the_smoke_test_override_lets_the_sandbox_into_production_on_loopback(tmp_path):
    config = load_config(str(tmp_path), SMOKE)

    assert config["LATCHKEY_SANDBOX"] is True
    assert production_smoke_test(config) is True
    assert production_smoke_test({**config, "LATCHKEY_BASE_URL": "https://access.example"}) is (
        False
    )


@pytest.mark.parametrize(
    ("change", "variable"),
    [
        ({SMOKE_TEST_VARIABLE: ""}, "LATCHKEY_SANDBOX"),  # production without it refuses
        ({SMOKE_TEST_VARIABLE: "1"}, SMOKE_TEST_VARIABLE),
        ({SMOKE_TEST_VARIABLE: "yes"}, SMOKE_TEST_VARIABLE),
        ({"LATCHKEY_BASE_URL": "https://access.example.com"}, SMOKE_TEST_VARIABLE),
        ({"LATCHKEY_BASE_URL": "https://10.0.0.8"}, SMOKE_TEST_VARIABLE),
        ({"LATCHKEY_ENV": "development", "LATCHKEY_BASE_URL": "http://127.0.0.1"}, "production"),
    ],
)
def test_the_smoke_test_override_cannot_be_enabled_by_accident(tmp_path, change, variable):
    with pytest.raises(ConfigError) as excinfo:
        load_config(str(tmp_path), {**SMOKE, **change})
    assert variable in str(excinfo.value)


def test_production_serves_the_sandbox_only_with_the_smoke_test_override(tmp_path, monkeypatch):
    monkeypatch.setenv("LATCHKEY_INSTANCE_PATH", str(tmp_path))
    env = {**SMOKE, "DATABASE_URL": f"sqlite:///{tmp_path / 'smoke.sqlite3'}"}
    env.pop("REDIS_URL")

    smoke_app = create_app({"ENV": env})
    assert "sandbox" in smoke_app.blueprints
    assert smoke_app.config["LATCHKEY_PRODUCTION_SMOKE_TEST"] is True

    without = {k: v for k, v in env.items() if k != SMOKE_TEST_VARIABLE}
    with pytest.raises(ConfigError):
        create_app({"ENV": without})
    # Forcing the settings past the configuration check is not the override either.
    with pytest.raises(SandboxRefused):
        create_app(
            {
                "ENV": {**without, "LATCHKEY_SANDBOX": "0"},
                "LATCHKEY_SANDBOX": True,
                "ALLOW_SANDBOX_IN_PRODUCTION_FOR_TESTS": True,
            }
        )


def test_webhooks_to_private_addresses_are_refused_in_production_but_the_smoke_test(
    app, monkeypatch
):
    from portal.webhooks import ssrf

    monkeypatch.setitem(app.config, "LATCHKEY_ENV", "production")
    monkeypatch.setitem(app.config, "LATCHKEY_BASE_URL", "https://127.0.0.1:8443")
    assert ssrf.production() is True

    monkeypatch.setitem(app.config, "LATCHKEY_PRODUCTION_SMOKE_TEST", True)
    assert ssrf.production() is False

    monkeypatch.setitem(app.config, "LATCHKEY_BASE_URL", "https://access.example.com")
    assert ssrf.production() is True


# ------------------------------------------------------------------ gunicorn


def _gunicorn_config(**env) -> str:
    answer = subprocess.run(
        [str(Path(sys.executable).parent / "gunicorn"), "--print-config", "wsgi:app"],
        cwd=ROOT,
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith(("GUNICORN_", "WEB_"))},
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    return answer.stdout + answer.stderr


def test_gunicorn_reads_its_settings_from_the_environment():
    printed = _gunicorn_config(
        WEB_CONCURRENCY="3",
        GUNICORN_THREADS="2",
        GUNICORN_BIND="127.0.0.1:9001",
        LATCHKEY_TRUSTED_PROXIES="10.0.0.0/8,127.0.0.1",
    )

    settings = dict(
        re.findall(r"^(\w+)\s+= (.*)$", printed, flags=re.M)  # gunicorn's own listing
    )
    assert settings["workers"] == "3" and settings["threads"] == "2"
    assert settings["worker_class"] == "gthread" and settings["preload_app"] == "True"
    assert settings["bind"] == "['127.0.0.1:9001']"
    # gunicorn and the app trust X-Forwarded-* from the same proxies.
    assert settings["forwarded_allow_ips"] == "['10.0.0.0/8', '127.0.0.1/32']"
    assert settings["accesslog"] == "None"  # the app's request log is the access log


def test_gunicorn_refuses_a_bad_setting_naming_it():
    printed = _gunicorn_config(GUNICORN_THREADS="many")

    assert "GUNICORN_THREADS" in printed and "whole number" in printed
