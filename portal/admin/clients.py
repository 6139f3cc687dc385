"""The agency's clients, with their requests; exporting and deleting a client's
data, and the agency's retention rule for finished requests."""

from __future__ import annotations

import json

from flask import Response, abort, flash, g, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from .. import audit, nav, platforms
from ..auth.session import role_required
from ..inputs import page_arg
from ..models import Client
from ..models.base import utcnow
from ..notifications.removal import removal_steps
from ..services import clients as service
from ..services import offboarding, privacy
from ..web import get_for_agency, render
from . import bp

nav.add("admin.client_list", _l("Clients"), min_role="viewer", order=25, prefix="admin.client")

# Grants whose access may exist on the platform (deleting the client leaves it there).
LIVE_GRANT_STATUSES = ("granted", "verifying", "verified", "needs_action")


class ActionForm(FlaskForm):
    """A button that changes something: only the CSRF token travels."""


class DeleteClientForm(FlaskForm):
    confirm_name = StringField(
        _l("Type the client's name to confirm"),
        validators=[DataRequired(_l("Type the client's name to confirm.")), Length(max=300)],
    )


class RetentionForm(FlaskForm):
    enabled = BooleanField(_l("Erase the personal data of finished requests automatically"))
    days = IntegerField(
        _l("Days after a request ends"),
        render_kw={"min": privacy.RETENTION_MIN_DAYS, "max": privacy.RETENTION_MAX_DAYS},
        validators=[
            Optional(),
            NumberRange(
                privacy.RETENTION_MIN_DAYS,
                privacy.RETENTION_MAX_DAYS,
                _l(
                    "Enter a number of days between %(min)d and %(max)d.",
                    min=privacy.RETENTION_MIN_DAYS,
                    max=privacy.RETENTION_MAX_DAYS,
                ),
            ),
        ],
    )


def _user_actor() -> audit.Actor:
    return audit.Actor("user", str(current_user.id), current_user.email)


def _same_name(typed: str | None, name: str) -> bool:
    def norm(value: str) -> str:
        return " ".join(value.split()).casefold()

    return bool(typed) and norm(typed) == norm(name)


def _live_client(client_id: int) -> Client:
    """The client of this agency, unless it was deleted (then 404: nothing to act on)."""
    client = get_for_agency(Client, client_id)
    if client.erased_at is not None:
        abort(404)
    return client


def _asset_type_name(platform_id: str, asset_type_id: str) -> str:
    try:
        asset_type = platforms.get(platform_id).asset_type(asset_type_id)
    except KeyError:
        asset_type = None
    return str(asset_type.name) if asset_type else asset_type_id


def _platform_name(platform_id: str) -> str:
    try:
        return platforms.get(platform_id).name
    except KeyError:
        return platform_id


@bp.get("/clients")
@role_required("viewer")
def client_list():
    q = (request.args.get("q") or "").strip()[:200]
    page = page_arg()
    rows, total = service.list_clients(g.agency_id, q, page)
    pages = max((total + service.PER_PAGE - 1) // service.PER_PAGE, 1)
    if page > pages and total:
        abort(404)

    def page_url(n: int) -> str:
        return url_for("admin.client_list", q=q or None, page=n if n > 1 else None)

    return render(
        "admin/clients/list.html",
        "results",
        rows=rows,
        q=q,
        page=page,
        pages=pages,
        total=total,
        page_url=page_url,
    )


@bp.get("/clients/<int:client_id>")
@role_required("viewer")
def client_detail(client_id: int):
    client = get_for_agency(Client, client_id)
    requests = service.requests_of(client)
    held = offboarding.held_grants(client.id, g.agency_id) if g.membership.can("admin") else []
    return render(
        "admin/clients/detail.html",
        client=client,
        requests=requests,
        held=held,
        by_api=[grant for grant in held if offboarding.has_removal_api(grant)],
        refusals=offboarding.refusals(held),
        platform_name=_platform_name,
        asset_type_name=_asset_type_name,
        erasure_due_on=lambda ar: privacy.erasure_due_on(ar, g.agency),
        retention_days=g.agency.erase_finished_after_days,
        action_form=ActionForm(),
    )


@bp.route("/clients/<int:client_id>/offboard", methods=["GET", "POST"])
@role_required("admin")
def client_offboard(client_id: int):
    """End the engagement: remove every access an API can remove, in a job.

    GET asks for confirmation, listing what is removed and what is not."""
    client = get_for_agency(Client, client_id)
    if request.method == "GET":
        held = offboarding.held_grants(client.id, g.agency_id)
        by_api = [grant for grant in held if offboarding.has_removal_api(grant)]
        if not by_api:
            return redirect(url_for("admin.client_detail", client_id=client.id), 303)
        return render(
            "admin/clients/offboard.html",
            client=client,
            by_api=by_api,
            others=[grant for grant in held if grant not in by_api],
            platform_name=_platform_name,
            asset_type_name=_asset_type_name,
        )
    if not ActionForm().validate_on_submit():
        abort(400)
    queued = offboarding.start_removing_all(client.id, g.agency_id, _user_actor())
    if queued:
        flash(
            ngettext(
                "Removing your access to %(num)d asset through its platform. This page shows "
                "it as removed once done; anything a platform refuses stays listed with its "
                "steps.",
                "Removing your access to %(num)d assets through their platforms. This page "
                "shows each as removed once done; anything a platform refuses stays listed "
                "with its steps.",
                len(queued),
            ),
            "success",
        )
    else:
        flash(_("Nothing left that Latchkey can remove: follow the steps for each."), "warning")
    return redirect(url_for("admin.client_detail", client_id=client.id), 303)


@bp.post("/clients/<int:client_id>/export")
@role_required("admin")
def client_export(client_id: int):
    """Everything held about the client, as a JSON file (audited)."""
    client = _live_client(client_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    data = privacy.export_client(client, _user_actor())
    body = json.dumps(data, ensure_ascii=False, indent=2, sort_keys=False)
    filename = f"client-{client.id}-{utcnow():%Y%m%d}.json"
    return Response(
        body,
        mimetype="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "private, no-store",
        },
    )


@bp.route("/clients/<int:client_id>/delete", methods=["GET", "POST"])
@role_required("admin")
def client_delete(client_id: int):
    """Delete a client after a confirmation that says what happens (and what does not)."""
    client = _live_client(client_id)
    form = DeleteClientForm()
    status = 200
    if request.method == "POST":
        status = 422
        if form.validate_on_submit():
            if not _same_name(form.confirm_name.data, client.name):
                form.confirm_name.errors.append(
                    _("Type the client's name exactly as shown: %(name)s", name=client.name)
                )
            else:
                report = privacy.erase_client(client, _user_actor())
                flash(
                    ngettext(
                        "The client was deleted and the personal data of %(num)d request was "
                        "erased. Access granted on the platforms stays until it is removed there.",
                        "The client was deleted and the personal data of %(num)d requests was "
                        "erased. Access granted on the platforms stays until it is removed there.",
                        report.requests,
                    ),
                    "success",
                )
                return redirect(url_for("admin.client_list"), 303)
        if form.csrf_token.errors:
            # An old page (its form token expired): say so, keep the page.
            form.confirm_name.errors.append(
                _("This page was open too long. Type the name again and confirm.")
            )
    requests = service.requests_of(client)
    live = [
        grant
        for access_request in requests
        for grant in access_request.grants
        if grant.status in LIVE_GRANT_STATUSES
    ]
    open_requests = [r for r in requests if r.status in ("sent", "opened", "in_progress")]
    agency_name = g.agency.brand_name
    return (
        render(
            "admin/clients/delete.html",
            client=client,
            form=form,
            requests=requests,
            open_requests=open_requests,
            live_grants=live,
            removable=offboarding.REMOVABLE_STATUSES,
            removal_steps=lambda grant: removal_steps(grant, agency_name),
            platform_name=_platform_name,
            asset_type_name=_asset_type_name,
            action_form=ActionForm(),
        ),
        status,
    )


@bp.route("/data-retention", methods=["GET", "POST"])
@role_required("admin")
def data_retention():
    """The agency's rule: erase finished requests' personal data after N days."""
    agency = g.agency
    days = agency.erase_finished_after_days
    form = RetentionForm(
        formdata=request.form if request.method == "POST" else None,
        enabled=days is not None,
        days=days or 365,
    )
    status = 200
    if request.method == "POST":
        status = 422
        if form.validate_on_submit():
            value = form.days.data if form.enabled.data else None
            if form.enabled.data and value is None:
                form.days.errors.append(
                    _(
                        "Enter a number of days between %(min)d and %(max)d.",
                        min=privacy.RETENTION_MIN_DAYS,
                        max=privacy.RETENTION_MAX_DAYS,
                    )
                )
            else:
                try:
                    changed = privacy.set_retention(agency, value, _user_actor())
                except privacy.PrivacyError as exc:
                    form.days.errors.append(exc.message)
                else:
                    _flash_retention(changed, agency)
                    return redirect(url_for("admin.data_retention"), 303)
        if form.csrf_token.errors:
            form.days.errors.append(_("This page was open too long. Please save again."))
    return (
        render(
            "admin/clients/retention.html",
            form=form,
            summary=privacy.retention_summary(agency),
            choices=privacy.RETENTION_CHOICES,
            limits=(privacy.RETENTION_MIN_DAYS, privacy.RETENTION_MAX_DAYS),
        ),
        status,
    )


def _flash_retention(changed: bool, agency) -> None:
    if not changed:
        flash(_("Nothing changed."), "info")
        return
    days = agency.erase_finished_after_days
    if days is None:
        flash(
            _(
                "Automatic erasure is off: personal data is kept until you delete the client. "
                "What was erased already stays erased."
            ),
            "success",
        )
        return
    due = privacy.retention_summary(agency)["due"]
    message = ngettext(
        "Saved: personal data of requests is erased %(num)d day after they end.",
        "Saved: personal data of requests is erased %(num)d days after they end.",
        days,
    )
    if due:
        message += " " + ngettext(
            "%(num)d finished request is already older than that: it is erased tonight.",
            "%(num)d finished requests are already older than that: they are erased tonight.",
            due,
        )
    flash(message, "success")
