"""Migrations build the same schema as the models, on SQLite and PostgreSQL."""

from __future__ import annotations

import os

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect, text

from portal import PROJECT_ROOT, create_app
from portal.extensions import db

MIGRATIONS = os.path.join(PROJECT_ROOT, "migrations")


def _migrated_app(url: str, tmp_path, monkeypatch):
    monkeypatch.setenv("LATCHKEY_INSTANCE_PATH", str(tmp_path))
    return create_app(
        {
            "ENV": {"LATCHKEY_ENV": "test"},
            "SQLALCHEMY_DATABASE_URI": url,
            "REDIS_URL": None,
            "RATELIMIT_STORAGE_URI": "memory://",
        }
    )


def _fresh_postgres_database(name: str) -> str:
    import psycopg

    from tests.conftest import PG_DEFAULT

    base = os.environ.get("LATCHKEY_TEST_DATABASE_URL", PG_DEFAULT)
    admin = base.replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return base.rsplit("/", 1)[0] + f"/{name}"


def _assert_no_drift(app) -> None:
    with app.app_context():
        with db.engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "render_as_batch": True}
            )
            diff = compare_metadata(context, db.metadata)
        assert diff == [], f"models and migrations differ: {diff}"


def _round_trip(app) -> None:
    with app.app_context():
        upgrade(directory=MIGRATIONS)
        _assert_no_drift(app)
        tables = set(inspect(db.engine).get_table_names())
        assert {"agency", "user", "membership", "invitation", "audit_event"} <= tables
        downgrade(directory=MIGRATIONS, revision="base")
        remaining = set(inspect(db.engine).get_table_names()) - {"alembic_version"}
        assert remaining == set()
        upgrade(directory=MIGRATIONS)


def test_it_migrates_sqlite_to_the_models_schema_and_back(tmp_path, monkeypatch):
    app = _migrated_app(f"sqlite:///{tmp_path / 'm.sqlite3'}", tmp_path, monkeypatch)
    _round_trip(app)


def test_it_migrates_postgresql_to_the_models_schema_and_back(
    app, needs_postgres, tmp_path, monkeypatch
):
    from tests.conftest import _drop_database

    url = _fresh_postgres_database(f"latchkey_migrations_{os.getpid()}")
    try:
        migrated = _migrated_app(url, tmp_path, monkeypatch)
        _round_trip(migrated)
        with migrated.app_context():
            db.engine.dispose()
        engine = create_engine(url)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
        engine.dispose()
    finally:
        _drop_database(url)


@pytest.mark.parametrize("name", ["agency", "grant", "access_request"])
def test_it_keeps_every_model_table_in_the_metadata(name):
    assert name in db.metadata.tables
