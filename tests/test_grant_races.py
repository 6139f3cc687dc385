"""One grant per requested item and asset, however many submissions arrive at
once (issue 15, finding 9).

Six grant POSTs at once made 4 grant rows for 2 assets on SQLite: the lock on
the request (SELECT ... FOR UPDATE) does nothing there. A unique index on
(request, item, asset) now makes the database refuse the second row on every
engine, and the grant code takes the refusal as "already under way": the
submission that lost answers like one that came second, never with a 500.
"""

from __future__ import annotations

import contextlib
import os
import threading

import pytest
from flask_migrate import upgrade
from helpers_engines import sqlite_app
from helpers_requests import add_grant, form_fields, make_request, sandbox_connection
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from test_client_flow import connect

from portal import PROJECT_ROOT, audit, create_app
from portal.extensions import db
from portal.models import Grant
from portal.services import requests as requests_service
from portal.services.agencies import create_agency

SUBMISSIONS = 6


@pytest.fixture(params=["postgresql", "sqlite"])
def engine_app(request, app, tmp_path):
    """The run's app on PostgreSQL (with its live server), or an app on SQLite."""
    if request.param == "postgresql":
        request.getfixturevalue("needs_postgres")
        request.getfixturevalue("live_server")
        yield app
        return
    with sqlite_app(tmp_path, serve=True) as second, second.app_context():
        yield second


def _agency_with_request():
    agency, owner = create_agency("Race Agency", "owner@race.test", "correct horse battery 42")
    sandbox_connection(agency)
    return agency, *make_request(agency, owner)


def test_the_database_refuses_a_second_row_for_one_item_and_asset(engine_app):
    _agency, access_request, _token = _agency_with_request()
    add_grant(access_request, 0, "pending", asset_id="549755885175")
    with pytest.raises(IntegrityError):
        add_grant(access_request, 0, "pending", asset_id="549755885175")
    db.session.rollback()
    # Another asset, or the same asset for another item, is another grant.
    add_grant(access_request, 0, "pending", asset_id="549755885176")
    add_grant(access_request, 1, "pending", asset_id="549755885175")


def _copy_cookies(source, target, app) -> None:
    cookie = source.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert cookie is not None
    target.set_cookie(cookie.key, cookie.value)


def test_grant_posts_at_once_make_one_grant_per_asset(engine_app, monkeypatch):
    agency, access_request, token = _agency_with_request()
    browser = engine_app.test_client()
    page = connect(browser, token).get_data(as_text=True)
    fields = form_fields(page, f"/r/{token}/p/pinterest/grant")
    chosen = sum(1 for name in fields if name.startswith("item-"))
    assert chosen >= 2

    if db.engine.dialect.name == "sqlite":
        # Make the race certain rather than likely: the first two submissions
        # both read "no grant yet" before either writes one (on PostgreSQL
        # the lock on the request already keeps them apart).
        meet = threading.Barrier(2)
        seen = threading.local()
        real = requests_service._reopen

        def racing_reopen(*args, **kwargs):
            if not getattr(seen, "met", False):
                seen.met = True
                with contextlib.suppress(threading.BrokenBarrierError):
                    meet.wait(timeout=5)
            return real(*args, **kwargs)

        monkeypatch.setattr(requests_service, "_reopen", racing_reopen)

    statuses: list[int] = []
    errors: list[str] = []
    start = threading.Barrier(SUBMISSIONS)

    def submit() -> None:
        client = engine_app.test_client()
        _copy_cookies(browser, client, engine_app)
        try:
            start.wait(timeout=30)
            answer = client.post(f"/r/{token}/p/pinterest/grant", data=fields)
            statuses.append(answer.status_code)
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=submit) for _ in range(SUBMISSIONS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    assert errors == []
    assert len(statuses) == SUBMISSIONS
    assert all(status < 500 for status in statuses), statuses
    db.session.expire_all()
    rows = db.session.execute(
        select(Grant.item_index, Grant.asset_id, func.count())
        .where(Grant.access_request_id == access_request.id)
        .group_by(Grant.item_index, Grant.asset_id)
    ).all()
    assert len(rows) == chosen
    assert all(count == 1 for *_key, count in rows), rows
    assert audit.verify_chain(agency.id).ok


def test_the_migration_merges_copies_made_before_the_index(tmp_path, monkeypatch):
    """Databases that already hold copies of one grant (made by the race) upgrade:
    the copy furthest along is kept, and grants without an asset are left alone."""
    migrations = os.path.join(PROJECT_ROOT, "migrations")
    monkeypatch.setenv("LATCHKEY_INSTANCE_PATH", str(tmp_path))
    old = create_app(
        {
            "ENV": {"LATCHKEY_ENV": "test"},
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'old.sqlite3'}",
            "REDIS_URL": None,
            "RATELIMIT_STORAGE_URI": "memory://",
        }
    )
    with old.app_context():
        upgrade(directory=migrations, revision="1e8c295a95fe")
        rows = [
            (1, 0, "a1", "pending"),
            (2, 0, "a1", "verified"),
            (3, 0, "a1", "failed"),
            (4, 0, "a2", "granted"),
            (5, 0, "a2", "granted"),
            (6, 1, None, "declined"),
            (7, 1, None, "declined"),
        ]
        for grant_id, item, asset, status in rows:
            db.session.execute(
                text(
                    'INSERT INTO "grant" (id, agency_id, access_request_id, item_index, platform, '
                    "asset_type, permissions, asset_id, status, manual, external, "
                    "verify_attempts, created_at, updated_at) VALUES (:id, 1, 1, :item, 'p', "
                    "'t', '[]', :asset, :status, 0, '{}', 0, '2026-01-01', '2026-01-01')"
                ),
                {"id": grant_id, "item": item, "asset": asset, "status": status},
            )
        db.session.commit()

        upgrade(directory=migrations, revision="bf45921c4a3c")

        kept = db.session.execute(
            text('SELECT id, asset_id, status FROM "grant" ORDER BY id')
        ).all()
        assert [tuple(row) for row in kept] == [
            (2, "a1", "verified"),
            (4, "a2", "granted"),
            (6, None, "declined"),
            (7, None, "declined"),
        ]
        db.session.remove()
        db.engine.dispose()
