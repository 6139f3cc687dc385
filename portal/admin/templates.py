"""Templates ("permission profiles"): what to ask for, reused across requests."""

from __future__ import annotations

from flask import abort, flash, g, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from .. import audit, nav, platforms
from ..auth.session import role_required
from ..extensions import db
from ..models import Template
from ..services import templates as service
from ..services.connections import connections_by_platform, is_usable
from ..services.requests import RequestError
from ..web import get_for_agency, is_htmx, render
from . import bp
from .requests import ActionForm, _checked_from, _items_from_form

nav.add(
    "admin.template_list", _l("Templates"), min_role="viewer", order=30, prefix="admin.template"
)

BLANK_QUESTION = {"id": "", "label": "", "kind": "short_text", "required": False, "choices": []}


def _actor() -> audit.Actor:
    return audit.Actor("user", str(current_user.id), current_user.email)


def _questions_from_form() -> list[dict]:
    """Rows named q-<n>-label, q-<n>-kind, q-<n>-required, q-<n>-choices, q-<n>-id."""
    rows = []
    count = min(request.form.get("q-count", 0, type=int), service.MAX_QUESTIONS + 5)
    for n in range(count):
        if request.form.get(f"q-{n}-remove"):
            continue
        rows.append(
            {
                "id": request.form.get(f"q-{n}-id", ""),
                "label": request.form.get(f"q-{n}-label", ""),
                "kind": request.form.get(f"q-{n}-kind", "short_text"),
                "required": bool(request.form.get(f"q-{n}-required")),
                "choices": request.form.get(f"q-{n}-choices", "").splitlines(),
            }
        )
    return rows


def _form_context(template: Template | None, **values) -> dict:
    connections = connections_by_platform(g.agency_id)
    catalogue = platforms.all_connectors()
    return {
        "tpl": template,
        "catalogue": catalogue,
        "connected": {
            c.id: (not c.needs_agency_connection) or is_usable(connections.get(c.id))
            for c in catalogue
        },
        "kinds": service.QUESTION_KINDS,
        **values,
    }


def _field_errors(exc: RequestError) -> dict[str, str]:
    errors: dict[str, str] = {}
    for error in exc.errors:
        field = error["field"]
        key = field
        if field.startswith("items"):
            key = "items"
        errors[key] = f"{errors[key]} {error['message']}" if key in errors else error["message"]
    return errors


@bp.get("/templates")
@role_required("viewer")
def template_list():
    show = request.args.get("show", "active")
    stmt = select(Template).where(Template.agency_id == g.agency_id)
    if show == "archived":
        stmt = stmt.where(Template.archived_at.is_not(None))
    else:
        stmt = stmt.where(Template.archived_at.is_(None))
    rows = list(db.session.execute(stmt.order_by(Template.name, Template.id)).scalars())
    return render(
        "admin/templates/list.html",
        rows=rows,
        show=show,
        action_form=ActionForm(),
        asset_type_name=_asset_type_name,
    )


def _asset_type_name(platform_id: str, asset_type_id: str) -> str:
    try:
        asset_type = platforms.get(platform_id).asset_type(asset_type_id)
    except KeyError:
        return asset_type_id
    return str(asset_type.name) if asset_type else asset_type_id


def _edit(template: Template | None):
    values = {
        "name": template.name if template else "",
        "message": (template.message or "") if template else "",
        "questions": [dict(q) for q in (template.questions if template else [])],
        "checked": _checked_from(template.items) if template else set(),
        "errors": {},
    }
    status = 200
    if request.method == "POST":
        if not ActionForm().validate_on_submit():
            abort(400)
        items, checked = _items_from_form()
        questions = _questions_from_form()
        values.update(
            name=request.form.get("name", ""),
            message=request.form.get("message", ""),
            questions=questions,
            checked=checked,
        )
        if request.form.get("action") == "add_question":
            values["questions"].append(dict(BLANK_QUESTION))
            return render("admin/templates/edit.html", "form", **_form_context(template, **values))
        try:
            saved = service.save_template(
                g.agency_id,
                values["name"],
                values["message"],
                items,
                questions,
                _actor(),
                template=template,
            )
        except RequestError as exc:
            values["errors"] = _field_errors(exc)
            status = 422
        else:
            flash(_("The template “%(name)s” is saved.", name=saved.name), "success")
            return redirect(url_for("admin.template_detail", template_id=saved.id), 303)
    if not values["questions"]:
        values["questions"] = [dict(BLANK_QUESTION)]
    return render("admin/templates/edit.html", **_form_context(template, **values)), status


@bp.route("/templates/new", methods=["GET", "POST"])
@role_required("admin")
def template_new():
    return _edit(None)


@bp.route("/templates/<int:template_id>/edit", methods=["GET", "POST"])
@role_required("admin")
def template_edit(template_id: int):
    return _edit(get_for_agency(Template, template_id))


@bp.get("/templates/<int:template_id>")
@role_required("viewer")
def template_detail(template_id: int):
    template = get_for_agency(Template, template_id)
    return render(
        "admin/templates/detail.html",
        tpl=template,
        kinds=service.QUESTION_KINDS,
        action_form=ActionForm(),
        preview=_preview_context(template.items, template.message, template.questions),
    )


@bp.post("/templates/<int:template_id>/duplicate")
@role_required("admin")
def template_duplicate(template_id: int):
    template = get_for_agency(Template, template_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    copy_ = service.duplicate_template(template, _actor())
    flash(_("Duplicated. Rename the copy and change what you need."), "success")
    return redirect(url_for("admin.template_edit", template_id=copy_.id), 303)


@bp.post("/templates/<int:template_id>/archive")
@role_required("admin")
def template_archive(template_id: int):
    template = get_for_agency(Template, template_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    archive = request.form.get("restore") != "1"
    service.set_archived(template, archive, _actor())
    if archive:
        flash(_("Archived. Requests already sent are unchanged."), "success")
    else:
        flash(_("The template is back in use."), "success")
    return redirect(url_for("admin.template_detail", template_id=template.id), 303)


def _preview_context(items, message, questions) -> dict:
    """What the client's welcome page will list: resolved items, message, questions."""
    groups: dict[str, list] = {}
    for item in items or []:
        try:
            connector = platforms.get(item["platform"])
        except KeyError:
            continue
        asset_type = connector.asset_type(item["asset_type"])
        if asset_type is None:
            continue
        permissions = [p for p in (asset_type.permission(x) for x in item["permissions"]) if p]
        groups.setdefault(connector.id, []).append((asset_type, permissions))
    return {
        "groups": [(platforms.get(p), rows) for p, rows in groups.items()],
        "message": message,
        "questions": [q for q in questions or [] if q.get("label")],
    }


@bp.post("/templates/preview")
@role_required("admin")
def template_preview():
    """The live preview of the form being edited (htmx)."""
    items, _checked = _items_from_form()
    preview = _preview_context(items, request.form.get("message"), _questions_from_form())
    if not is_htmx():
        abort(400)
    return render("admin/templates/_preview.html", preview=preview, agency=g.agency)
