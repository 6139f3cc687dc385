"""Notification, expiry and re-verification jobs through real RQ workers (SimpleWorker, Redis)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from helpers_requests import (
    add_grant,
    audit_actions,
    fake_connection,
    make_request,
    sandbox_connection,
)
from rq import Queue
from rq.job import Job
from rq.registry import FailedJobRegistry, ScheduledJobRegistry
from sqlalchemy import select

from portal import events, mail, notifications, platforms
from portal.extensions import db
from portal.kv import redis_connection
from portal.models import AccessRequest, Grant, NotificationLog
from portal.models.base import utcnow
from portal.services import requests as service
from portal.services.connections import agency_access
from worker import QUEUES, enqueue, jobs

pytestmark = pytest.mark.usefixtures("needs_redis")


@pytest.fixture(autouse=True)
def _outbox_mail(app):
    previous = app.config.get("SMTP_URL")
    app.config["SMTP_URL"] = None
    yield
    app.config["SMTP_URL"] = previous


@pytest.fixture
def received():
    seen: list[events.DomainEvent] = []
    subscriber = events.subscribe(seen.append)
    yield seen
    events._subscribers.remove(subscriber)


def release_scheduled() -> int:
    """Move every scheduled job (delays, retry backoff) onto its queue now."""
    conn = redis_connection()
    moved = 0
    for name in QUEUES:
        queue = Queue(name, connection=conn)
        registry = ScheduledJobRegistry(queue=queue)
        for job_id in registry.get_job_ids():
            registry.remove(job_id)
            queue.enqueue_job(Job.fetch(job_id, connection=conn))
            moved += 1
    return moved


@pytest.fixture
def connected(agency, owner):
    fake_connection(agency)
    return agency


def test_it_sends_nothing_twice_when_every_job_runs_twice(connected, owner, outbox, rq_worker):
    emailed, _ = make_request(connected, owner)
    done, _ = make_request(connected, owner, client_email="done@client.test")
    failing, _ = make_request(connected, owner, client_email="failing@client.test")
    expiring, _ = make_request(connected, owner, client_email="expiring@client.test")
    jobs.send_request_email(emailed.id)
    emailed.sent_at = utcnow() - timedelta(days=3, hours=1)
    expiring.created_at = utcnow() - timedelta(days=12)
    expiring.expires_at = utcnow() + timedelta(days=2)
    add_grant(failing, 0, "failed", error="Refused", fix="Retry")
    db.session.commit()
    for index in range(2):
        add_grant(done, index)
    service.settle_request(done)
    rq_worker()
    release_scheduled()  # the delayed grant alert
    rq_worker()
    quarter = jobs.quarter_of(utcnow())

    def run_all():
        for func, args, queue in (
            (jobs.send_request_email, (emailed.id,), "default"),
            (jobs.send_completion_emails, (done.id,), "reports"),
            (jobs.send_grant_alerts, (failing.id,), "default"),
            (jobs.send_reminders, (), "default"),
            (jobs.send_expiry_warnings, (), "default"),
            (jobs.quarterly_access_review, (), "default"),
            (jobs.send_access_review, (connected.id, quarter), "default"),
        ):
            enqueue(func, *args, queue=queue)
        rq_worker()

    run_all()
    first = sorted((m["To"], m["Subject"]) for m in outbox())
    kinds = set(db.session.execute(select(NotificationLog.kind)).scalars())
    assert kinds == {
        "request_sent",
        "completion",
        "grant_failed",
        "reminder",
        "expiry_warning",
        "access_review",
    }
    run_all()
    assert sorted((m["To"], m["Subject"]) for m in outbox()) == first
    conn = redis_connection()
    for queue in QUEUES:
        failed = Job.fetch_many(FailedJobRegistry(queue, connection=conn).get_job_ids(), conn)
        assert [j.func_name for j in failed if j and j.func_name.startswith("worker.jobs.")] == []


def test_it_retries_an_email_after_a_transient_failure(
    connected, owner, outbox, rq_worker, monkeypatch
):
    access_request, _ = make_request(connected, owner)
    real_deliver = mail.deliver
    calls = []

    def flaky(message):
        calls.append(message["To"])
        if len(calls) == 1:
            raise ConnectionRefusedError("SMTP server is restarting")
        real_deliver(message)

    monkeypatch.setattr(mail, "deliver", flaky)
    notifications.send_request_email(access_request.id)
    rq_worker()
    assert outbox() == []
    assert db.session.query(NotificationLog).count() == 0  # rolled back: it was not sent
    scheduled = ScheduledJobRegistry("default", connection=redis_connection())
    [job] = [
        j
        for j in Job.fetch_many(scheduled.get_job_ids(), connection=redis_connection())
        if j.func_name == "worker.jobs.send_request_email"
    ]
    assert job.retries_left == len(notifications.EMAIL_RETRY) - 1
    release_scheduled()
    rq_worker()
    [message] = outbox()
    assert message["To"] == "marketing@blueharbor.test"
    assert len(calls) == 2
    assert job.get_status(refresh=True) == "finished"


def test_it_expires_a_request_at_its_time(connected, owner, rq_worker, monkeypatch, received):
    access_request, _ = make_request(connected, owner, expires_in_days=3)
    rq_worker()  # plan_expiry schedules the request's own expiry job
    scheduled = ScheduledJobRegistry("default", connection=redis_connection())
    job_id = f"expire-request-{access_request.id}"
    assert job_id in scheduled.get_job_ids()
    when = scheduled.get_scheduled_time(job_id)
    assert abs((when - access_request.expires_at).total_seconds()) < 5

    expires_at = access_request.expires_at
    clock = {"now": expires_at - timedelta(minutes=1)}
    monkeypatch.setattr(jobs, "utcnow", lambda: clock["now"])
    monkeypatch.setattr(service, "utcnow", lambda: clock["now"])
    assert jobs.expire_request(access_request.id) == "early"
    db.session.refresh(access_request)
    assert access_request.status == "sent"

    clock["now"] = expires_at + timedelta(seconds=1)
    release_scheduled()
    rq_worker()
    db.session.expire_all()
    assert db.session.get(AccessRequest, access_request.id).status == "expired"
    assert "access_request.expired" in audit_actions(connected.id)
    assert [e.name for e in received].count("access_request.expired") == 1
    assert jobs.expire_request(access_request.id) == "skipped"
    assert jobs.expire_due_requests() == 0


def test_it_stops_reminding_after_completion(connected, owner, outbox, rq_worker):
    finished, _ = make_request(connected, owner)
    waiting, _ = make_request(connected, owner, client_email="waiting@client.test")
    for access_request in (finished, waiting):
        jobs.send_request_email(access_request.id)
        access_request.sent_at = utcnow() - timedelta(days=3, hours=1)
    db.session.commit()
    sent_before = len(outbox())
    enqueue(jobs.send_reminders)
    rq_worker()
    reminders = [m for m in outbox()[sent_before:] if "Reminder" in m["Subject"]]
    assert sorted(m["To"] for m in reminders) == [
        "marketing@blueharbor.test",
        "waiting@client.test",
    ]

    for index in range(2):
        add_grant(finished, index)
    assert service.settle_request(finished)
    for access_request in (finished, waiting):
        access_request.sent_at = utcnow() - timedelta(days=7, hours=1)
    db.session.commit()
    count = len(outbox())
    enqueue(jobs.send_reminders)
    rq_worker()
    new = [m for m in outbox()[count:] if "Reminder" in m["Subject"]]
    assert [m["To"] for m in new] == ["waiting@client.test"]  # day 7, and not the finished one
    assert jobs.last_run("send_reminders")["outcome"] == "ok"


def test_it_does_not_remind_a_client_who_got_the_link_from_the_agency(connected, owner, outbox):
    access_request, _ = make_request(connected, owner)
    access_request.sent_at = utcnow() - timedelta(days=4)
    db.session.commit()
    assert jobs.send_reminders() == 0
    assert outbox() == []


def test_it_queues_the_quarterly_review_for_each_agency_with_active_grants(
    connected, owner, outbox, rq_worker
):
    access_request, _ = make_request(connected, owner)
    add_grant(access_request, 0)
    add_grant(access_request, 1, "removed")
    enqueue(jobs.quarterly_access_review)
    rq_worker()
    messages = {m["To"]: m for m in outbox()}
    assert set(messages) == {"owner@acme.test", "marketing@blueharbor.test"}
    body = messages["owner@acme.test"].get_body(("plain",)).get_content()
    assert "Asset 0" in body and "Asset 1" not in body
    assert jobs.last_run("quarterly_access_review")["outcome"] == "ok"


@pytest.mark.usefixtures("live_server")
def test_it_flags_a_grant_the_agency_lost_as_removed(client, agency, owner, outbox, rq_worker):
    from test_client_flow import connect, grant_preselected

    sandbox_connection(agency)
    access_request, token = make_request(agency, owner)
    page = connect(client, token)
    grant_preselected(client, token, page.get_data(as_text=True))
    rq_worker()
    db.session.expire_all()
    grants = db.session.execute(select(Grant).order_by(Grant.id)).scalars().all()
    assert [g.status for g in grants] == ["verified", "verified"]
    lost, kept = grants

    # The client removes the agency from the ad account on Pinterest.
    access = agency_access(agency.id, "pinterest")
    platforms.get("pinterest").revoke(
        access.token, access.identity, lost.asset_type, lost.asset_id, dict(lost.external)
    )
    db.session.commit()
    before = len(outbox())
    enqueue(jobs.reverify_active_grants, queue="verify")
    rq_worker()
    db.session.expire_all()
    lost, kept = (db.session.get(Grant, g.id) for g in (lost, kept))
    assert (lost.status, kept.status) == ("removed", "verified")
    assert lost.removed_at is not None
    assert "grant.removed" in audit_actions(agency.id)
    [alert] = outbox()[before:]
    assert alert["To"] == "owner@acme.test"
    assert "Access lost" in alert["Subject"]
    # Run again: nothing more to flag, nothing sent twice.
    enqueue(jobs.reverify_active_grants, queue="verify")
    rq_worker()
    assert len(outbox()) == before + 1
    assert db.session.get(AccessRequest, access_request.id).status == "completed"


def test_the_log_tells_who_was_e_mailed_without_the_whole_address(connected, owner, outbox, caplog):
    caplog.set_level("INFO", logger="latchkey.notifications")
    emailed, _ = make_request(connected, owner, client_email="marketing@blueharbor.test")

    jobs.send_request_email(emailed.id)

    assert [m["To"] for m in outbox()] == ["marketing@blueharbor.test"]
    sent = [r.getMessage() for r in caplog.records if r.getMessage().startswith("sent ")]
    assert sent and all("m***@blueharbor.test" in line for line in sent)
    assert not any("marketing@" in r.getMessage() for r in caplog.records)
