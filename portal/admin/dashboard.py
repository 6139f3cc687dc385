"""The agency's start page: where its requests stand, and what needs the agency.

Every figure comes from a handful of aggregate queries over indexed columns,
whatever the number of requests: counts by status, the funnel of the last
30 and 90 days, the median time to complete, and short "needs you" lists.
"""

from __future__ import annotations

from datetime import timedelta
from statistics import median

from flask import g
from sqlalchemy import func, select

from ..auth.session import role_required
from ..extensions import db
from ..models import OPEN_REQUEST_STATUSES, REQUEST_STATUSES, AccessRequest, Client, Grant
from ..models.base import utcnow
from ..web import render
from . import bp

WINDOWS = (30, 90)
NEEDS_YOU_LIMIT = 10
EXPIRING_WITHIN = timedelta(days=3)


def figures(agency_id: int, now) -> tuple[dict, dict, dict]:
    """Counts by status, the funnel and the median time to complete per window.

    Two queries: the counts come from the (agency_id, status, ...) index alone,
    and the windowed figures read only the requests sent within the widest
    window (the (agency_id, created_at) index), so neither reads the whole
    history. The funnel and the median follow the requests sent in each
    window (a cohort): of those, how many were opened and completed, and how
    long completion took.
    """
    rows = db.session.execute(
        select(AccessRequest.status, func.count())
        .where(AccessRequest.agency_id == agency_id)
        .group_by(AccessRequest.status)
    ).all()
    counts = dict.fromkeys(REQUEST_STATUSES[1:], 0)
    counts.update({s: int(n) for s, n in rows if s in counts})

    status = AccessRequest.status
    postgres = db.engine.dialect.name == "postgresql"
    seconds = func.extract("epoch", AccessRequest.completed_at - AccessRequest.created_at)
    columns = []
    for days in WINDOWS:
        recent = AccessRequest.created_at >= now - timedelta(days=days)
        done = recent & (status == "completed")
        columns += [
            func.count().filter(recent),
            func.count().filter(recent & AccessRequest.opened_at.is_not(None)),
            func.count().filter(done),
        ]
        if postgres:
            columns.append(func.percentile_cont(0.5).within_group(seconds).filter(done))
    row = db.session.execute(
        select(*columns).where(
            AccessRequest.agency_id == agency_id,
            AccessRequest.created_at >= now - timedelta(days=max(WINDOWS)),
        )
    ).one()
    values = list(row)
    funnels: dict[int, dict[str, int]] = {}
    medians: dict[int, float | None] = {}
    for days in WINDOWS:
        sent, opened, completed = (int(values.pop(0) or 0) for _ in range(3))
        funnels[days] = {"sent": sent, "opened": opened, "completed": completed}
        if postgres:
            value = values.pop(0)
            medians[days] = round(float(value) / 3600, 1) if value is not None else None
    if not postgres:
        medians = _medians_in_python(agency_id, now)
    return counts, funnels, medians


def _medians_in_python(agency_id: int, now) -> dict[int, float | None]:
    """SQLite has no percentile: fetch the durations of the widest window once."""
    oldest = now - timedelta(days=max(WINDOWS))
    pairs = db.session.execute(
        select(AccessRequest.created_at, AccessRequest.completed_at).where(
            AccessRequest.agency_id == agency_id,
            AccessRequest.status == "completed",
            AccessRequest.created_at >= oldest,
        )
    ).all()
    result: dict[int, float | None] = {}
    for days in WINDOWS:
        since = now - timedelta(days=days)
        values = [(b - a).total_seconds() for a, b in pairs if a and b and a >= since]
        result[days] = round(median(values) / 3600, 1) if values else None
    return result


def needs_you(agency_id: int, now) -> dict[str, list]:
    """Failed grants, manual steps waiting, links expiring within 3 days."""
    # 1. The requests of the latest flagged grants: two short backward scans
    #    of the (agency_id, status, id) index, however many grants there are.
    latest = [
        select(Grant.access_request_id)
        .where(Grant.agency_id == agency_id, Grant.status == flag)
        .order_by(Grant.id.desc())
        .limit(NEEDS_YOU_LIMIT * 4)
        for flag in ("failed", "needs_action")
    ]
    # (Each limited scan is a subquery: SQLite refuses ORDER BY inside a UNION.)
    first, second = (q.subquery() for q in latest)
    both = select(first.c.access_request_id).union_all(select(second.c.access_request_id))
    ids = set(db.session.execute(both).scalars())
    # 2. Those requests, their clients and exact counts, in one query.
    failed, manual = [], []
    if ids:

        def n_grants(flag: str):
            return (
                select(func.count())
                .where(Grant.access_request_id == AccessRequest.id, Grant.status == flag)
                .correlate(AccessRequest)
                .scalar_subquery()
            )

        rows = db.session.execute(
            select(AccessRequest, Client, n_grants("failed"), n_grants("needs_action"))
            .join(Client, Client.id == AccessRequest.client_id)
            .where(
                AccessRequest.id.in_(ids),
                AccessRequest.status.not_in(("revoked", "expired")),
            )
            .order_by(AccessRequest.updated_at.desc(), AccessRequest.id.desc())
        ).all()
        failed = [(ar, client, nf) for ar, client, nf, _nm in rows if nf][:NEEDS_YOU_LIMIT]
        manual = [(ar, client, nm) for ar, client, _nf, nm in rows if nm][:NEEDS_YOU_LIMIT]
    expiring = db.session.execute(
        select(AccessRequest, Client)
        .join(Client, Client.id == AccessRequest.client_id)
        .where(
            AccessRequest.agency_id == agency_id,
            AccessRequest.status.in_(OPEN_REQUEST_STATUSES),
            AccessRequest.expires_at <= now + EXPIRING_WITHIN,
            AccessRequest.expires_at > now,
        )
        .order_by(AccessRequest.expires_at)
        .limit(NEEDS_YOU_LIMIT)
    ).all()
    return {
        "failed": failed[:NEEDS_YOU_LIMIT],
        "manual": manual[:NEEDS_YOU_LIMIT],
        "expiring": expiring,
    }


def funnel_bars(stages: dict[str, int]) -> list[dict]:
    """Bar geometry for the SVG (width in % of the first stage)."""
    top = max(stages["sent"], 1)
    return [
        {"key": key, "n": n, "width": round(100 * n / top, 1), "rate": round(100 * n / top)}
        for key, n in stages.items()
    ]


@bp.get("/")
@role_required("viewer")
def dashboard():
    now = utcnow()
    counts, funnels, medians = figures(g.agency_id, now)
    return render(
        "admin/dashboard.html",
        counts=counts,
        total=sum(counts.values()),
        funnels={days: funnel_bars(stages) for days, stages in funnels.items()},
        medians=medians,
        needs=needs_you(g.agency_id, now),
        windows=WINDOWS,
    )
