"""Verification jobs: idempotent, retried with backoff, failed with a reason at the end,
and stuck grants swept back into the queue."""

from __future__ import annotations

from datetime import timedelta

import pytest
from helpers_requests import audit_actions, fake_connection, make_request
from rq import Queue
from rq.registry import ScheduledJobRegistry

from portal import platforms
from portal.extensions import db
from portal.kv import redis_connection
from portal.models import AccessRequest, Grant
from portal.models.base import utcnow
from portal.platforms.base import PlatformError, VerifyResult
from portal.services import requests as service
from worker import jobs


@pytest.fixture
def granted(agency, owner):
    """A request whose two grants the platform accepted, waiting for verification."""
    fake_connection(agency)
    access_request, _token = make_request(agency, owner)
    access_request.status = "in_progress"
    grants = []
    for index, item in enumerate(access_request.items):
        grant = Grant(
            agency_id=agency.id,
            item_index=index,
            platform="pinterest",
            asset_type=item["asset_type"],
            permissions=item["permissions"],
            asset_id=f"asset-{index}",
            asset_name=f"Asset {index}",
            status="granted",
            granted_at=utcnow(),
            external={"client_business_id": "777", "stage": "grant"},
        )
        access_request.grants.append(grant)
        grants.append(grant)
    db.session.commit()
    return access_request, grants


@pytest.fixture
def platform_answers(monkeypatch):
    """Make Pinterest's verification answer `status` (or raise an error)."""
    connector = platforms.get("pinterest")
    calls = []

    def answer(status, message=None, error=None):
        def verify(agency_token, identity, asset_type, asset_id, permissions, external):
            calls.append((agency_token["access_token"], identity["business_id"], asset_id))
            if error:
                raise error
            return VerifyResult(status, tuple(permissions), message)

        monkeypatch.setattr(connector, "verify", verify)
        return calls

    return answer


def test_it_verifies_a_grant_and_completes_the_request(granted, platform_answers):
    access_request, grants = granted
    calls = platform_answers("verified")
    for grant in grants:
        assert jobs.verify_grant(grant.id) == "verified"
    assert calls[0] == ("agency-access-token", "549755885175", "asset-0")
    db.session.expire_all()
    assert [g.status for g in grants] == ["verified", "verified"]
    assert db.session.get(AccessRequest, access_request.id).status == "completed"
    actions = audit_actions(access_request.agency_id)
    assert actions.count("grant.verifying") == 2
    assert actions.count("grant.verified") == 2


def test_it_does_nothing_for_a_grant_already_verified(granted, platform_answers):
    _access_request, grants = granted
    calls = platform_answers("verified")
    jobs.verify_grant(grants[0].id)
    events = len(audit_actions())
    assert jobs.verify_grant(grants[0].id) == "skipped"
    assert jobs.verify_grant(999_999) == "skipped"
    assert len(calls) == 1
    assert len(audit_actions()) == events


def test_it_retries_then_fails_with_the_reason(granted, platform_answers):
    access_request, grants = granted
    platform_answers("missing", message="The agency does not see this asset on Pinterest.")
    grant = grants[0]
    for attempt in range(1, service.MAX_VERIFY_ATTEMPTS):
        with pytest.raises(jobs.VerificationPending):
            jobs.verify_grant(grant.id)
        db.session.refresh(grant)
        assert grant.status == "verifying"
        assert grant.verify_attempts == attempt
    with pytest.raises(jobs.VerificationFailed):
        jobs.verify_grant(grant.id)
    db.session.expire_all()
    grant = db.session.get(Grant, grant.id)
    assert grant.status == "failed"
    assert grant.error == "The agency does not see this asset on Pinterest."
    assert "Retry" in grant.fix
    assert service.can_retry_verification(grant)
    assert "grant.failed" in audit_actions(access_request.agency_id)


def test_it_records_a_platform_error_as_the_reason_on_the_last_attempt(granted, platform_answers):
    _access_request, grants = granted
    platform_answers(None, error=PlatformError("Pinterest is down.", "Wait.", retryable=True))
    grant = grants[0]
    grant.verify_attempts = service.MAX_VERIFY_ATTEMPTS - 1
    grant.status = "verifying"
    db.session.commit()
    with pytest.raises(jobs.VerificationFailed):
        jobs.verify_grant(grant.id)
    db.session.refresh(grant)
    assert (grant.status, grant.error, grant.fix) == ("failed", "Pinterest is down.", "Wait.")


def test_it_settles_partially_when_one_grant_fails(granted, platform_answers):
    access_request, grants = granted
    platform_answers("verified")
    jobs.verify_grant(grants[0].id)
    platform_answers("insufficient", message="The agency sees this asset but is missing: X.")
    grants[1].verify_attempts = service.MAX_VERIFY_ATTEMPTS - 1
    db.session.commit()
    with pytest.raises(jobs.VerificationFailed):
        jobs.verify_grant(grants[1].id)
    db.session.expire_all()
    assert db.session.get(AccessRequest, access_request.id).status == "partially_completed"


def test_it_lets_rq_retry_with_backoff(granted, platform_answers, rq_worker):
    _access_request, grants = granted
    platform_answers("pending")
    service.enqueue_verification(grants[0].id)
    rq_worker(queues=["verify"])
    db.session.refresh(grants[0])
    assert grants[0].status == "verifying"
    assert grants[0].verify_attempts == 1
    queue = Queue("verify", connection=redis_connection())
    scheduled = ScheduledJobRegistry(queue=queue)
    [job_id] = scheduled.get_job_ids()
    job = queue.fetch_job(job_id)
    assert job.retries_left == len(service.VERIFY_RETRY) - 1
    assert job.retry_intervals == list(service.VERIFY_RETRY)


def test_it_retries_a_failed_verification_when_asked(granted, platform_answers, rq_worker):
    access_request, grants = granted
    grant = grants[0]
    service.mark_failed(grant, "Not visible yet", "Press Retry")
    platform_answers("verified")
    assert service.retry_verification(grant) is True
    assert grant.status == "verifying"
    assert grant.verify_attempts == 0
    rq_worker(queues=["verify"])
    db.session.expire_all()
    assert db.session.get(Grant, grant.id).status == "verified"
    assert "grant.retried" in audit_actions(access_request.agency_id)


def test_it_sweeps_grants_stuck_in_verification(granted, needs_redis):
    _access_request, grants = granted
    stuck, young = grants
    stuck.status = young.status = "verifying"
    stuck.verifying_since = utcnow() - timedelta(minutes=11)
    stuck.verify_attempts = 4
    young.verifying_since = utcnow() - timedelta(minutes=2)
    db.session.commit()

    assert jobs.sweep_stuck_grants() == 1
    db.session.expire_all()
    stuck = db.session.get(Grant, stuck.id)
    assert stuck.verify_attempts == 0
    assert stuck.verifying_since > utcnow() - timedelta(minutes=1)
    queued = Queue("verify", connection=redis_connection()).jobs
    assert [job.args for job in queued] == [(stuck.id,)]


def test_it_fails_grants_interrupted_before_the_platform_answered(agency, owner):
    fake_connection(agency)
    access_request, _token = make_request(agency, owner)
    grant = Grant(
        agency_id=agency.id,
        item_index=0,
        platform="pinterest",
        asset_type="AD_ACCOUNT",
        permissions=["CAMPAIGN_MANAGER"],
        asset_id="1",
        status="pending",
        updated_at=utcnow() - timedelta(minutes=30),
    )
    access_request.grants.append(grant)
    db.session.commit()
    db.session.execute(db.update(Grant).values(updated_at=utcnow() - timedelta(minutes=30)))
    db.session.commit()
    assert jobs.sweep_stuck_grants() == 1
    db.session.refresh(grant)
    assert grant.status == "failed"
    assert service.needs_new_grant(grant)


def test_it_expires_due_requests(agency, owner):
    fake_connection(agency)
    access_request, _token = make_request(agency, owner)
    fresh, _ = make_request(agency, owner, client_email="fresh@client.test")
    access_request.expires_at = utcnow() - timedelta(hours=1)
    db.session.commit()
    assert jobs.expire_due_requests() == 1
    db.session.expire_all()
    assert db.session.get(AccessRequest, access_request.id).status == "expired"
    assert db.session.get(AccessRequest, fresh.id).status == "sent"


def test_it_schedules_the_periodic_jobs():
    from worker.schedule import PERIODIC

    funcs = {entry["func"] for entry in PERIODIC}
    assert {"worker.jobs.sweep_stuck_grants", "worker.jobs.expire_due_requests"} <= funcs
    for entry in PERIODIC:
        module, _, name = entry["func"].rpartition(".")
        assert callable(getattr(__import__(module, fromlist=[name]), name))
