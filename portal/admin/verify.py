"""Checking a confirmation report's verification code."""

from __future__ import annotations

from flask import g, redirect, request, url_for

from ..auth.session import role_required
from ..web import render
from . import bp


def _lookup(code: str):
    from ..reports.verification import find_by_verification_code, normalise_code

    if normalise_code(code) is None:
        return None, False
    return find_by_verification_code(g.agency_id, code), True


@bp.get("/verify")
@role_required("viewer")
def verify_form():
    code = (request.args.get("code") or "").strip()
    if code:
        return redirect(url_for("admin.verify_code", code=code[:40]), 303)
    return render("admin/verify.html", code="", searched=False, found=None, well_formed=True)


@bp.get("/verify/<code>")
@role_required("viewer")
def verify_code(code: str):
    found, well_formed = _lookup(code[:40])
    status = 200 if found else 404
    return render(
        "admin/verify.html", code=code[:40], searched=True, found=found, well_formed=well_formed
    ), status
