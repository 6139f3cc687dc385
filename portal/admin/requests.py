"""Access requests in the agency area: create, list, follow live, revoke."""

from __future__ import annotations

from datetime import timedelta

from flask import Response, abort, current_app, flash, g, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import joinedload, selectinload
from wtforms import EmailField, IntegerField, SelectField, StringField, TextAreaField, URLField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from .. import audit, nav, platforms
from ..auth.session import role_required
from ..extensions import db
from ..inputs import int_arg, page_arg
from ..labels import audit_action_label, audit_event_text
from ..models import REQUEST_STATUSES, AccessRequest, AuditEvent, Client, Grant, Template, User
from ..models.base import utcnow
from ..notifications.removal import removal_steps
from ..platforms.base import PlatformError
from ..services import offboarding, request_actions
from ..services import requests as service
from ..services.connections import connections_by_platform, is_usable
from ..services.templates import answer_label
from ..web import get_for_agency, is_htmx, render
from . import bp

nav.add("admin.request_list", _l("Requests"), min_role="viewer", order=20, prefix="admin.request")

PER_PAGE = 25
EXTEND_CHOICES = (3, 7, 14, 30)
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
    form.locale.choices = [
        (service.BROWSER_LOCALE, _("The client's browser language")),
        *current_app.config["LANGUAGES"].items(),
    ]
    template = None
    template_id = request.values.get("template_id", type=int)
    if template_id:
        template = get_for_agency(Template, template_id)
    items_error = None
    client_id = request.args.get("client_id", type=int)
    if request.method == "GET":
        form.locale.data = service.BROWSER_LOCALE
        if client_id:
            known = get_for_agency(Client, client_id)
            form.client_name.data = known.name
            form.client_email.data = known.email
            form.locale.data = known.locale
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


SORTS = {
    "newest": lambda: (AccessRequest.created_at.desc(), AccessRequest.id.desc()),
    "oldest": lambda: (AccessRequest.created_at.asc(), AccessRequest.id.asc()),
    "expires": lambda: (AccessRequest.expires_at.asc(), AccessRequest.id.asc()),
    "client": lambda: (func.lower(Client.name).asc(), AccessRequest.id.asc()),
}
SORT_LABELS = {
    "newest": _l("Newest first"),
    "oldest": _l("Oldest first"),
    "expires": _l("Expiring soonest"),
    "client": _l("Client name"),
}
MAX_PER_PAGE = 100
COUNT_CAP = 10_000


def list_filters() -> dict:
    """The list's filters from the query string, normalised."""
    status = request.args.get("status", "")
    platform = request.args.get("platform", "")
    sort = request.args.get("sort", "newest")
    per_page = int_arg("per_page", PER_PAGE, low=1, high=MAX_PER_PAGE, clamp=True)
    return {
        "q": (request.args.get("q") or "").strip()[:200],
        "status": status if status in REQUEST_STATUSES else "",
        "platform": platform if platform in {c.id for c in platforms.all_connectors()} else "",
        "sort": sort if sort in SORTS else "newest",
        "page": page_arg(),
        "per_page": per_page,
    }


def _conditions(agency_id: int, f: dict) -> tuple[list, bool]:
    """WHERE clauses, and whether they need the client joined."""
    where = [AccessRequest.agency_id == agency_id]
    needs_client = False
    if f["status"]:
        where.append(AccessRequest.status == f["status"])
    if f["platform"]:
        # Items are a JSON snapshot; their text names each platform once per item.
        where.append(
            func.cast(AccessRequest.items, db.Text).contains(
                f'"platform": "{f["platform"]}"', autoescape=True
            )
        )
    if f["q"]:
        # Prefix of the client's name or e-mail (any case), or the exact external
        # id: each side is an index range scan (see the Client indexes), joined
        # by id rather than OR-ed across tables, which would scan every row.
        q = f["q"].lower()
        clients = select(Client.id).where(
            Client.agency_id == agency_id,
            or_(
                func.lower(Client.name).startswith(q, autoescape=True),
                func.lower(Client.email).startswith(q, autoescape=True),
            ),
        )
        by_client = select(AccessRequest.id).where(
            AccessRequest.agency_id == agency_id, AccessRequest.client_id.in_(clients)
        )
        by_external = select(AccessRequest.id).where(
            AccessRequest.agency_id == agency_id, AccessRequest.external_id == f["q"]
        )
        where.append(AccessRequest.id.in_(by_client.union(by_external)))
    return where, needs_client


def query_page(agency_id: int, f: dict):
    """One query for the page's rows (with the client and grant counts) and one count.

    Offset pagination over indexed orderings (agency_id, status, created_at):
    the first pages, which people use, cost an index range scan; deep pages
    cost the offset. Page numbers and "jump to page" need offsets; the API's
    cursor list is the keyset alternative for scripts walking everything.
    """
    where, _needs_client = _conditions(agency_id, f)
    # Counting stops at COUNT_CAP: past it the page says "10,000+" and the
    # count costs the same at 10,000 or 1,000,000 matching requests.
    capped = select(AccessRequest.id).where(*where).limit(COUNT_CAP + 1).subquery()
    total = db.session.scalar(select(func.count()).select_from(capped)) or 0
    n_grants = (
        select(func.count())
        .where(Grant.access_request_id == AccessRequest.id)
        .correlate(AccessRequest)
        .scalar_subquery()
    )
    n_verified = (
        select(func.count())
        .where(Grant.access_request_id == AccessRequest.id, Grant.status == "verified")
        .correlate(AccessRequest)
        .scalar_subquery()
    )
    n_attention = (
        select(func.count())
        .where(
            Grant.access_request_id == AccessRequest.id,
            Grant.status.in_(("failed", "needs_action")),
        )
        .correlate(AccessRequest)
        .scalar_subquery()
    )
    rows = db.session.execute(
        select(
            AccessRequest,
            Client,
            n_grants.label("grants"),
            n_verified.label("verified"),
            n_attention.label("attention"),
        )
        .join(Client, Client.id == AccessRequest.client_id)
        .where(*where)
        .order_by(*SORTS[f["sort"]]())
        .limit(f["per_page"])
        .offset((f["page"] - 1) * f["per_page"])
    ).all()
    return rows, total


@bp.get("/requests")
@role_required("viewer")
def request_list():
    f = list_filters()
    rows, total = query_page(g.agency_id, f)
    more = total > COUNT_CAP
    if more:
        # Past the cap the last page is unknown: offer the next one while pages are full.
        pages = f["page"] + (1 if len(rows) == f["per_page"] else 0)
    else:
        pages = max((total + f["per_page"] - 1) // f["per_page"], 1)
    if f["page"] > pages and total:
        abort(404)

    def page_url(**changes):
        args = {k: v for k, v in f.items() if v and not (k == "per_page" and v == PER_PAGE)}
        args.update(changes)
        if args.get("page") == 1:
            args.pop("page")
        if args.get("sort") == "newest":
            args.pop("sort")
        return url_for("admin.request_list", **args)

    return render(
        "admin/requests/list.html",
        "results",
        rows=rows,
        f=f,
        page=f["page"],
        pages=pages,
        total=min(total, COUNT_CAP),
        more=more,
        page_url=page_url,
        statuses=REQUEST_STATUSES[1:],
        sort_labels=SORT_LABELS,
        connectors=platforms.all_connectors(),
        filtered=bool(f["q"] or f["status"] or f["platform"]),
    )


@bp.get("/requests/<int:request_id>")
@role_required("viewer")
def request_detail(request_id: int):
    access_request = _load_request(request_id)
    # The live status component polls this same address.
    block = "status" if request.htmx.target == STATUS_TARGET else None
    can_edit = g.membership.can("member")
    extra = {} if block else _detail_extras(access_request)
    # The poll says which status its page shows: when it changed by itself
    # (completed, expired...), the buttons under the link are swapped too.
    shown = request.args.get("shown")
    if block and shown and shown != access_request.status:
        extra = {
            "actions_changed": True,
            "emailed": _was_emailed(access_request),
            "extend_choices": EXTEND_CHOICES,
        }
    return render(
        "admin/requests/detail.html",
        block,
        **extra,
        fragment=is_htmx(),
        ar=access_request,
        link=service.request_url(access_request) if can_edit else None,
        can_edit=can_edit,
        can_offboard=g.membership.can("admin"),
        removable=offboarding.REMOVABLE_STATUSES,
        refusals=offboarding.refusals(access_request.grants),
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


@bp.route("/requests/<int:request_id>/revoke", methods=["GET", "POST"])
@role_required("member")
def request_revoke(request_id: int):
    """GET asks for confirmation (what stops, what stays); POST revokes."""
    access_request = get_for_agency(AccessRequest, request_id)
    if request.method == "GET":
        if access_request.status in ("revoked", "expired") or access_request.erased_at:
            return redirect(url_for("admin.request_detail", request_id=request_id), 303)
        return render("admin/requests/revoke.html", ar=access_request)
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    if service.revoke_request(access_request, _user_actor()):
        flash(_("The request is revoked: its link no longer works."), "success")
    if is_htmx():
        return "", 204, {"HX-Redirect": url_for("admin.request_detail", request_id=request_id)}
    return redirect(url_for("admin.request_detail", request_id=request_id), 303)


# ------------------------------------------------------------ detail extras


def action_label(action: str) -> str:
    return audit_action_label(action)


def _detail_extras(access_request: AccessRequest) -> dict:
    """The timeline (one query over the audit trail's subject index) and e-mail state."""
    grant_ids = [str(x.id) for x in access_request.grants]
    subject = and_(
        AuditEvent.subject_type == "access_request",
        AuditEvent.subject_id == str(access_request.id),
    )
    if grant_ids:
        subject = or_(
            subject,
            and_(AuditEvent.subject_type == "grant", AuditEvent.subject_id.in_(grant_ids)),
        )
    timeline = list(
        db.session.execute(
            select(AuditEvent)
            .where(AuditEvent.agency_id == access_request.agency_id, subject)
            .order_by(AuditEvent.seq.desc())
            .limit(200)
        ).scalars()
    )
    emailed = any(e.action == "access_request.email_sent" for e in timeline)
    return {
        "actions_changed": False,
        "timeline": timeline,
        "action_label": action_label,
        "event_text": audit_event_text,
        # Which asset a grant's event is about.
        "grant_names": {str(x.id): _grant_name(x) for x in access_request.grants},
        "emailed": emailed,
        "answer_label": answer_label,
        "extend_choices": EXTEND_CHOICES,
        "expiring_soon": access_request.expires_at - utcnow() < timedelta(days=3),
        "report_available": url_exists_safe("admin.request_report"),
    }


def _grant_name(grant: Grant) -> str:
    asset_type = _asset_type_name(grant.platform, grant.asset_type)
    return f"{asset_type} · {grant.asset_name or grant.asset_id}"


def _was_emailed(access_request: AccessRequest) -> bool:
    return bool(
        db.session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(
                AuditEvent.agency_id == access_request.agency_id,
                AuditEvent.subject_type == "access_request",
                AuditEvent.subject_id == str(access_request.id),
                AuditEvent.action == "access_request.email_sent",
            )
        )
    )


def url_exists_safe(endpoint: str) -> bool:
    return endpoint in current_app.view_functions


def _back(request_id: int) -> Response:
    if is_htmx():
        return Response(
            status=204,
            headers={"HX-Redirect": url_for("admin.request_detail", request_id=request_id)},
        )
    return redirect(url_for("admin.request_detail", request_id=request_id), 303)


def _checked_form() -> None:
    if not ActionForm().validate_on_submit():
        abort(400)


@bp.post("/requests/<int:request_id>/extend")
@role_required("member")
def request_extend(request_id: int):
    access_request = _load_request(request_id)
    _checked_form()
    try:
        request_actions.extend_expiry(access_request, request.form.get("days"), _user_actor())
    except service.RequestError as exc:
        flash(exc.message, "error")
    else:
        flash(
            _(
                "The link now works until %(date)s.",
                date=access_request.expires_at.strftime("%Y-%m-%d"),
            ),
            "success",
        )
    return _back(request_id)


@bp.post("/requests/<int:request_id>/regenerate")
@role_required("member")
def request_regenerate(request_id: int):
    access_request = get_for_agency(AccessRequest, request_id)
    _checked_form()
    try:
        request_actions.regenerate_link(access_request, _user_actor())
    except service.RequestError as exc:
        flash(exc.message, "error")
    else:
        flash(_("A new link is ready. The old link no longer works."), "success")
    return _back(request_id)


def _grant_of(access_request: AccessRequest, grant_id: int) -> Grant:
    grant = next((x for x in access_request.grants if x.id == grant_id), None)
    if grant is None:
        abort(404)
    return grant


@bp.post("/requests/<int:request_id>/grants/<int:grant_id>/retry")
@role_required("member")
def request_grant_retry(request_id: int, grant_id: int):
    access_request = _load_request(request_id)
    grant = _grant_of(access_request, grant_id)
    _checked_form()
    try:
        if service.retry_verification(grant, _user_actor()):
            flash(_("Checking again with the platform."), "success")
        else:
            flash(
                _("This grant cannot be checked again: the client must grant it again."),
                "warning",
            )
    except service.RequestClosed:
        flash(_("This request is closed."), "warning")
    return _back(request_id)


@bp.post("/requests/<int:request_id>/grants/<int:grant_id>/done")
@role_required("member")
def request_grant_done(request_id: int, grant_id: int):
    access_request = _load_request(request_id)
    grant = _grant_of(access_request, grant_id)
    _checked_form()
    guided = bool((grant.external or {}).get("guided"))
    try:
        if service.mark_manual_done(grant, _user_actor()):
            if guided:  # no API can see it: the agency's word is the verification
                flash(_("Confirmed: this access is now recorded as verified."), "success")
            else:
                flash(_("Marked as done. Latchkey now checks it from your side."), "success")
        else:
            flash(_("Only a waiting manual step can be marked as done."), "warning")
    except service.RequestClosed:
        flash(_("This request is closed."), "warning")
    return _back(request_id)


@bp.route("/requests/<int:request_id>/grants/<int:grant_id>/remove", methods=["GET", "POST"])
@role_required("admin")
def request_grant_remove(request_id: int, grant_id: int):
    """Offboarding one grant: through the platform's API where it allows it,
    else by the agency following the removal steps and confirming here."""
    access_request = _load_request(request_id)
    grant = _grant_of(access_request, grant_id)
    problem = None
    if request.method == "POST":
        _checked_form()
        how = request.form.get("how")
        if how not in ("api", "by_hand"):
            abort(400)
        try:
            if how == "api":
                offboarding.remove_through_platform(grant, _user_actor())
                flash(
                    _(
                        "Access removed on %(platform)s: your agency no longer has %(asset)s.",
                        platform=_connector_name(grant.platform),
                        asset=grant.asset_name or grant.asset_id,
                    ),
                    "success",
                )
            else:
                offboarding.confirm_removed_by_hand(grant, _user_actor())
                flash(_("Recorded: the access was removed on the platform."), "success")
            return _back(request_id)
        except offboarding.NotRemovable:
            flash(_("This access was already removed, or was never given."), "warning")
            return _back(request_id)
        except PlatformError as exc:
            problem = exc
            access_request = _load_request(request_id)
            grant = _grant_of(access_request, grant_id)
    elif not offboarding.can_remove(grant):
        flash(_("This access was already removed, or was never given."), "warning")
        return _back(request_id)
    api = offboarding.has_removal_api(grant) and not (
        problem is not None and problem.code == "revoke_unsupported"
    )
    page = render(
        "admin/requests/remove.html",
        ar=access_request,
        grant=grant,
        api=api,
        problem=problem,
        steps=removal_steps(grant, g.agency.brand_name),
        platform_name=_connector_name(grant.platform),
        asset_type_name=_asset_type_name,
        permission_label=_permission_label,
    )
    return page, 422 if problem is not None else 200


@bp.get("/requests/<int:request_id>/report.pdf")
@role_required("viewer")
def request_report(request_id: int):
    """The confirmation PDF, as an attachment."""
    access_request = get_for_agency(AccessRequest, request_id)
    from .. import reports

    try:
        pdf = reports.render_report(access_request.id)
    except Exception:
        current_app.logger.exception("report of request %s failed", request_id)
        flash(_("The PDF could not be made just now. Try again in a minute."), "error")
        return redirect(url_for("admin.request_detail", request_id=request_id), 303)
    filename = reports.report_filename(access_request)
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "private, no-store",
        },
    )
