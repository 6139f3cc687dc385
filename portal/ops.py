"""Routes for the machines that run Latchkey: readiness and metrics.

`/healthz` (portal/main.py) says the process is up. `/readyz` says this
process can serve: the database answers and is at the code's migration, Redis
answers when configured; load balancers and deploy scripts poll it. `/metrics`
is for Prometheus and asks for the token of LATCHKEY_METRICS_TOKEN.
"""

from __future__ import annotations

import hmac
import logging

from flask import Blueprint, Response, abort, current_app, jsonify, request
from flask_babel import gettext as _
from sqlalchemy import text

from .extensions import db

bp = Blueprint("ops", __name__)
log = logging.getLogger("latchkey.ops")

CHECK_TIMEOUT_SECONDS = 2


# -------------------------------------------------------------------- readyz


def migration_heads() -> frozenset[str]:
    """The migration heads of this code: read from migrations/ once per process (by
    gunicorn.conf.py at start), so a later release on disk does not change them."""
    heads = current_app.extensions.get("latchkey_migration_heads")
    if heads is None:
        from alembic.script import ScriptDirectory

        directory = current_app.extensions["migrate"].directory
        heads = frozenset(ScriptDirectory(directory).get_heads())
        current_app.extensions["latchkey_migration_heads"] = heads
    return heads


def _check_database() -> tuple[dict, dict]:
    """(database check, migrations check)."""
    try:
        with db.engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text(f"SET LOCAL statement_timeout = {CHECK_TIMEOUT_SECONDS * 1000}"))
            conn.execute(text("SELECT 1"))
            try:
                rows = conn.execute(text("SELECT version_num FROM alembic_version")).all()
            except Exception as exc:
                log.warning("readyz: no migration table (%s)", type(exc).__name__)
                return {"ok": True}, {
                    "ok": False,
                    "detail": "the database has no migration applied; run: latchkey db upgrade",
                }
    except Exception as exc:
        log.warning("readyz: the database did not answer: %s", str(exc).splitlines()[0][:300])
        return {"ok": False, "detail": f"the database did not answer ({type(exc).__name__})"}, {
            "ok": False,
            "detail": "unknown: the database did not answer",
        }
    current = frozenset(row[0] for row in rows)
    expected = migration_heads()
    if current == expected:
        return {"ok": True}, {"ok": True, "revision": ",".join(sorted(current))}
    return {"ok": True}, {
        "ok": False,
        "detail": (
            f"the database is at {','.join(sorted(current)) or 'no revision'}, this code "
            f"expects {','.join(sorted(expected))}; run: latchkey db upgrade"
        ),
    }


def _check_redis() -> dict:
    url = current_app.config.get("REDIS_URL")
    if not url:
        return {"ok": True, "detail": "not configured: jobs run in the web process"}
    client = current_app.extensions.get("latchkey_readyz_redis")
    if client is None:
        from redis import Redis

        client = Redis.from_url(
            url,
            socket_timeout=CHECK_TIMEOUT_SECONDS,
            socket_connect_timeout=CHECK_TIMEOUT_SECONDS,
        )
        current_app.extensions["latchkey_readyz_redis"] = client
    try:
        client.ping()
    except Exception as exc:
        log.warning("readyz: Redis did not answer: %s", str(exc)[:300])
        return {"ok": False, "detail": f"Redis did not answer ({type(exc).__name__})"}
    return {"ok": True}


@bp.get("/readyz")
def readyz():
    """200 when this process can serve; 503 naming the check that failed."""
    database, migrations = _check_database()
    checks = {"database": database, "migrations": migrations, "redis": _check_redis()}
    ready = all(check["ok"] for check in checks.values())
    response = jsonify({"status": "ready" if ready else "not ready", "checks": checks})
    response.status_code = 200 if ready else 503
    response.headers["Cache-Control"] = "no-store"
    return response


# ------------------------------------------------------------------- metrics


@bp.get("/metrics")
def metrics():
    """Prometheus metrics; only with `Authorization: Bearer <LATCHKEY_METRICS_TOKEN>`."""
    from . import metrics as metrics_module

    expected = current_app.config.get("METRICS_TOKEN")
    if not expected:
        abort(404)  # metrics are off: nothing to find here
    given = request.headers.get("Authorization", "")
    scheme, _sep, token = given.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        token.strip().encode(), expected.encode()
    ):
        message = _(
            "Metrics need the token set in LATCHKEY_METRICS_TOKEN, sent as "
            "'Authorization: Bearer <token>'."
        )
        return Response(
            message + "\n",
            status=403,
            mimetype="text/plain",
            headers={"Cache-Control": "no-store"},
        )
    body = metrics_module.exposition(current_app._get_current_object())
    return Response(
        body,
        content_type=metrics_module.CONTENT_TYPE,
        headers={"Cache-Control": "no-store"},
    )
