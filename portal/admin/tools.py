"""Other tools: access the agency describes itself, asked for like any platform.

Admins list, describe, edit and archive them here. Each one then appears in
the template editor, the request form and `GET /api/v1/platforms` under the
platform "other", and the client follows its steps on the link.

Also the guided steps' helper for the agency's request page (what the client
sent back, and what the agency does next).
"""

from __future__ import annotations

from flask import abort, flash, g, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from .. import audit, nav, platforms
from ..auth.session import role_required
from ..models import CustomTool, Grant
from ..models.tools import REPLY_KINDS
from ..platforms.manual import guided_grant, is_guided
from ..services import tools as service
from ..services.requests import RequestError
from ..web import get_for_agency, render
from . import bp
from .requests import ActionForm

nav.add("admin.tool_list", _l("Other tools"), min_role="admin", order=65, prefix="admin.tool")

REPLY_KIND_LABELS = {
    "confirmation": _l("Nothing: the client only confirms it is done"),
    "text": _l("A short text (a username, a site name...)"),
    "code": _l("A code (letters and digits)"),
    "number": _l("A number (an account id...)"),
    "email": _l("An e-mail address"),
    "url": _l("A web address"),
}
assert set(REPLY_KIND_LABELS) == set(REPLY_KINDS)
FORM_FIELDS = (
    "name",
    "description",
    "access_label",
    "instructions",
    "link",
    "reply_kind",
    "reply_label",
    "reply_hint",
)


def _actor() -> audit.Actor:
    return audit.Actor("user", str(current_user.id), current_user.email)


def _values(tool: CustomTool | None) -> dict[str, str]:
    if request.method == "POST":
        return {name: request.form.get(name, "") for name in FORM_FIELDS}
    if tool is None:
        return dict.fromkeys(FORM_FIELDS, "") | {"reply_kind": "confirmation"}
    return {name: getattr(tool, name) or "" for name in FORM_FIELDS}


@bp.get("/tools")
@role_required("admin")
def tool_list():
    show = "archived" if request.args.get("show") == "archived" else "active"
    return render(
        "admin/tools/list.html",
        tools=service.list_tools(g.agency_id, archived=show == "archived"),
        show=show,
        reply_kinds=REPLY_KIND_LABELS,
    )


def _edit(tool: CustomTool | None):
    values = _values(tool)
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        if not ActionForm().validate_on_submit():
            abort(400)
        try:
            if tool is None:
                saved = service.create_tool(g.agency_id, values, _actor(), current_user.id)
            else:
                saved = service.update_tool(tool, values, _actor())
        except RequestError as exc:
            for error in exc.errors:
                field = error["field"]
                errors[field] = (
                    f"{errors[field]} {error['message']}" if field in errors else error["message"]
                )
            status = 422
        else:
            flash(
                _(
                    "“%(name)s” is saved. Add it to a template or a request like any platform.",
                    name=saved.name,
                ),
                "success",
            )
            return redirect(url_for("admin.tool_list"), 303)
    return render(
        "admin/tools/edit.html",
        tool=tool,
        values=values,
        errors=errors,
        reply_kinds=REPLY_KIND_LABELS,
    ), status


@bp.route("/tools/new", methods=["GET", "POST"])
@role_required("admin")
def tool_new():
    return _edit(None)


@bp.route("/tools/<int:tool_id>/edit", methods=["GET", "POST"])
@role_required("admin")
def tool_edit(tool_id: int):
    return _edit(get_for_agency(CustomTool, tool_id))


@bp.post("/tools/<int:tool_id>/archive")
@role_required("admin")
def tool_archive(tool_id: int):
    tool = get_for_agency(CustomTool, tool_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    archive = request.form.get("restore") != "1"
    try:
        service.set_archived(tool, archive, _actor())
    except RequestError as exc:
        flash(exc.message, "error")
        return redirect(url_for("admin.tool_list", show="archived"), 303)
    if archive:
        flash(
            _(
                "“%(name)s” is archived: it is no longer offered for new templates and requests. "
                "Requests already sent keep its steps.",
                name=tool.name,
            ),
            "success",
        )
        return redirect(url_for("admin.tool_list"), 303)
    flash(_("“%(name)s” is back in use.", name=tool.name), "success")
    return redirect(url_for("admin.tool_list"), 303)


# ------------------------------------------- guided steps on the request page


class GuidedStepView:
    """A guided grant on the agency's request page: what came back, who acts next."""

    def __init__(self, grant: Grant):
        self.grant = grant
        self.state = guided_grant(grant)

    @property
    def waiting_on(self) -> str | None:
        return self.state.waiting_on if self.state else None

    @property
    def sent_back(self) -> list[tuple[str, str]]:
        return self.state.sent_back if self.state else []

    @property
    def agency_steps(self) -> list[str]:
        """What the agency does now, with what the client sent filled in."""
        if self.waiting_on != "agency":
            return []
        from ..client.flow import guide_context

        connector = platforms.get(self.grant.platform)
        access_request = self.grant.access_request
        context = guide_context(
            access_request, connector, (self.grant.external or {}).get("sent_back")
        )
        guide = connector.guide(self.grant.asset_type, list(self.grant.permissions), context)
        return guide.agency_steps


@bp.app_template_global("guided_step")
def guided_step(grant: Grant) -> GuidedStepView | None:
    """For templates: the guided view of `grant`, or None for an API-made grant."""
    if not grant.manual or not is_guided(grant.platform):
        return None
    return GuidedStepView(grant)
