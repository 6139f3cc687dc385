"""Connections: the agency's own account on each platform.

Some platforms need the agency's side to start a grant (Pinterest partner
requests), and every platform needs it to verify grants and offboard. Admins
connect each platform once here, with the platform's OAuth ("agency" purpose).
"""

from __future__ import annotations

from flask import Response, abort, flash, g, redirect, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from .. import audit, nav, oauth, platforms
from ..auth.session import role_required
from ..extensions import db
from ..platforms.base import Connector, PlatformError
from ..platforms.manual import is_guided
from ..services.connections import (
    connections_by_platform,
    disconnect,
    end_transaction,
    save_connection,
)
from ..web import render
from . import bp

nav.add("admin.connections", _l("Connections"), min_role="viewer", order=60)

CONNECTION_STATUS_LABELS = {
    "active": _l("Connected"),
    "expired": _l("Expired"),
    "error": _l("Needs attention"),
}


def _connector_or_404(platform: str) -> Connector:
    try:
        return platforms.get(platform)
    except KeyError:
        abort(404)


def _user_actor() -> audit.Actor:
    return audit.Actor("user", str(current_user.id), current_user.email)


@bp.get("/connections")
@role_required("viewer")
def connections():
    rows = connections_by_platform(g.agency_id)
    # Guided platforms (no sign-in, no API) need only a receiving identity below.
    entries = [
        (connector, rows.get(connector.id))
        for connector in platforms.all_connectors()
        if not is_guided(connector)
    ]
    return render(
        "admin/connections.html",
        entries=entries,
        status_labels=CONNECTION_STATUS_LABELS,
        identities=identity_rows(g.agency),
    )


@bp.post("/connections/<platform>/connect")
@role_required("admin")
def connection_connect(platform: str):
    """Start the platform's sign-in for the agency's own account."""
    connector = _connector_or_404(platform)
    try:
        url = oauth.authorization_url(
            connector, "agency", g.agency_id, g.agency_id, user_id=current_user.id
        )
    except PlatformError as exc:
        flash(f"{exc.message} {exc.fix}", "error")
        return redirect(url_for("admin.connections"), 303)
    return redirect(url, 303)


@bp.post("/connections/<platform>/disconnect")
@role_required("admin")
def connection_disconnect(platform: str):
    connector = _connector_or_404(platform)
    if disconnect(g.agency_id, connector.id, _user_actor()):
        flash(
            _(
                "%(platform)s is disconnected. Requests for %(platform)s cannot be sent and "
                "their grants are not verified until you connect it again.",
                platform=connector.name,
            ),
            "success",
        )
    return redirect(url_for("admin.connections"), 303)


@oauth.on_callback("agency")
def _agency_callback(connector: Connector, state: oauth.OAuthState, code, error) -> Response:
    """Back from the platform: store the agency's token, encrypted, with who it is."""
    membership = g.get("membership")
    if membership is None or not membership.can("admin"):
        abort(403)
    back = redirect(url_for("admin.connections"), 303)
    if error:
        audit.record(
            "connection.declined",
            agency_id=state.agency_id,
            actor=_user_actor(),
            details={"platform": connector.id, "error": error[:64]},
        )
        db.session.commit()
        flash(
            _(
                "%(platform)s was not connected: the sign-in was cancelled or refused.",
                platform=connector.name,
            ),
            "warning",
        )
        return back
    end_transaction()
    try:
        token = oauth.exchange_code(connector, state, code)
        identity = connector.agency_identity(token)
    except PlatformError as exc:
        audit.record(
            "connection.failed",
            agency_id=state.agency_id,
            actor=_user_actor(),
            details={"platform": connector.id, "error": exc.message},
        )
        db.session.commit()
        flash(f"{exc.message} {exc.fix}", "error")
        return back
    connection = save_connection(
        state.agency_id, connector, token, identity, current_user.id, _user_actor()
    )
    flash(
        _(
            "%(platform)s is connected as %(account)s.",
            platform=connector.name,
            account=connection.account_name or connection.account_id or connector.name,
        ),
        "success",
    )
    return back


# ------------------------------------------------------- receiving identities

# Who receives the access on each platform: stored in Agency.identities as
# {"pinterest": {"business_id": "..."}, "google": {"email": "..."}, ...}.
IDENTITY_FIELDS = (
    ("pinterest", "business_id", _l("Pinterest business id"), r"^\d{6,20}$",
     _l("Digits only, as shown in Pinterest Business Manager.")),
    ("meta", "business_id", _l("Meta business id"), r"^\d{6,20}$",
     _l("Digits only, from Meta Business Settings, Business info.")),
    ("google_ads", "manager_id", _l("Google Ads manager account id"), r"^\d{3}-?\d{3}-?\d{4}$",
     _l("Like 123-456-7890.")),
    ("google", "email", _l("E-mail for Google products (Analytics, Tag Manager, Search Console)"),
     None, _l("The Google account that receives access.")),
    ("tiktok", "business_id", _l("TikTok Business Center id"), r"^\d{6,25}$",
     _l("Digits only, from Business Center → Business settings. Optional: set it when your "
        "TikTok login belongs to several Business Centers, before connecting TikTok.")),
    ("snapchat", "email", _l("Snapchat member e-mail"), None,
     _l("The e-mail of your Snapchat login: clients invite it in their Business Manager.")),
    ("microsoft_ads", "manager_account_id", _l("Microsoft Advertising manager account id"),
     r"^\d{5,15}$",
     _l("Digits only: the id of the manager account your link requests come from.")),
    ("shopify", "partner_organization", _l("Shopify Partner organisation name"), r"^\S.{0,99}$",
     _l("As your Partner or Dev Dashboard shows it: clients check that the collaborator "
        "request comes from it.")),
)  # fmt: skip


def identity_rows(agency) -> list[dict]:
    current = agency.identities or {}
    return [
        {
            "name": f"{platform}.{key}",
            "label": label,
            "hint": hint,
            "value": (current.get(platform) or {}).get(key, ""),
        }
        for platform, key, label, _pattern, hint in IDENTITY_FIELDS
    ]


@bp.post("/connections/identities")
@role_required("admin")
def connection_identities():
    import re

    from email_validator import EmailNotValidError, validate_email
    from flask import current_app, request

    from .requests import ActionForm

    if not ActionForm().validate_on_submit():
        abort(400)
    agency = g.agency
    identities: dict[str, dict] = {k: dict(v) for k, v in (agency.identities or {}).items()}
    errors: dict[str, str] = {}
    for platform, key, _label, pattern, _hint in IDENTITY_FIELDS:
        name = f"{platform}.{key}"
        value = (request.form.get(name) or "").strip()
        if not value:
            identities.get(platform, {}).pop(key, None)
            continue
        if pattern and not re.match(pattern, value):
            errors[name] = _("This does not look right: check the format.")
            continue
        if key == "email":
            if len(value) > 254:
                errors[name] = _("Enter a valid e-mail address.")
                continue
            try:
                value = validate_email(
                    value,
                    check_deliverability=False,
                    test_environment=current_app.config["LATCHKEY_ENV"] != "production",
                ).normalized
            except EmailNotValidError:
                errors[name] = _("Enter a valid e-mail address.")
                continue
        if key == "manager_id":
            value = value.replace("-", "")
        identities.setdefault(platform, {})[key] = value
    if errors:
        rows = identity_rows(agency)
        for row in rows:
            row["value"] = request.form.get(row["name"], "")
            row["error"] = errors.get(row["name"])
        rows_by_platform = connections_by_platform(g.agency_id)
        entries = [
            (c, rows_by_platform.get(c.id)) for c in platforms.all_connectors() if not is_guided(c)
        ]
        return render(
            "admin/connections.html",
            entries=entries,
            status_labels=CONNECTION_STATUS_LABELS,
            identities=rows,
        ), 422
    agency.identities = {k: v for k, v in identities.items() if v}
    audit.record(
        "agency.identities_changed",
        agency_id=agency.id,
        actor=_user_actor(),
        subject=("agency", agency.id),
        details={"identities": agency.identities},
    )
    db.session.commit()
    flash(_("Receiving identities saved."), "success")
    return redirect(url_for("admin.connections"), 303)
