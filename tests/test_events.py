"""Domain events reach subscribers only after the change is committed."""

from __future__ import annotations

import pytest

from portal import events
from portal.extensions import db
from tests.helpers_requests import fake_connection, make_request


@pytest.fixture
def received():
    seen: list[events.DomainEvent] = []
    subscriber = events.subscribe(seen.append)
    yield seen
    events._subscribers.remove(subscriber)


def test_it_announces_a_new_request_after_commit(agency, owner, received):
    fake_connection(agency)
    access_request, _token = make_request(agency, owner)
    assert [(e.name, e.access_request_id) for e in received] == [
        ("access_request.created", access_request.id)
    ]
    assert received[0].agency_id == agency.id


def test_it_announces_nothing_for_a_rolled_back_change(agency, received):
    events.emit(db.session(), events.DomainEvent("access_request.revoked", agency.id, 1))
    db.session.rollback()
    db.session.commit()
    assert received == []


def test_it_refuses_an_unknown_event_name(agency):
    with pytest.raises(ValueError, match="unknown event"):
        events.emit(db.session(), events.DomainEvent("grant.exploded", agency.id, 1))


def test_a_failing_subscriber_does_not_stop_the_others(agency, owner, received):
    def broken(_event):
        raise RuntimeError("boom")

    events._subscribers.insert(0, broken)
    try:
        fake_connection(agency)
        make_request(agency, owner)
    finally:
        events._subscribers.remove(broken)
    assert [e.name for e in received] == ["access_request.created"]


def test_revoking_announces_the_public_event(agency, owner, received):
    from portal.services.requests import revoke_request

    fake_connection(agency)
    access_request, _token = make_request(agency, owner)
    revoke_request(access_request)
    assert [e.name for e in received][-1] == "access_request.revoked"
