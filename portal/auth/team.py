"""The team page: members, invitations, roles, and the agency's two-factor rule."""

from __future__ import annotations

from flask import flash, g, redirect, render_template, request, session, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from .. import nav
from ..extensions import db, limiter
from ..labels import ROLE_LABELS
from ..models import ROLE_RANK, ROLES, Invitation, Membership, User
from ..models.base import utcnow
from ..web import get_for_agency
from . import bp, members, throttle
from .common import link_problem, record_for_user
from .forms import (
    AcceptNewUserForm,
    ActionForm,
    DeleteAgencyForm,
    InviteForm,
    RequireTwoFactorForm,
    RoleForm,
)
from .passwords import hash_password
from .session import role_required, start_session

nav.add("auth.team", _l("Team"), min_role="viewer", order=80)


def _per_user() -> str:
    """Rate-limit key: the signed-in person, else the address."""
    if current_user.is_authenticated:
        return f"user:{current_user.id}"
    return request.remote_addr or "unknown"


def _role_choices(roles) -> list[tuple[str, str]]:
    return [(r, str(ROLE_LABELS[r])) for r in roles]


def _invite_form(actor: Membership, **kwargs) -> InviteForm:
    return InviteForm(
        agency_id=actor.agency_id,
        role_choices=_role_choices(members.assignable_roles(actor)),
        **kwargs,
    )


def _render_team(status: int = 200, *, invite_form: InviteForm | None = None, error=None):
    actor: Membership = g.membership
    rows = db.session.execute(
        select(Membership, User)
        .join(User, User.id == Membership.user_id)
        .where(Membership.agency_id == actor.agency_id)
    ).all()
    people = sorted(rows, key=lambda row: (-ROLE_RANK[row[0].role], row[1].email))
    invitations = (
        db.session.execute(
            select(Invitation)
            .where(
                Invitation.agency_id == actor.agency_id,
                Invitation.accepted_at.is_(None),
                Invitation.revoked_at.is_(None),
            )
            .order_by(Invitation.created_at.desc())
        )
        .scalars()
        .all()
    )
    can_invite = actor.can("admin")
    return (
        render_template(
            "auth/team.html",
            people=people,
            invitations=invitations,
            invitation_status=members.invitation_status,
            can_manage=lambda role: members.can_manage(actor, role),
            role_choices=_role_choices(members.assignable_roles(actor)),
            invite_form=invite_form or (_invite_form(actor, formdata=None) if can_invite else None),
            require_form=RequireTwoFactorForm(formdata=None, require_2fa=g.agency.require_2fa),
            error=error,
        ),
        status,
    )


def _refused(exc: members.TeamError):
    """Show why a change was refused, on the team page, with the right status."""
    db.session.rollback()
    return _render_team(exc.status, error=exc.message)


@bp.get("/app/team")
@role_required("viewer")
def team():
    return _render_team()


@bp.post("/app/team/invite")
@role_required("admin")
@limiter.limit("60 per hour", key_func=_per_user)
def team_invite():
    actor: Membership = g.membership
    form = _invite_form(actor)
    if not form.validate():
        return _render_team(422, invite_form=form)
    try:
        invitation, token = members.invite(actor, form.email.data, form.role.data)
    except members.TeamError as exc:
        return _refused(exc)
    if members.send_invitation(invitation, token, current_user._get_current_object()):
        flash(_("Invitation sent to %(email)s.", email=invitation.email), "success")
    else:
        flash(
            _(
                "The invitation to %(email)s was created, but the e-mail could not be sent. "
                "Try again in a few minutes with “Send again”.",
                email=invitation.email,
            ),
            "error",
        )
    return redirect(url_for("auth.team"), code=303)


@bp.post("/app/team/invitations/<int:invitation_id>/revoke")
@role_required("admin")
def team_revoke(invitation_id: int):
    invitation = get_for_agency(Invitation, invitation_id)
    try:
        members.revoke(g.membership, invitation)
    except members.TeamError as exc:
        return _refused(exc)
    flash(_("The invitation to %(email)s was withdrawn.", email=invitation.email), "success")
    return redirect(url_for("auth.team"), code=303)


@bp.post("/app/team/members/<int:membership_id>/role")
@role_required("admin")
def team_role(membership_id: int):
    target = get_for_agency(Membership, membership_id)
    form = RoleForm(role_choices=_role_choices(ROLES))
    if not form.validate():
        return _render_team(422, error=_("Choose one of the roles in the list."))
    try:
        changed = members.change_role(g.membership, target, form.role.data)
    except members.TeamError as exc:
        return _refused(exc)
    if changed:
        flash(
            _(
                "%(person)s is now %(role)s.",
                person=target.user.name or target.user.email,
                role=ROLE_LABELS[target.role],
            ),
            "success",
        )
    return redirect(url_for("auth.team"), code=303)


@bp.route("/app/team/members/<int:membership_id>/remove", methods=["GET", "POST"])
@role_required("admin")
def team_remove(membership_id: int):
    target = get_for_agency(Membership, membership_id)
    actor: Membership = g.membership
    if not members.can_manage(actor, target.role):
        return _refused(members.TeamError(_("Only an owner can change who is an owner."), 403))
    form = ActionForm()
    if request.method == "GET":
        return render_template("auth/team_remove.html", target=target, form=form)
    leaving = target.user_id == actor.user_id
    person = target.user.name or target.user.email
    try:
        members.remove(actor, target)
    except members.TeamError as exc:
        return _refused(exc)
    if leaving:
        flash(_("You left %(agency)s.", agency=g.agency.brand_name), "success")
        return redirect(url_for("auth.no_agency"), code=303)
    flash(_("%(person)s no longer has access to this agency.", person=person), "success")
    return redirect(url_for("auth.team"), code=303)


@bp.post("/app/team/settings")
@role_required("owner")
def team_settings():
    form = RequireTwoFactorForm()
    if not form.validate():
        return _render_team(422, error=_("The form could not be read. Please try again."))
    try:
        changed = members.set_require_2fa(g.membership, bool(form.require_2fa.data))
    except members.TeamError as exc:
        return _refused(exc)
    if changed and form.require_2fa.data:
        flash(
            _(
                "Two-factor authentication is now required. Members without it are asked "
                "to set it up before they continue."
            ),
            "success",
        )
    elif changed:
        flash(_("Two-factor authentication is now optional in this agency."), "success")
    return redirect(url_for("auth.team"), code=303)


@bp.route("/app/team/delete-agency", methods=["GET", "POST"])
@role_required("owner")
def agency_delete():
    """Delete the whole agency (owners only), after typing its name and a password."""
    from ..services.agencies import delete_agency
    from .passwords import verify_password
    from .session import end_session

    agency = g.membership.agency
    form = DeleteAgencyForm()
    status = 200
    if request.method == "POST":
        status = 422
        if form.validate():
            if form.confirm_name.data.strip() != agency.name:
                form.confirm_name.errors.append(
                    _("Type the agency's name exactly as shown: %(name)s", name=agency.name)
                )
            elif not verify_password(current_user.password_hash, form.password.data):
                form.password.errors.append(_("This password is not correct."))
            else:
                name = agency.name
                delete_agency(agency, current_user)
                end_session()
                flash(_("%(name)s and all its data were deleted.", name=name), "success")
                return redirect(url_for("main.index"), code=303)
    from ..services.offboarding import held_by_client

    return render_template(
        "auth/agency_delete.html", form=form, held=held_by_client(agency.id)
    ), status


# --------------------------------------------------------- accepting an invite


def _invitation_problem(invitation: Invitation | None):
    start = url_for("main.index")
    if invitation is None:
        return link_problem(
            404,
            _("This invitation link is not valid"),
            _(
                "The address may be incomplete. Open the link from the e-mail again, or ask "
                "the person who invited you to send a new invitation."
            ),
            start,
            _("Go to the start page"),
        )
    status = members.invitation_status(invitation)
    agency = invitation.agency.brand_name
    if status == "accepted":
        return link_problem(
            410,
            _("This invitation was already used"),
            _(
                "Each invitation works once. If you joined %(agency)s already, sign in.",
                agency=agency,
            ),
            url_for("auth.login"),
            _("Sign in"),
        )
    if status == "revoked":
        return link_problem(
            410,
            _("This invitation was withdrawn"),
            _(
                "%(agency)s withdrew this invitation. Ask them if you still need access.",
                agency=agency,
            ),
            start,
            _("Go to the start page"),
        )
    return link_problem(
        410,
        _("This invitation has expired"),
        _(
            "Invitations work for %(n)d days. Ask %(agency)s to send you a new one.",
            n=members.INVITATION_DAYS,
            agency=agency,
        ),
        start,
        _("Go to the start page"),
    )


@bp.route("/auth/invite/<token>", methods=["GET", "POST"])
@limiter.limit(throttle.ip_limit, methods=["POST"])
@limiter.shared_limit(throttle.token_page_limit, scope="auth-token-pages", methods=["GET"])
def invite_accept(token: str):
    invitation = members.find_invitation(token)
    if invitation is None or members.invitation_status(invitation) != "pending":
        return _invitation_problem(invitation)
    agency = invitation.agency
    existing = db.session.execute(
        select(User).where(User.email == invitation.email)
    ).scalar_one_or_none()
    context = {"invitation": invitation, "agency": agency, "token": token}

    if current_user.is_authenticated:
        if current_user.email != invitation.email:
            status = 403 if request.method == "POST" else 200
            return render_template("auth/invite_accept.html", mode="other_user", **context), status
        form = ActionForm()
        if request.method == "GET" or not form.validate():
            status = 200 if request.method == "GET" else 422
            return render_template(
                "auth/invite_accept.html", mode="join", form=form, **context
            ), status
        user = current_user._get_current_object()
        try:
            members.accept(invitation, user)
        except members.TeamError:
            db.session.refresh(invitation)
            return _invitation_problem(invitation)
        session["agency_id"] = invitation.agency_id
        db.session.commit()
        flash(_("You joined %(agency)s.", agency=agency.brand_name), "success")
        return redirect(url_for("admin.dashboard"), code=303)

    if existing is not None:
        status = 403 if request.method == "POST" else 200
        login_url = url_for("auth.login", next=url_for("auth.invite_accept", token=token))
        return (
            render_template(
                "auth/invite_accept.html", mode="sign_in", login_url=login_url, **context
            ),
            status,
        )

    form = AcceptNewUserForm(email=invitation.email, agency_name=agency.name)
    if request.method == "GET":
        return render_template("auth/invite_accept.html", mode="new", form=form, **context)
    if not form.validate():
        return render_template("auth/invite_accept.html", mode="new", form=form, **context), 422
    user = User(
        email=invitation.email,
        name=form.name.data,
        password_hash=hash_password(form.password.data),
        locale=str(get_locale() or agency.default_locale or "en"),
        last_login_at=utcnow(),
    )
    try:
        db.session.add(user)
        db.session.flush()
        members.accept(invitation, user)
    except IntegrityError:
        # The address got an account meanwhile: that person signs in to join.
        db.session.rollback()
        return redirect(url_for("auth.invite_accept", token=token), code=303)
    except members.TeamError:
        db.session.refresh(invitation)
        return _invitation_problem(invitation)
    start_session(user, agency_id=invitation.agency_id)
    record_for_user(
        "auth.login", user, agency_id=invitation.agency_id, details={"method": "invitation"}
    )
    db.session.commit()
    flash(_("Welcome to %(agency)s on Latchkey.", agency=agency.brand_name), "success")
    return redirect(url_for("admin.dashboard"), code=303)
