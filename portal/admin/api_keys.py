"""API keys in the agency area: admins and owners create and revoke them."""

from __future__ import annotations

from flask import abort, flash, g, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from .. import audit, nav
from ..api import keys as service
from ..auth.session import role_required
from ..extensions import db
from ..models import API_SCOPES, ApiKey
from ..web import get_for_agency, render
from . import bp
from .requests import ActionForm

nav.add("admin.api_key_list", _l("API"), min_role="admin", order=80, prefix="admin.api")


def _actor() -> audit.Actor:
    return audit.Actor("user", str(current_user.id), current_user.email)


def _keys():
    return list(
        db.session.execute(
            select(ApiKey)
            .where(ApiKey.agency_id == g.agency_id)
            .order_by(ApiKey.revoked_at.is_not(None), ApiKey.id.desc())
        ).scalars()
    )


@bp.get("/api/keys")
@role_required("admin")
def api_key_list():
    return render("admin/api/keys.html", keys=_keys(), form=ActionForm(), new_key=None)


@bp.post("/api/keys")
@role_required("admin")
def api_key_create():
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    name = (request.form.get("name") or "").strip()
    scopes = [s for s in request.form.getlist("scopes") if s in API_SCOPES]
    errors = {}
    if not name:
        errors["name"] = _("Give the key a name, like the system that will use it.")
    elif len(name) > 120:
        errors["name"] = _("Use at most 120 characters.")
    if not scopes:
        errors["scopes"] = _("Choose read, write or both.")
    if errors:
        return render(
            "admin/api/keys.html", keys=_keys(), form=form, new_key=None, errors=errors, name=name
        ), 422
    key, plain = service.create_key(
        g.agency_id, name, scopes, created_by_id=current_user.id, actor=_actor()
    )
    # Shown once, in this answer only: never stored, never in a redirect.
    return render(
        "admin/api/keys.html", keys=_keys(), form=ActionForm(), new_key=plain, created=key
    )


@bp.post("/api/keys/<int:key_id>/revoke")
@role_required("admin")
def api_key_revoke(key_id: int):
    key = get_for_agency(ApiKey, key_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    if service.revoke_key(key, _actor()):
        flash(_("The key “%(name)s” is revoked: it stops working now.", name=key.name), "success")
    return redirect(url_for("admin.api_key_list"), 303)
