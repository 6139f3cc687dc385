"""The health page: queues, this agency's failed jobs with retry/discard, periodic runs."""

from __future__ import annotations

import pytest
from conftest import make_agency
from helpers_requests import audit_actions, csrf_from, fake_connection, make_request
from rq.job import Job
from rq.registry import FailedJobRegistry

from portal import mail
from portal.kv import redis_connection
from worker import enqueue, jobs


@pytest.fixture
def failed_jobs(agency, owner, rq_worker, monkeypatch, app):
    """One failed e-mail job of Acme's and one of another agency's."""
    app.config["SMTP_URL"] = None

    def down(_message):
        raise ConnectionRefusedError("SMTP server is down")

    monkeypatch.setattr(mail, "deliver", down)
    fake_connection(agency)
    ours, _ = make_request(agency, owner)
    other_agency, other_owner = make_agency("Other Agency", "owner@other.test")
    fake_connection(other_agency)
    theirs, _ = make_request(other_agency, other_owner, client_email="secret@other-client.test")
    mine = enqueue(jobs.send_request_email, ours.id, retry=(), title="E-mail Blue Harbor")
    other = enqueue(jobs.send_request_email, theirs.id, retry=(), title="E-mail Other Client")
    rq_worker()
    monkeypatch.undo()
    registry = FailedJobRegistry("default", connection=redis_connection())
    assert {mine.id, other.id} <= set(registry.get_job_ids())
    return mine, other


def test_it_shows_queues_and_only_this_agencys_failed_jobs(auth, admin, failed_jobs):
    mine, other = failed_jobs
    page = auth.login(admin).get("/app/health")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-queue="default"' in html and 'data-queue="reports"' in html
    assert f'id="job-{mine.id}"' in html
    assert "SMTP server is down" in html
    assert other.id not in html and "Other Client" not in html
    assert "1 other failed job" in html
    assert 'data-periodic="quarterly_access_review"' in html


def test_it_retries_a_failed_job(auth, admin, failed_jobs, outbox, rq_worker):
    mine, _other = failed_jobs
    client = auth.login(admin)
    token = csrf_from(client.get("/app/health").get_data(as_text=True))
    answer = client.post(f"/app/health/jobs/{mine.id}/retry", data={"csrf_token": token})
    assert answer.status_code == 303
    rq_worker()
    assert Job.fetch(mine.id, connection=redis_connection()).get_status() == "finished"
    assert [m["To"] for m in outbox()] == ["marketing@blueharbor.test"]
    assert "job.retried" in audit_actions()


def test_it_discards_a_failed_job(auth, admin, failed_jobs):
    mine, _other = failed_jobs
    client = auth.login(admin)
    token = csrf_from(client.get("/app/health").get_data(as_text=True))
    answer = client.post(f"/app/health/jobs/{mine.id}/discard", data={"csrf_token": token})
    assert answer.status_code == 303
    assert mine.id not in FailedJobRegistry("default", connection=redis_connection())
    assert f'id="job-{mine.id}"' not in client.get("/app/health").get_data(as_text=True)


def test_it_refuses_another_agencys_job_and_non_admins(auth, admin, member, failed_jobs):
    _mine, other = failed_jobs
    client = auth.login(admin)
    token = csrf_from(client.get("/app/health").get_data(as_text=True))
    for action in ("retry", "discard"):
        answer = client.post(f"/app/health/jobs/{other.id}/{action}", data={"csrf_token": token})
        assert answer.status_code == 404
    assert other.id in FailedJobRegistry("default", connection=redis_connection())
    assert auth.login(member).get("/app/health").status_code == 403


def test_it_shows_when_periodic_jobs_last_ran(auth, admin, rq_worker):
    enqueue(jobs.send_expiry_warnings)
    rq_worker()
    html = auth.login(admin).get("/app/health").get_data(as_text=True)
    row = html.split('data-periodic="send_expiry_warnings"')[1].split("</tr>")[0]
    assert "Never" not in row and "OK" in row
    row = html.split('data-periodic="send_reminders"')[1].split("</tr>")[0]
    assert "Never" in row


def test_it_says_jobs_run_in_process_without_redis(auth, admin, app, monkeypatch):
    monkeypatch.setitem(app.config, "JOBS_MODE", "thread")
    html = auth.login(admin).get("/app/health").get_data(as_text=True)
    assert 'id="in-process"' in html
    assert "Jobs run inside the web process" in html
    assert "data-queue" not in html
