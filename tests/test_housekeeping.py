"""The nightly pruning of records that no longer serve anyone, run by a real RQ worker."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from portal.extensions import db
from portal.models import IdempotencyKey, WebhookDelivery
from portal.models.base import utcnow
from portal.webhooks import service as webhooks
from worker import enqueue, jobs
from worker.schedule import PERIODIC


def _key(agency, name: str, age: timedelta) -> None:
    db.session.add(
        IdempotencyKey(
            agency_id=agency.id, key=name, request_hash="0" * 64, created_at=utcnow() - age
        )
    )


def _delivery(endpoint, name: str, status: str, age: timedelta) -> None:
    db.session.add(
        WebhookDelivery(
            agency_id=endpoint.agency_id,
            endpoint_id=endpoint.id,
            event_id=f"msg_{name}",
            event_type="grant.verified",
            payload="{}",
            status=status,
            created_at=utcnow() - age,
        )
    )


def _left(column) -> set[str]:
    return set(db.session.execute(select(column)).scalars())


def test_it_deletes_expired_keys_and_old_finished_deliveries_only(agency, rq_worker, monkeypatch):
    monkeypatch.setattr(jobs, "PRUNE_BATCH", 2)  # several batches
    endpoint, _secret = webhooks.create_endpoint(
        agency.id, "https://example.com/h", ["*"], "CRM", None
    )
    for index in range(5):
        _key(agency, f"old-{index}", timedelta(hours=25))
    _key(agency, "fresh", timedelta(hours=23))
    for status in ("succeeded", "failed", "cancelled"):
        _delivery(endpoint, f"old-{status}", status, timedelta(days=91))
        _delivery(endpoint, f"recent-{status}", status, timedelta(days=89))
    for status in ("pending", "retrying"):
        _delivery(endpoint, f"old-{status}", status, timedelta(days=200))
    db.session.commit()

    for _run in range(2):  # idempotent: the second run finds nothing more
        enqueue(jobs.prune_expired_records)
        rq_worker()

    db.session.expire_all()
    assert _left(IdempotencyKey.key) == {"fresh"}
    assert _left(WebhookDelivery.event_id) == {
        "msg_recent-succeeded",
        "msg_recent-failed",
        "msg_recent-cancelled",
        "msg_old-pending",
        "msg_old-retrying",
    }


def test_it_is_scheduled_nightly():
    (entry,) = [e for e in PERIODIC if e["func"] == "worker.jobs.prune_expired_records"]
    assert entry["cron"] == "10 4 * * *"
