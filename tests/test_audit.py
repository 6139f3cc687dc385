"""The audit trail is a per-agency hash chain that detects tampering."""

from __future__ import annotations

import itertools

from sqlalchemy import text

from portal import audit
from portal.extensions import db
from portal.models import AuditEvent


def _events(agency, n=3):
    for i in range(n):
        audit.record("test.event", agency_id=agency.id, subject=("thing", i), details={"i": i})
    db.session.commit()


def test_it_chains_each_event_to_the_one_before(agency):
    _events(agency)
    events = AuditEvent.query.filter_by(agency_id=agency.id).order_by(AuditEvent.seq).all()
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    for before, after in itertools.pairwise(events):
        assert after.prev_hash == before.hash
    result = audit.verify_chain(agency.id)
    assert result.ok and result.count == len(events)


def test_it_detects_an_edited_event(agency):
    _events(agency)
    target = AuditEvent.query.filter_by(agency_id=agency.id, seq=2).one()
    db.session.execute(
        text("UPDATE audit_event SET action = 'sneaky.change' WHERE id = :id"), {"id": target.id}
    )
    db.session.commit()
    result = audit.verify_chain(agency.id)
    assert not result.ok
    assert result.broken_event_id == target.id


def test_it_detects_a_deleted_event(agency):
    _events(agency)
    target = AuditEvent.query.filter_by(agency_id=agency.id, seq=2).one()
    db.session.execute(text("DELETE FROM audit_event WHERE id = :id"), {"id": target.id})
    db.session.commit()
    assert not audit.verify_chain(agency.id).ok


def test_it_checks_a_stretch_of_the_chain_from_the_hash_before_it(agency):
    _events(agency, n=6)
    last = AuditEvent.query.filter_by(agency_id=agency.id).count()
    stretch = audit.verify_chain(agency.id, first_seq=last - 2, last_seq=last - 1)
    assert stretch.ok and stretch.count == 2

    # An edit before the stretch is for the full check; inside it, it is caught.
    db.session.execute(
        text("UPDATE audit_event SET action = 'sneaky.change' WHERE agency_id = :a AND seq = 2"),
        {"a": agency.id},
    )
    db.session.commit()
    assert audit.verify_chain(agency.id, first_seq=last - 2, last_seq=last - 1).ok
    assert not audit.verify_chain(agency.id).ok
    assert not audit.verify_chain(agency.id, first_seq=2, last_seq=3).ok


def test_a_stretch_must_follow_the_event_before_it(agency):
    _events(agency, n=5)
    # The event the stretch starts after was replaced: its hash no longer links.
    db.session.execute(
        text("UPDATE audit_event SET hash = :h WHERE agency_id = :a AND seq = 3"),
        {"a": agency.id, "h": "0" * 64},
    )
    db.session.commit()
    result = audit.verify_chain(agency.id, first_seq=4, last_seq=5)
    assert not result.ok and result.reason == "previous hash does not match"
    db.session.execute(
        text("DELETE FROM audit_event WHERE agency_id = :a AND seq = 3"), {"a": agency.id}
    )
    db.session.commit()
    assert not audit.verify_chain(agency.id, first_seq=4, last_seq=5).ok


def test_it_keeps_one_chain_per_agency(agency, outsider):
    _events(agency, 2)
    other_id = outsider.memberships[0].agency_id
    audit.record("test.other", agency_id=other_id)
    db.session.commit()
    other = AuditEvent.query.filter_by(agency_id=other_id).order_by(AuditEvent.seq).all()
    assert other[0].prev_hash == audit.GENESIS
    assert audit.verify_chain(agency.id).ok and audit.verify_chain(other_id).ok


def test_it_never_writes_secrets_into_details(agency):
    event = audit.record(
        "test.secret",
        agency_id=agency.id,
        details={"password": "hunter2hunter2", "token": "abc", "nested": {"secret": "x", "ok": 1}},
    )
    db.session.commit()
    assert event.details == {"nested": {"ok": 1}}


def test_the_cli_reports_ok_and_then_the_broken_event(agency, runner):
    _events(agency)
    result = runner.invoke(args=["audit", "verify", "--agency", agency.slug])
    assert result.exit_code == 0
    count = AuditEvent.query.filter_by(agency_id=agency.id).count()
    assert result.output.strip() == f"ok {count} events"

    target = AuditEvent.query.filter_by(agency_id=agency.id, seq=3).one()
    db.session.execute(
        text("UPDATE audit_event SET ip = '10.0.0.1' WHERE id = :id"), {"id": target.id}
    )
    db.session.commit()
    result = runner.invoke(args=["audit", "verify", "--agency", agency.slug])
    assert result.exit_code == 1
    assert f"broken at event {target.id}" in result.output


def test_the_cli_names_an_unknown_agency(runner):
    result = runner.invoke(args=["audit", "verify", "--agency", "nope"])
    assert result.exit_code != 0
    assert "no agency with slug 'nope'" in result.output
