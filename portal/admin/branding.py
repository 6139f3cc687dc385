"""Branding (white label): what the client sees instead of Latchkey."""

from __future__ import annotations

from flask import abort, current_app, flash, g, make_response, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from .. import audit, nav
from ..auth.session import role_required
from ..client.flow import brand_colours
from ..services import branding as service
from ..web import is_htmx, render
from . import bp
from .requests import ActionForm

nav.add("admin.branding", _l("Branding"), min_role="admin", order=70)

LOGO_TYPES = {"image/png", "image/jpeg", "image/svg+xml"}


def _values_from_form(agency) -> tuple[dict, dict[str, str]]:
    """Checked values to save, and errors by field."""
    values: dict = {}
    errors: dict[str, str] = {}
    display_name = (request.form.get("display_name") or "").strip()
    if len(display_name) > 120:
        errors["display_name"] = _("Use at most 120 characters.")
    values["display_name"] = display_name or None
    checks = {
        "primary_color": lambda: service.check_colour(request.form.get("primary_color", "")),
        "support_email": lambda: service.check_support_email(request.form.get("support_email")),
        "custom_domain": lambda: service.normalise_domain(
            request.form.get("custom_domain"), agency.id
        ),
    }
    for name, check in checks.items():
        try:
            values[name] = check()
        except service.BrandingError as exc:
            errors[name] = exc.message
    locale = request.form.get("default_locale", "")
    if locale not in current_app.config["LANGUAGES"]:
        errors["default_locale"] = _("Choose a language.")
    else:
        values["default_locale"] = locale
    upload = request.files.get("logo")
    if upload is not None and upload.filename:
        data = upload.stream.read(service.MAX_LOGO_BYTES + 1)
        try:
            values["logo"] = service.check_logo(data)
        except service.BrandingError as exc:
            errors["logo"] = exc.message
    elif request.form.get("remove_logo"):
        values["logo"] = None
    return values, errors


@bp.route("/branding", methods=["GET", "POST"])
@role_required("admin")
def branding():
    agency = g.agency
    errors: dict[str, str] = {}
    form_values = {
        "display_name": agency.display_name or "",
        "primary_color": agency.primary_color or "#4338ca",
        "support_email": agency.support_email or "",
        "custom_domain": agency.custom_domain or "",
        "default_locale": agency.default_locale or "en",
    }
    status = 200
    if request.method == "POST":
        if not ActionForm().validate_on_submit():
            abort(400)
        values, errors = _values_from_form(agency)
        form_values.update({k: request.form.get(k, "") for k in form_values})
        if errors:
            status = 422
        else:
            actor = audit.Actor("user", str(current_user.id), current_user.email)
            service.save_branding(agency, values, actor)
            flash(_("Branding saved. Your clients see it on their next page."), "success")
            return redirect(url_for("admin.branding"), 303)
    return render(
        "admin/branding.html",
        v=form_values,
        errors=errors,
        action_form=ActionForm(),
        brand=brand_colours(form_values["primary_color"]),
        contrast=_contrast(form_values["primary_color"]),
        preview_name=form_values["display_name"] or agency.name,
        base_host=service.base_host(),
    ), status


def _contrast(colour: str) -> float | None:
    if service.HEX_COLOUR.match(colour or ""):
        return round(service.contrast_ratio(colour), 2)
    return None


@bp.post("/branding/preview")
@role_required("admin")
def branding_preview():
    """The client page's preview with the values being typed (htmx)."""
    if not is_htmx():
        abort(400)
    colour = request.form.get("primary_color", "")
    name = (request.form.get("display_name") or "").strip()[:120] or g.agency.name
    return render(
        "admin/_brand_preview.html",
        brand=brand_colours(colour),
        contrast=_contrast(colour),
        preview_name=name,
        support_email=(request.form.get("support_email") or "").strip()[:254],
    )


@bp.get("/branding/logo")
@role_required("viewer")
def branding_logo():
    agency = g.agency
    if not agency.logo or agency.logo_mimetype not in LOGO_TYPES:
        abort(404)
    response = make_response(agency.logo)
    response.mimetype = agency.logo_mimetype
    response.headers["Cache-Control"] = "private, no-cache"
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; sandbox"
    )
    return response
