"""A second app on SQLite, next to the run's app (PostgreSQL when it runs),
for tests that must hold on both engines: concurrency above all, where SQLite
(one writer at a time, no FOR UPDATE) behaves unlike PostgreSQL."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from flask import Flask


@contextmanager
def sqlite_app(tmp_path: Path, serve: bool = False):
    """An app of its own on a fresh SQLite file (jobs inline, no Redis).

    With `serve`, it also answers over HTTP at its LATCHKEY_BASE_URL, where its
    connectors find its own emulated platforms. It shares the run's instance
    folder, so its keys (audit, secret) are the run's.
    """
    from portal import create_app, platforms
    from portal.extensions import db
    from tests.conftest import _free_port, _LiveServer

    port = _free_port()
    app: Flask = create_app(
        {
            "ENV": {"LATCHKEY_ENV": "test", "LATCHKEY_SANDBOX": "1"},
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'second.sqlite3'}",
            "REDIS_URL": None,
            "RATELIMIT_STORAGE_URI": "memory://",
            "LATCHKEY_BASE_URL": f"http://127.0.0.1:{port}",
            "JOBS_MODE": "inline",
            "TESTING": True,
        }
    )
    platforms.init_app(app)
    with app.app_context():
        db.create_all()
    server = _LiveServer(app, port) if serve else None
    if server:
        server.start()
    try:
        yield app
    finally:
        if server:
            server.stop()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
