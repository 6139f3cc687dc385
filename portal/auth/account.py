"""The signed-in person's own security: password, two-factor, recovery codes."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from ..extensions import db
from ..models import Membership, User
from . import bp, throttle, totp
from .common import record_for_user, too_many
from .forms import ChangePasswordForm, ConfirmPasswordForm, TotpConfirmForm
from .passwords import hash_password
from .session import end_all_sessions, end_session, live_session_count, start_session


def _user() -> User:
    return current_user._get_current_object()


def _agencies_requiring_2fa(user: User) -> list[str]:
    return sorted(m.agency.brand_name for m in user.memberships if m.agency.require_2fa)


def _render_security(
    status: int = 200,
    *,
    password_form: ChangePasswordForm | None = None,
    disable_form: ConfirmPasswordForm | None = None,
    codes_form: ConfirmPasswordForm | None = None,
):
    """The security page; the form that was just submitted keeps its errors."""
    user = _user()
    memberships = (
        db.session.execute(select(Membership).where(Membership.user_id == user.id)).scalars().all()
    )
    if password_form is None:
        password_form = ChangePasswordForm(prefix="pw", user=user, formdata=None)
    if disable_form is None:
        disable_form = ConfirmPasswordForm(prefix="off", user=user, formdata=None)
    if codes_form is None:
        codes_form = ConfirmPasswordForm(prefix="codes", user=user, formdata=None)
    context = {
        "user": user,
        "password_form": password_form,
        "disable_form": disable_form,
        "codes_form": codes_form,
        "memberships": memberships,
        "required_by": _agencies_requiring_2fa(user),
        "recovery_left": len(user.recovery_codes or []),
        "session_count": live_session_count(user),
    }
    return render_template("auth/security.html", **context), status


def _check_password_form(form) -> tuple[bool, object]:
    """Validate a form holding the current password, counting wrong guesses.

    A stolen session must not become a way to guess the password: wrong
    passwords here use up the same per-account allowance as sign-in.
    """
    user = _user()
    retry = throttle.account_retry_after(user.email)
    if retry is not None:
        return False, too_many(retry)
    if form.validate():
        return True, None
    password_field = form.current_password if hasattr(form, "current_password") else form.password
    if password_field.data and password_field.errors:
        throttle.record_failure(user.email)
    return False, None


@bp.get("/app/account/security")
@login_required
def security():
    return _render_security()


@bp.post("/app/account/password")
@login_required
def password_change():
    user = _user()
    form = ChangePasswordForm(prefix="pw", user=user)
    ok, response = _check_password_form(form)
    if response is not None:
        return response
    if not ok:
        return _render_security(422, password_form=form)
    user.password_hash = hash_password(form.password.data)
    end_all_sessions(user)
    record_for_user("auth.password_changed", user)
    # Every other session has ended; this one continues on a fresh session.
    start_session(user, agency_id=session.get("agency_id"), remember=session.permanent)
    db.session.commit()
    flash(_("Your password was changed. Your other sessions were signed out."), "success")
    return redirect(url_for("auth.security"), code=303)


@bp.post("/app/account/sessions/end-all")
@login_required
def sign_out_everywhere():
    """End every session of this person, on every device, this one included."""
    user = _user()
    ended = end_all_sessions(user)
    record_for_user("auth.logout_everywhere", user, details={"sessions": ended})
    db.session.commit()
    end_session()
    flash(_("You are signed out on every device. Sign in again to continue."), "success")
    return redirect(url_for("auth.login"), code=303)


@bp.route("/app/account/two-factor", methods=["GET", "POST"])
@login_required
def totp_setup():
    user = _user()
    if user.totp_enabled:
        flash(_("Two-factor authentication is already on."), "info")
        return redirect(url_for("auth.security"))
    form = TotpConfirmForm()
    secret = totp.start_enrolment(user)
    db.session.commit()
    status = 200
    if request.method == "POST":
        if form.validate():
            step = totp.matching_step(secret, form.code.data)
            if step is not None:
                codes = totp.enable(user, step)
                record_for_user("auth.2fa_enabled", user)
                db.session.commit()
                # Shown once, in this response only: the codes are not stored in clear.
                return render_template("auth/recovery_codes.html", codes=codes, first_time=True)
            form.code.errors.append(
                _(
                    "This code does not match. Enter the 6-digit code your app shows now, "
                    "and check that your phone sets its clock automatically."
                )
            )
        status = 422
    uri = totp.provisioning_uri(secret, user.email)
    return (
        render_template(
            "auth/totp_setup.html",
            form=form,
            secret=totp.grouped(secret),
            qr=totp.qr_image(uri),
            required_by=_agencies_requiring_2fa(user),
        ),
        status,
    )


@bp.post("/app/account/two-factor/disable")
@login_required
def totp_disable():
    user = _user()
    if not user.totp_enabled:
        return redirect(url_for("auth.security"), code=303)
    required_by = _agencies_requiring_2fa(user)
    if required_by:
        flash(
            _(
                "Two-factor authentication stays on: %(agencies)s requires it for everyone.",
                agencies=", ".join(required_by),
            ),
            "error",
        )
        return redirect(url_for("auth.security"), code=303)
    form = ConfirmPasswordForm(prefix="off", user=user)
    ok, response = _check_password_form(form)
    if response is not None:
        return response
    if not ok:
        return _render_security(422, disable_form=form)
    totp.disable(user)
    record_for_user("auth.2fa_disabled", user)
    db.session.commit()
    flash(_("Two-factor authentication is off."), "success")
    return redirect(url_for("auth.security"), code=303)


@bp.post("/app/account/two-factor/recovery-codes")
@login_required
def recovery_codes():
    user = _user()
    if not user.totp_enabled:
        return redirect(url_for("auth.security"), code=303)
    form = ConfirmPasswordForm(prefix="codes", user=user)
    ok, response = _check_password_form(form)
    if response is not None:
        return response
    if not ok:
        return _render_security(422, codes_form=form)
    codes, hashes = totp.new_recovery_codes()
    user.recovery_codes = hashes
    record_for_user("auth.recovery_codes_regenerated", user)
    db.session.commit()
    return render_template("auth/recovery_codes.html", codes=codes, first_time=False)
