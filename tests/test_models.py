"""The models behave the same on SQLite (demo) and PostgreSQL (production)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from portal import audit, create_app
from portal.extensions import db
from portal.models import Agency, AuditEvent, Invitation, Membership, User


@pytest.fixture(params=["main", "sqlite"])
def database(request, app, tmp_path, monkeypatch):
    """The run's database (PostgreSQL in CI), then a fresh SQLite one."""
    if request.param == "main":
        yield app
        return
    monkeypatch.setenv("LATCHKEY_INSTANCE_PATH", str(tmp_path))
    other = create_app(
        {
            "ENV": {"LATCHKEY_ENV": "test"},
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'models.sqlite3'}",
            "REDIS_URL": None,
            "RATELIMIT_STORAGE_URI": "memory://",
        }
    )
    with other.app_context():
        db.create_all()
        yield other
        db.session.remove()
        db.engine.dispose()


def _agency_with_owner() -> tuple[Agency, User]:
    agency = Agency(name="Acme", slug="acme", identities={})
    user = User(email="o@acme.test", password_hash="x")
    db.session.add_all([agency, user])
    db.session.flush()
    db.session.add(Membership(agency_id=agency.id, user_id=user.id, role="owner"))
    db.session.commit()
    return agency, user


def test_it_stores_and_returns_aware_utc_datetimes(database):
    agency, user = _agency_with_owner()
    when = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    invitation = Invitation(
        agency_id=agency.id,
        email="new@acme.test",
        role="member",
        token_hash="h" * 64,
        expires_at=when + timedelta(days=7),
        invited_by_id=user.id,
    )
    db.session.add(invitation)
    db.session.commit()
    db.session.expire_all()
    loaded = db.session.get(Invitation, invitation.id)
    assert loaded.expires_at == when + timedelta(days=7)
    assert loaded.expires_at.tzinfo is not None
    assert loaded.created_at.tzinfo is not None


def test_it_refuses_naive_datetimes(database):
    agency, _user = _agency_with_owner()
    db.session.add(
        Invitation(
            agency_id=agency.id,
            email="n@acme.test",
            role="member",
            token_hash="n" * 64,
            expires_at=datetime(2026, 1, 1),
        )
    )
    with pytest.raises(Exception, match="naive datetime"):
        db.session.commit()
    db.session.rollback()


def test_it_refuses_a_duplicate_email(database):
    _agency_with_owner()
    db.session.add(User(email="o@acme.test", password_hash="y"))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_it_refuses_a_second_membership_in_the_same_agency(database):
    agency, user = _agency_with_owner()
    db.session.add(Membership(agency_id=agency.id, user_id=user.id, role="admin"))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_it_ranks_roles(database):
    _agency, user = _agency_with_owner()
    membership = user.memberships[0]
    assert membership.can("admin") and membership.can("viewer")
    membership.role = "viewer"
    assert not membership.can("member")


def test_it_keeps_the_audit_chain_on_both_databases(database):
    agency, _user = _agency_with_owner()
    for i in range(3):
        audit.record("test.event", agency_id=agency.id, details={"i": i})
    db.session.commit()
    assert AuditEvent.query.filter_by(agency_id=agency.id).count() == 3
    assert audit.verify_chain(agency.id).ok
