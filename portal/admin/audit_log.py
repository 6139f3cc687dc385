"""The audit log: who did what, filterable, exportable, with the chain's state."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, time, timedelta

from flask import Response, abort, g, request, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from .. import audit, nav
from ..auth.session import role_required
from ..extensions import db
from ..inputs import date_arg, id_arg, page_arg
from ..models import AuditEvent
from ..web import render
from . import audit_subjects, bp

nav.add("admin.audit_log", _l("Audit log"), min_role="admin", order=90, prefix="admin.audit")

PER_PAGE = 50
CSV_LIMIT = 100_000


def audit_filters() -> dict:
    return {
        "actor": (request.args.get("actor") or "").strip()[:254],
        "action": (request.args.get("action") or "").strip()[:64],
        "request_id": id_arg("request_id"),
        "since": date_arg("since"),
        "until": date_arg("until"),
    }


def _where(agency_id: int, f: dict) -> list:
    where = [AuditEvent.agency_id == agency_id]
    if f["actor"]:
        actor = f["actor"].lower()
        where.append(func.lower(AuditEvent.actor_label).contains(actor, autoescape=True))
    if f["action"]:
        where.append(AuditEvent.action == f["action"])
    if f["request_id"]:
        where.append(AuditEvent.subject_type == "access_request")
        where.append(AuditEvent.subject_id == str(f["request_id"]))
    if f["since"]:
        where.append(AuditEvent.created_at >= datetime.combine(f["since"], time.min, UTC))
    if f["until"]:
        end = datetime.combine(f["until"], time.min, UTC) + timedelta(days=1)
        where.append(AuditEvent.created_at < end)
    return where


@bp.get("/audit")
@role_required("admin")
def audit_log():
    f = audit_filters()
    page = page_arg()
    where = _where(g.agency_id, f)
    total = db.session.scalar(select(func.count()).select_from(AuditEvent).where(*where)) or 0
    rows = list(
        db.session.execute(
            select(AuditEvent)
            .where(*where)
            .order_by(AuditEvent.seq.desc())
            .limit(PER_PAGE)
            .offset((page - 1) * PER_PAGE)
        ).scalars()
    )
    actions = list(
        db.session.execute(
            select(AuditEvent.action)
            .where(AuditEvent.agency_id == g.agency_id)
            .group_by(AuditEvent.action)
            .order_by(AuditEvent.action)
        ).scalars()
    )
    pages = max((total + PER_PAGE - 1) // PER_PAGE, 1)
    args = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in f.items() if v}

    def page_url(n: int) -> str:
        return url_for("admin.audit_log", **args, page=n if n > 1 else None)

    return render(
        "admin/audit.html",
        "results",
        rows=rows,
        subjects=audit_subjects.describe(rows, g.agency_id),
        f=f,
        args=args,
        actions=actions,
        page=page,
        pages=pages,
        total=total,
        page_url=page_url,
    )


@bp.get("/audit/chain")
@role_required("admin")
def audit_chain():
    """The hash chain's state (loaded by the page after it shows)."""
    result = audit.verify_chain(g.agency_id)
    return render("admin/_audit_chain.html", result=result)


@bp.get("/audit.csv")
@role_required("admin")
def audit_csv():
    f = audit_filters()
    if request.args.get("page"):
        abort(400)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["seq", "created_at", "actor_type", "actor", "action", "subject_type", "subject_id",
         "ip", "details", "hash"]
    )  # fmt: skip
    stmt = (
        select(AuditEvent)
        .where(*_where(g.agency_id, f))
        .order_by(AuditEvent.seq)
        .limit(CSV_LIMIT)
        .execution_options(yield_per=1000)
    )
    for e in db.session.execute(stmt).scalars():
        writer.writerow(
            [e.seq, e.created_at.isoformat(), e.actor_type, _safe(e.actor_label), e.action,
             e.subject_type or "", e.subject_id or "", e.ip or "", _safe(str(e.details)), e.hash]
        )  # fmt: skip
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="audit-{g.agency.slug}.csv"',
            "Cache-Control": "private, no-store",
        },
    )


def _safe(value: str | None) -> str:
    """No spreadsheet formulas from a cell (CSV injection)."""
    value = value or ""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
