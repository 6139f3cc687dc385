"""Webhook endpoints in the agency area: add, edit, rotate the secret, test,
read the delivery log and redeliver."""

from __future__ import annotations

from flask import abort, flash, g, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import func, select

from .. import audit, nav
from ..auth.session import role_required
from ..extensions import db
from ..inputs import page_arg
from ..models import WebhookDelivery, WebhookEndpoint
from ..web import get_for_agency, render
from ..webhooks import service
from . import bp
from .requests import ActionForm

nav.add("admin.webhook_list", _l("Webhooks"), min_role="admin", order=82, prefix="admin.webhook")

DELIVERIES_PER_PAGE = 50


def _actor() -> audit.Actor:
    return audit.Actor("user", str(current_user.id), current_user.email)


def _check_form() -> None:
    if not ActionForm().validate_on_submit():
        abort(400)


@bp.get("/webhooks")
@role_required("admin")
def webhook_list():
    endpoints = list(
        db.session.execute(
            select(WebhookEndpoint)
            .where(WebhookEndpoint.agency_id == g.agency_id)
            .order_by(WebhookEndpoint.id)
        ).scalars()
    )
    return render("admin/webhooks/list.html", endpoints=endpoints)


def _form_values(endpoint: WebhookEndpoint | None = None) -> dict:
    if request.method == "POST":
        events = request.form.getlist("events")
        return {
            "url": request.form.get("url", ""),
            "events": ["*"] if "*" in events else events,
            "description": request.form.get("description", ""),
        }
    if endpoint is None:
        return {"url": "", "events": ["*"], "description": ""}
    return {
        "url": endpoint.url,
        "events": list(endpoint.events),
        "description": endpoint.description or "",
    }


@bp.route("/webhooks/new", methods=["GET", "POST"])
@role_required("admin")
def webhook_new():
    values = _form_values()
    errors: dict[str, str] = {}
    if request.method == "POST":
        _check_form()
        try:
            endpoint, secret = service.create_endpoint(
                g.agency_id,
                values["url"],
                values["events"],
                values["description"],
                _actor(),
                created_by_id=current_user.id,
            )
        except service.EndpointError as exc:
            errors = {e["field"]: e["message"] for e in exc.errors}
        else:
            return _detail(endpoint, new_secret=secret)
    return render(
        "admin/webhooks/edit.html",
        endpoint=None,
        values=values,
        errors=errors,
        choices=service.EVENT_CHOICES,
        form=ActionForm(),
    ), (422 if errors else 200)


@bp.route("/webhooks/<int:endpoint_id>/edit", methods=["GET", "POST"])
@role_required("admin")
def webhook_edit(endpoint_id: int):
    endpoint = get_for_agency(WebhookEndpoint, endpoint_id)
    values = _form_values(endpoint)
    errors: dict[str, str] = {}
    if request.method == "POST":
        _check_form()
        try:
            service.update_endpoint(
                endpoint, values["url"], values["events"], values["description"], _actor()
            )
        except service.EndpointError as exc:
            errors = {e["field"]: e["message"] for e in exc.errors}
        else:
            flash(_("Endpoint saved."), "success")
            return redirect(url_for("admin.webhook_detail", endpoint_id=endpoint.id), 303)
    return render(
        "admin/webhooks/edit.html",
        endpoint=endpoint,
        values=values,
        errors=errors,
        choices=service.EVENT_CHOICES,
        form=ActionForm(),
    ), (422 if errors else 200)


def _detail(endpoint: WebhookEndpoint, new_secret: str | None = None):
    page = page_arg()
    deliveries = list(
        db.session.execute(
            select(WebhookDelivery)
            .where(WebhookDelivery.endpoint_id == endpoint.id)
            .order_by(WebhookDelivery.id.desc())
            .offset((page - 1) * DELIVERIES_PER_PAGE)
            .limit(DELIVERIES_PER_PAGE)
        ).scalars()
    )
    total = db.session.execute(
        select(func.count()).where(WebhookDelivery.endpoint_id == endpoint.id)
    ).scalar_one()
    return render(
        "admin/webhooks/detail.html",
        "deliveries",
        endpoint=endpoint,
        deliveries=deliveries,
        page=page,
        pages=max((total + DELIVERIES_PER_PAGE - 1) // DELIVERIES_PER_PAGE, 1),
        new_secret=new_secret,
        overlaps=service.ROTATION_OVERLAPS,
        form=ActionForm(),
    )


@bp.get("/webhooks/<int:endpoint_id>")
@role_required("admin")
def webhook_detail(endpoint_id: int):
    return _detail(get_for_agency(WebhookEndpoint, endpoint_id))


@bp.post("/webhooks/<int:endpoint_id>/rotate")
@role_required("admin")
def webhook_rotate(endpoint_id: int):
    endpoint = get_for_agency(WebhookEndpoint, endpoint_id)
    _check_form()
    hours = request.form.get("overlap_hours", 24, type=int)
    if hours not in service.ROTATION_OVERLAPS:
        hours = 24
    secret = service.rotate_secret(endpoint, hours, _actor())
    return _detail(endpoint, new_secret=secret)


@bp.post("/webhooks/<int:endpoint_id>/test")
@role_required("admin")
def webhook_test(endpoint_id: int):
    endpoint = get_for_agency(WebhookEndpoint, endpoint_id)
    _check_form()
    service.send_test(endpoint, _actor())
    flash(_("A test event is on its way. Its result appears in the log below."), "success")
    return redirect(url_for("admin.webhook_detail", endpoint_id=endpoint.id), 303)


@bp.post("/webhooks/<int:endpoint_id>/toggle")
@role_required("admin")
def webhook_toggle(endpoint_id: int):
    endpoint = get_for_agency(WebhookEndpoint, endpoint_id)
    _check_form()
    enable = not endpoint.enabled
    service.set_enabled(endpoint, enable, _actor())
    flash(_("Endpoint enabled.") if enable else _("Endpoint disabled."), "success")
    return redirect(url_for("admin.webhook_detail", endpoint_id=endpoint.id), 303)


@bp.post("/webhooks/<int:endpoint_id>/delete")
@role_required("admin")
def webhook_delete(endpoint_id: int):
    endpoint = get_for_agency(WebhookEndpoint, endpoint_id)
    _check_form()
    service.delete_endpoint(endpoint, _actor())
    flash(_("Endpoint deleted."), "success")
    return redirect(url_for("admin.webhook_list"), 303)


@bp.post("/webhooks/deliveries/<int:delivery_id>/redeliver")
@role_required("admin")
def webhook_redeliver(delivery_id: int):
    row = get_for_agency(WebhookDelivery, delivery_id)
    _check_form()
    endpoint = db.session.get(WebhookEndpoint, row.endpoint_id)
    if not endpoint.enabled:
        flash(_("Enable the endpoint first, then redeliver."), "error")
    else:
        service.redeliver(row, _actor())
        flash(_("Sent again with the same webhook-id."), "success")
    return redirect(url_for("admin.webhook_detail", endpoint_id=row.endpoint_id), 303)
