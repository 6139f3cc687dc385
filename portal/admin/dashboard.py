"""The agency's start page: where its requests stand."""

from __future__ import annotations

from flask import g
from sqlalchemy import func, select

from ..auth.session import role_required
from ..extensions import db
from ..models import REQUEST_STATUSES, AccessRequest
from ..web import render
from . import bp


@bp.get("/")
@role_required("viewer")
def dashboard():
    rows = db.session.execute(
        select(AccessRequest.status, func.count())
        .where(AccessRequest.agency_id == g.agency_id)
        .group_by(AccessRequest.status)
    ).all()
    counts = dict.fromkeys(REQUEST_STATUSES[1:], 0)
    counts.update(dict(rows))
    return render("admin/dashboard.html", counts=counts, total=sum(counts.values()))
