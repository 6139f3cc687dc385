"""The session-wide log audit of tests/conftest.py: every secret the run makes
is collected where it is made, every log line is kept, and a line holding a
secret fails the run. These tests prove each part with a secret logged on
purpose (then forgotten, so this session stays green), and once end to end:
a run under xdist whose worker logs a secret exits 1 with a clear message."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
import requests
from conftest import PASSWORD, LogLine, SecretRegistry, find_log_leaks

from portal import crypto

ROOT = Path(__file__).resolve().parent.parent


def _link_token(agency, owner) -> str:
    from helpers_requests import fake_connection, make_request

    fake_connection(agency)
    return make_request(agency, owner)[1]


@pytest.fixture
def planted(log_audit):
    """Lines logged inside the test are checked, then forgotten (the leak is on purpose)."""
    mark = log_audit.mark()
    yield lambda: log_audit.leaks(since=mark)
    log_audit.discard(mark)


def test_it_collects_each_kind_of_secret_where_it_is_made(app, agency, owner, log_audit):
    from portal.api.keys import create_key
    from portal.auth import totp
    from portal.extensions import db
    from portal.sandbox.core import sandbox_token
    from portal.webhooks import service as webhooks

    link_token = _link_token(agency, owner)
    _key, api_key = create_key(agency.id, "CRM")
    _endpoint, webhook_secret = webhooks.create_endpoint(
        agency.id, "https://example.com/hooks", ["*"], None, None
    )
    platform_tokens = sandbox_token("pinterest")
    totp_secret = totp.start_enrolment(owner)
    codes, _hashes = totp.new_recovery_codes()
    db.session.rollback()

    secrets = log_audit.secrets
    assert link_token in secrets
    assert api_key.split("_", 2)[2] in secrets  # the random part (the prefix is public)
    assert webhook_secret in secrets
    assert platform_tokens["access_token"] in secrets or any(
        s in platform_tokens["access_token"] for s in secrets.kinds
    )
    assert any(s in platform_tokens["refresh_token"] for s in secrets.kinds)
    assert totp_secret in secrets
    assert set(codes) <= set(secrets.kinds)
    assert PASSWORD in secrets  # the fixtures' password, known in advance
    from portal.auth.passwords import hash_password

    hash_password("plum orchard 93 lantern")  # as setting a new password does
    assert "plum orchard 93 lantern" in secrets
    assert app.config["SECRET_KEY"] in secrets
    assert app.config["LATCHKEY_ENCRYPTION_KEYS"][0] in secrets


def test_it_keeps_a_password_someone_typed_wrong(client, agency, owner, log_audit):
    from helpers_requests import csrf_from

    token = csrf_from(client.get("/auth/login").get_data(as_text=True))
    client.post(
        "/auth/login",
        data={"email": owner.email, "password": "mistyped horse battery", "csrf_token": token},
    )
    assert "mistyped horse battery" in log_audit.secrets


def test_it_catches_a_link_token_an_app_logger_writes(agency, owner, planted):
    token = _link_token(agency, owner)
    logging.getLogger("latchkey.requests").warning("opened the link %s", token)

    leaks = planted()
    assert [(leak.logger, leak.level) for leak in leaks] == [("latchkey.requests", "WARNING")]
    assert leaks[0].kind == "token (link, reset or invitation)"
    assert token not in leaks[0].excerpt
    assert "opened the link [token (link, reset or invitation)" in leaks[0].excerpt
    assert leaks[0].test.endswith("test_it_catches_a_link_token_an_app_logger_writes")


def test_it_catches_a_secret_on_a_logger_that_does_not_propagate(agency, planted):
    from portal.api.keys import create_key

    _key, api_key = create_key(agency.id, "CRM")
    rq_logger = logging.getLogger("rq.worker")
    saved = rq_logger.propagate
    rq_logger.propagate = False  # as RQ does when it installs its own handlers
    try:
        rq_logger.warning("job failed with headers {'Authorization': 'Bearer %s'}", api_key)
    finally:
        rq_logger.propagate = saved

    leaks = planted()
    assert [(leak.logger, leak.kind) for leak in leaks] == [("rq.worker", "API key")]
    assert api_key.split("_", 2)[2] not in leaks[0].excerpt


def test_it_catches_a_password_inside_a_traceback(planted):
    password = "tangerine submarine 51 orbit"
    from portal.auth.passwords import hash_password

    hash_password(password)
    try:
        raise ValueError(f"could not sign in with {password}")
    except ValueError:
        logging.getLogger("portal").exception("sign-in failed")

    leaks = planted()
    assert [(leak.logger, leak.kind) for leak in leaks] == [("portal", "password")]
    assert password not in leaks[0].excerpt
    assert "ValueError: could not sign in with [password" in leaks[0].excerpt


def test_it_catches_a_token_logged_by_a_job_on_another_thread(planted):
    from portal.sandbox.core import sandbox_token

    token = sandbox_token("pinterest")["access_token"]

    def job():
        logging.getLogger("latchkey.jobs").info("verify: using token %s", token)

    thread = threading.Thread(target=job)
    thread.start()
    thread.join()

    leaks = planted()
    assert [(leak.logger, leak.kind) for leak in leaks] == [
        ("latchkey.jobs", "OAuth code or token (sandbox)")
    ]


def test_a_link_token_in_a_request_path_is_scrubbed_from_the_access_log(
    agency, owner, live_server, log_audit
):
    token = _link_token(agency, owner)
    mark = log_audit.mark()
    assert requests.get(f"{live_server.url}/r/{token}", timeout=10).status_code == 200

    def access_lines():
        return [
            line
            for line in log_audit.lines[mark:]
            if line.logger == "werkzeug" and "GET /r/" in line.text
        ]

    deadline = time.monotonic() + 5
    while not access_lines() and time.monotonic() < deadline:
        time.sleep(0.05)  # the server thread logs after it has answered
    lines = access_lines()
    assert lines, "the live server's access log line was not captured"
    assert "/r/[redacted]" in lines[0].text
    assert log_audit.leaks(since=mark) == []


def test_the_detector_redacts_every_secret_in_an_excerpt():
    registry = SecretRegistry()
    registry.add("s3cr3t-token-AAAAAAAAAAAAAAAAAAAA", "token")
    registry.add("two words password", "password")
    registry.add("short", "too short to matter")
    line = LogLine(
        "latchkey.x",
        "INFO",
        "token=s3cr3t-token-AAAAAAAAAAAAAAAAAAAA with two words password short",
        "t",
    )
    leaks = find_log_leaks([line, line], registry)
    assert {leak.kind for leak in leaks} == {"token", "password"}
    for leak in leaks:
        assert "s3cr3t-token-AAAAAAAAAAAAAAAAAAAA" not in leak.excerpt
        assert "two words password" not in leak.excerpt
    assert "short" not in registry


def test_a_run_whose_worker_logs_a_secret_fails_with_the_logger_and_a_redacted_line(
    tmp_path,
):
    """End to end, under xdist (-n 2): the worker that logged the secret reports it, the
    controller prints it and the run exits 1, though every test passed."""
    (tmp_path / "test_planted.py").write_text(
        textwrap.dedent(
            """
            import logging
            import os
            from pathlib import Path

            from portal import crypto


            def test_leaks_a_token():
                token = crypto.new_token()
                logging.getLogger("latchkey.planted").error("reset link token %s", token)
                Path(os.environ["PLANTED_TOKEN_FILE"]).write_text(token)


            def test_logs_nothing_secret():
                logging.getLogger("latchkey.planted").info("nothing to see")
            """
        )
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), str(ROOT)]),
        "CI": "",
        "PLANTED_TOKEN_FILE": str(tmp_path / "planted-token.txt"),
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "conftest",
            "-c",
            str(ROOT / "pyproject.toml"),
            "--rootdir",
            str(ROOT),
            "-n",
            "2",
            "-q",
            "-p",
            "no:cacheprovider",
            str(tmp_path / "test_planted.py"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert "2 passed" in output, output
    assert result.returncode == 1, output
    assert "log audit: 1 log line(s) hold a secret or token" in output, output
    assert "latchkey.planted (ERROR) during" in output
    assert "test_leaks_a_token" in output
    assert "reset link token [token (link, reset or invitation)" in output
    planted = (tmp_path / "planted-token.txt").read_text()
    assert len(planted) >= 43
    assert planted not in output  # the report never shows the secret itself


def test_tokens_from_crypto_are_collected(log_audit):
    token = crypto.new_token()
    assert token in log_audit.secrets
