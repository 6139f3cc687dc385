"""Access requests in the agency area: create, list, follow live, revoke."""

from __future__ import annotations

from flask import abort, current_app, flash, g, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload
from wtforms import EmailField, IntegerField, SelectField, StringField, TextAreaField, URLField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from .. import audit, nav, platforms
from ..auth.session import role_required
from ..extensions import db
from ..models import AccessRequest, Grant, Template, User
from ..services import requests as service
from ..services.connections import connections_by_platform, is_usable
from ..web import get_for_agency, is_htmx, render
from . import bp

nav.add("admin.request_list", _l("Requests"), min_role="viewer", order=20, prefix="admin.request")

PER_PAGE = 25
STATUS_TARGET = "request-status"
# Field names of the service's errors, as named in the form.
FORM_FIELDS = {
    "client.name": "client_name",
    "client.email": "client_email",
    "client.locale": "locale",
    "expires_in_days": "expires_in_days",
    "message": "message",
    "redirect_url": "redirect_url",
}


class RequestForm(FlaskForm):
    client_name = StringField(
        _l("Client's name"),
        validators=[DataRequired(_l("Enter the client's name.")), Length(max=200)],
    )
    client_email = EmailField(
        _l("Client's e-mail"),
        validators=[DataRequired(_l("Enter the client's e-mail address.")), Length(max=254)],
    )
    locale = SelectField(_l("Language of the client's page"))
    message = TextAreaField(
        _l("Message to the client (optional)"), validators=[Optional(), Length(max=5000)]
    )
    expires_in_days = IntegerField(
        _l("Link valid for (days)"),
        default=service.DEFAULT_EXPIRY_DAYS,
        validators=[
            DataRequired(_l("Enter a number of days.")),
            NumberRange(service.MIN_EXPIRY_DAYS, service.MAX_EXPIRY_DAYS),
        ],
    )
    redirect_url = URLField(
        _l("Send the client to this page when they finish (optional)"),
        validators=[Optional(), Length(max=2000)],
    )


class ActionForm(FlaskForm):
    """A button that changes something: only the CSRF token travels."""


def _user_actor() -> audit.Actor:
    return audit.Actor("user", str(current_user.id), current_user.email)


def _load_request(request_id: int) -> AccessRequest:
    get_for_agency(AccessRequest, request_id)  # a foreign id is a 404
    return (
        db.session.execute(
            select(AccessRequest)
            .where(AccessRequest.id == request_id)
            .options(joinedload(AccessRequest.client), selectinload(AccessRequest.grants))
            .execution_options(populate_existing=True)
        )
        .unique()
        .scalar_one()
    )


def _catalogue():
    """Every registered platform with its asset types and permissions, for the form."""
    return platforms.all_connectors()


def _items_from_form() -> tuple[list[dict], set[str]]:
    """Checked boxes named `perm`, valued "platform|ASSET_TYPE|PERMISSION"."""
    checked = set(request.form.getlist("perm"))
    grouped: dict[tuple[str, str], list[str]] = {}
    for value in request.form.getlist("perm"):
        parts = value.split("|")
        if len(parts) != 3:
            continue
        grouped.setdefault((parts[0], parts[1]), []).append(parts[2])
    items = [
        {"platform": p, "asset_type": t, "permissions": perms} for (p, t), perms in grouped.items()
    ]
    return items, checked


def _checked_from(items: list[dict]) -> set[str]:
    return {
        f"{item['platform']}|{item['asset_type']}|{permission}"
        for item in items
        for permission in item.get("permissions", [])
    }


def _templates() -> list[Template]:
    return list(
        db.session.execute(
            select(Template)
            .where(Template.agency_id == g.agency_id, Template.archived_at.is_(None))
            .order_by(Template.name)
        ).scalars()
    )


@bp.route("/requests/new", methods=["GET", "POST"])
@role_required("member")
def request_new():
    form = RequestForm()
    form.locale.choices = list(current_app.config["LANGUAGES"].items())
    template = None
    template_id = request.values.get("template_id", type=int)
    if template_id:
        template = get_for_agency(Template, template_id)
    items_error = None
    if request.method == "GET":
        form.locale.data = g.agency.default_locale
        checked = _checked_from(template.items) if template else set()
        if template and template.message:
            form.message.data = template.message
    else:
        items, checked = _items_from_form()
        if form.validate_on_submit():
            try:
                access_request, _token = service.create_request(
                    g.agency,
                    db.session.get(User, current_user.id),
                    client_name=form.client_name.data,
                    client_email=form.client_email.data,
                    locale=form.locale.data,
                    items=items,
                    message=form.message.data,
                    expires_in_days=form.expires_in_days.data,
                    redirect_url=form.redirect_url.data,
                    template=template,
                )
            except service.RequestError as exc:
                for error in exc.errors:
                    name = FORM_FIELDS.get(error["field"])
                    if name:
                        getattr(form, name).errors = [*getattr(form, name).errors, error["message"]]
                    else:
                        items_error = (
                            f"{items_error} {error['message']}" if items_error else error["message"]
                        )
            else:
                flash(
                    _("The request is ready. Copy the link and send it to your client."), "success"
                )
                return redirect(url_for("admin.request_detail", request_id=access_request.id), 303)
    connections = connections_by_platform(g.agency_id)
    status = 422 if request.method == "POST" else 200
    return render(
        "admin/requests/new.html",
        form=form,
        catalogue=_catalogue(),
        connected={
            c.id: (not c.needs_agency_connection) or is_usable(connections.get(c.id))
            for c in _catalogue()
        },
        checked=checked,
        items_error=items_error,
        chosen_template=template,
        templates=_templates(),
    ), status


@bp.get("/requests")
@role_required("viewer")
def request_list():
    page = max(request.args.get("page", 1, type=int), 1)
    total = db.session.scalar(
        select(func.count())
        .select_from(AccessRequest)
        .where(AccessRequest.agency_id == g.agency_id)
    )
    rows = (
        db.session.execute(
            select(AccessRequest)
            .where(AccessRequest.agency_id == g.agency_id)
            .options(joinedload(AccessRequest.client))
            .order_by(AccessRequest.created_at.desc(), AccessRequest.id.desc())
            .limit(PER_PAGE)
            .offset((page - 1) * PER_PAGE)
        )
        .scalars()
        .all()
    )
    counts: dict[int, dict[str, int]] = {}
    if rows:
        for request_id, status, n in db.session.execute(
            select(Grant.access_request_id, Grant.status, func.count())
            .where(Grant.access_request_id.in_([r.id for r in rows]))
            .group_by(Grant.access_request_id, Grant.status)
        ):
            counts.setdefault(request_id, {})[status] = n
    pages = max((total + PER_PAGE - 1) // PER_PAGE, 1)
    if page > pages and total:
        abort(404)
    return render(
        "admin/requests/list.html",
        rows=rows,
        counts=counts,
        page=page,
        pages=pages,
        total=total,
    )


@bp.get("/requests/<int:request_id>")
@role_required("viewer")
def request_detail(request_id: int):
    access_request = _load_request(request_id)
    # The live status component polls this same address.
    block = "status" if request.headers.get("HX-Target") == STATUS_TARGET else None
    can_edit = g.membership.can("member")
    return render(
        "admin/requests/detail.html",
        block,
        ar=access_request,
        link=service.request_url(access_request) if can_edit else None,
        can_edit=can_edit,
        action_form=ActionForm(),
        status_target=STATUS_TARGET,
        polling=_polling(access_request),
        # Quick while the platform is being checked; calmer while the client is away.
        poll_delay="2s" if not service.is_settled(access_request) else "10s",
        connector_name=lambda platform_id: _connector_name(platform_id),
        asset_type_name=_asset_type_name,
        permission_label=_permission_label,
    )


def _polling(access_request: AccessRequest) -> bool:
    """Poll while the client may still act or a verification runs."""
    if access_request.status in ("sent", "opened", "in_progress"):
        return True
    return not service.is_settled(access_request)


def _connector_name(platform_id: str) -> str:
    try:
        return platforms.get(platform_id).name
    except KeyError:
        return platform_id


def _asset_type_name(platform_id: str, asset_type_id: str) -> str:
    try:
        asset_type = platforms.get(platform_id).asset_type(asset_type_id)
    except KeyError:
        asset_type = None
    return str(asset_type.name) if asset_type else asset_type_id


def _permission_label(platform_id: str, asset_type_id: str, permission_id: str) -> str:
    try:
        asset_type = platforms.get(platform_id).asset_type(asset_type_id)
    except KeyError:
        asset_type = None
    permission = asset_type.permission(permission_id) if asset_type else None
    return str(permission.label) if permission else permission_id


@bp.post("/requests/<int:request_id>/revoke")
@role_required("member")
def request_revoke(request_id: int):
    access_request = get_for_agency(AccessRequest, request_id)
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    if service.revoke_request(access_request, _user_actor()):
        flash(_("The request is revoked: its link no longer works."), "success")
    if is_htmx():
        return "", 204, {"HX-Redirect": url_for("admin.request_detail", request_id=request_id)}
    return redirect(url_for("admin.request_detail", request_id=request_id), 303)
