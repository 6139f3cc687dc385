"""Sign-up, sign-in (with the two-factor step), sign-out and password reset."""

from __future__ import annotations

import smtplib
import time
from datetime import timedelta

from flask import (
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_limiter import RateLimitExceeded
from flask_login import current_user, login_required
from sqlalchemy import select, update

from .. import audit, crypto, mail
from ..extensions import db, limiter
from ..inputs import parse_id
from ..main import safe_next
from ..models import Membership, PasswordReset, User
from ..models.base import utcnow
from ..services.agencies import normalise_email
from . import bp, throttle, totp
from .common import external_url, link_problem, record_for_user, too_many, user_actor
from .forms import (
    EMAIL_MAX,
    LoginForm,
    ResetPasswordForm,
    ResetRequestForm,
    SwitchAgencyForm,
    TwoFactorForm,
)
from .passwords import hash_password, needs_rehash, verify_password
from .session import end_all_sessions, end_session, start_session

PENDING_2FA = "pending_2fa"
PENDING_2FA_SECONDS = 5 * 60
RESET_HOURS = 1
TOKEN_MAX = 128  # real tokens are 43 characters; anything far longer is not ours


def _counts_as_failure(response) -> bool:
    """Only refused attempts use up the per-IP allowance (an office shares one IP)."""
    return response.status_code >= 400


# Sign-in and its code step share one per-IP allowance.
sign_in_ip_limit = limiter.shared_limit(
    throttle.ip_limit, scope="auth-sign-in", methods=["POST"], deduct_when=_counts_as_failure
)


@bp.after_request
def _no_referrer(response):
    # Reset and invitation pages carry a token in their URL; none of these pages
    # has a reason to tell another site where the visitor came from.
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.errorhandler(RateLimitExceeded)
def _rate_limited(error: RateLimitExceeded):
    """The per-IP limit was reached: say so, and for how long."""
    limit = limiter.current_limit
    seconds = max(1, int(limit.reset_at - time.time())) if limit else 15 * 60
    if request.endpoint in ("auth.login", "auth.login_2fa"):
        email = normalise_email(request.form.get("email", ""))
        if "@" not in email or len(email) > EMAIL_MAX:
            email = ""  # unvalidated input is not written to the audit trail
        pending = _pending_user() if request.endpoint == "auth.login_2fa" else None
        _record_failure(pending or _user_by_email(email), email, "rate_limited", scope="ip")
        db.session.commit()
        return too_many(seconds, "sign_in")
    kind = {
        "auth.reset_request": "reset",
        "auth.reset_password": "reset",
        "auth.signup": "signup",
    }.get(request.endpoint or "", "other")
    return too_many(seconds, kind)


def _user_by_email(email: str) -> User | None:
    if not email:
        return None
    return db.session.execute(select(User).where(User.email == email)).scalar_one_or_none()


def _record_failure(user: User | None, email: str, reason: str, **details) -> None:
    details = {"reason": reason, **details}
    if user is not None:
        record_for_user("auth.login_failed", user, details=details)
    else:
        audit.record(
            "auth.login_failed",
            agency_id=None,
            actor=audit.Actor("user", None, email or None),
            details={**details, "email": email},
        )


def _dashboard() -> str:
    return url_for("admin.dashboard")


def _complete_sign_in(user: User, *, remember: bool, next_url: str | None, method: str):
    throttle.clear_failures(user.email)
    user.last_login_at = utcnow()
    start_session(user, remember=remember)
    record_for_user("auth.login", user, details={"method": method, "remember": remember})
    db.session.commit()
    return redirect(safe_next(next_url, _dashboard()), code=303)


# ------------------------------------------------------------------ sign-in


@bp.route("/auth/login", methods=["GET", "POST"])
@sign_in_ip_limit
def login():
    next_url = request.args.get("next")
    if current_user.is_authenticated:
        return redirect(safe_next(next_url, _dashboard()))
    form = LoginForm()
    if request.method == "GET":
        session.pop(PENDING_2FA, None)
        return render_template("auth/login.html", form=form, next_url=next_url)
    if not form.validate():
        return render_template("auth/login.html", form=form, next_url=next_url), 422

    email = form.email.data
    retry = throttle.account_retry_after(email)
    if retry is not None:
        _record_failure(_user_by_email(email), email, "rate_limited", scope="account")
        db.session.commit()
        return too_many(retry)

    user = _user_by_email(email)
    if not verify_password(user.password_hash if user else None, form.password.data):
        throttle.record_failure(email)
        _record_failure(user, email, "wrong_password" if user else "unknown_email")
        db.session.commit()
        error = _(
            "The e-mail or the password is not right. Check both and try again, "
            "or reset your password."
        )
        return render_template("auth/login.html", form=form, next_url=next_url, error=error), 422

    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(form.password.data)
    remember = bool(form.remember.data)
    if user.totp_enabled:
        db.session.commit()
        _begin_second_step(user, remember=remember, next_url=next_url)
        return redirect(url_for("auth.login_2fa"), code=303)
    return _complete_sign_in(user, remember=remember, next_url=next_url, method="password")


def _begin_second_step(user: User, *, remember: bool, next_url: str | None) -> None:
    """Remember that the password was right; this is not a signed-in session."""
    locale = session.get("locale")
    session.clear()
    if locale:
        session["locale"] = locale
    session[PENDING_2FA] = {
        "user_id": user.id,
        "version": user.session_version,
        "at": int(time.time()),
        "remember": remember,
        "next": safe_next(next_url, ""),
    }


def _pending_user() -> User | None:
    pending = session.get(PENDING_2FA)
    if not isinstance(pending, dict):
        return None
    if int(time.time()) - int(pending.get("at", 0)) > PENDING_2FA_SECONDS:
        return None
    user_id = pending.get("user_id")
    user = db.session.get(User, user_id) if isinstance(user_id, int) else None
    if user is None or user.session_version != pending.get("version") or not user.totp_enabled:
        return None
    return user


@bp.route("/auth/login/code", methods=["GET", "POST"])
@sign_in_ip_limit
def login_2fa():
    user = _pending_user()
    if user is None:
        if session.pop(PENDING_2FA, None) is not None:
            flash(_("Signing in took more than 5 minutes. Please start again."), "info")
        return redirect(url_for("auth.login"))
    pending = session[PENDING_2FA]
    form = TwoFactorForm()
    if request.method == "GET":
        return render_template("auth/login_2fa.html", form=form)
    if not form.validate():
        return render_template("auth/login_2fa.html", form=form), 422

    retry = throttle.account_retry_after(user.email)
    if retry is not None:
        _record_failure(user, user.email, "rate_limited", scope="account")
        db.session.commit()
        return too_many(retry)

    code = form.code.data
    if totp.is_totp_code(code):
        method = "totp"
        outcome = totp.check_totp(user, code)
    else:
        method = "recovery_code"
        outcome = "ok" if totp.use_recovery_code(user, code) else "wrong"
    if outcome != "ok":
        throttle.record_failure(user.email)
        _record_failure(user, user.email, "bad_2fa_code", replay=outcome == "replay")
        db.session.commit()
        if outcome == "replay":
            message = _("This code was already used. Wait for the next code in your app.")
        else:
            message = _(
                "This code is not right. Enter the current code from your app, "
                "or one of your recovery codes."
            )
        form.code.errors.append(message)
        return render_template("auth/login_2fa.html", form=form), 422

    if method == "recovery_code":
        remaining = len(user.recovery_codes or [])
        record_for_user("auth.recovery_code_used", user, details={"remaining": remaining})
        flash(
            ngettext(
                "You used a recovery code; %(num)d is left. Make new ones on your security page.",
                "You used a recovery code; %(num)d are left. Make new ones on your "
                "security page if you are running low.",
                remaining,
            ),
            "warning",
        )
    return _complete_sign_in(
        user,
        remember=bool(pending.get("remember")),
        next_url=pending.get("next") or None,
        method=method,
    )


@bp.post("/auth/logout")
def logout():
    if current_user.is_authenticated:
        user = current_user._get_current_object()
        record_for_user("auth.logout", user, actor=user_actor(user))
        db.session.commit()
        end_session()
        flash(_("You are signed out."), "success")
    else:
        session.pop(PENDING_2FA, None)
    return redirect(url_for("auth.login"), code=303)


# ----------------------------------------------------------- password reset


@bp.route("/auth/reset", methods=["GET", "POST"])
@limiter.limit(throttle.ip_limit, methods=["POST"])
def reset_request():
    form = ResetRequestForm()
    if request.method == "GET":
        return render_template("auth/reset_request.html", form=form)
    if not form.validate():
        return render_template("auth/reset_request.html", form=form), 422
    email = form.email.data
    user = _user_by_email(email)
    # The answer is the same whether or not the address has an account.
    if user is not None and throttle.may_send_reset_email(email):
        _send_reset(user)
    return render_template("auth/reset_sent.html", email=email)


def _send_reset(user: User) -> None:
    token = crypto.new_token()
    now = utcnow()
    db.session.add(
        PasswordReset(
            user_id=user.id,
            token_hash=crypto.token_hash(token),
            created_at=now,
            expires_at=now + timedelta(hours=RESET_HOURS),
        )
    )
    record_for_user("auth.password_reset_requested", user, actor=audit.SYSTEM)
    db.session.commit()
    try:
        mail.send(
            user.email,
            _l("Reset your Latchkey password"),
            "auth_reset",
            locale=user.locale or "en",
            name=user.name,
            link=external_url("auth.reset_password", token=token),
            hours=RESET_HOURS,
        )
    except (smtplib.SMTPException, OSError):
        current_app.logger.exception("the password reset e-mail to user %s failed", user.id)


def _reset_link_problem(reset: PasswordReset | None):
    again = url_for("auth.reset_request")
    label = _("Ask for a new link")
    if reset is None:
        return link_problem(
            400,
            _("This link is not valid"),
            _(
                "The address may be incomplete. Copy the whole link from the e-mail, or ask "
                "for a new one."
            ),
            again,
            label,
        )
    if reset.used_at is not None:
        return link_problem(
            410,
            _("This link was already used"),
            _(
                "Each reset link works once. If you still need to change your password, ask "
                "for a new link."
            ),
            again,
            label,
        )
    return link_problem(
        410,
        _("This link has expired"),
        ngettext(
            "Reset links work for %(num)d hour. Ask for a new one; it arrives in a minute.",
            "Reset links work for %(num)d hours. Ask for a new one; it arrives in a minute.",
            RESET_HOURS,
        ),
        again,
        label,
    )


def _find_reset(token: str) -> PasswordReset | None:
    if not token or len(token) > TOKEN_MAX:
        return None
    return db.session.execute(
        select(PasswordReset).where(PasswordReset.token_hash == crypto.token_hash(token))
    ).scalar_one_or_none()


@bp.route("/auth/reset/<token>", methods=["GET", "POST"])
@limiter.limit(throttle.ip_limit, methods=["POST"])
@limiter.shared_limit(throttle.token_page_limit, scope="auth-token-pages", methods=["GET"])
def reset_password(token: str):
    reset = _find_reset(token)
    if reset is None or reset.used_at is not None or reset.expires_at <= utcnow():
        return _reset_link_problem(reset)
    user = reset.user
    form = ResetPasswordForm(user=user)
    if request.method == "GET":
        return render_template("auth/reset_password.html", form=form, email=user.email)
    if not form.validate():
        return render_template("auth/reset_password.html", form=form, email=user.email), 422

    now = utcnow()
    claimed = db.session.execute(
        update(PasswordReset)
        .where(
            PasswordReset.id == reset.id,
            PasswordReset.used_at.is_(None),
            PasswordReset.expires_at > now,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        db.session.rollback()
        db.session.refresh(reset)
        return _reset_link_problem(reset)
    # Every other link sent to this person stops working too.
    db.session.execute(
        update(PasswordReset)
        .where(PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    user.password_hash = hash_password(form.password.data)
    end_all_sessions(user)  # signs out every session, on every device
    record_for_user("auth.password_reset", user)
    db.session.commit()
    throttle.clear_failures(user.email)
    if current_user.is_authenticated and current_user.id == user.id:
        end_session()
    flash(_("Your password was changed. Sign in with your new password."), "success")
    return redirect(url_for("auth.login"), code=303)


# ------------------------------------------------------------- no agency yet


@bp.get("/auth/no-agency")
@login_required
def no_agency():
    if g.get("membership") is not None:
        return redirect(_dashboard())
    memberships = (
        db.session.execute(select(Membership).where(Membership.user_id == current_user.id))
        .scalars()
        .all()
    )
    return render_template("auth/no_agency.html", memberships=memberships)


@bp.post("/auth/agency")
@login_required
def switch_agency():
    """Open another agency the signed-in person belongs to."""
    form = SwitchAgencyForm()
    agency_id = parse_id(form.agency_id.data) if form.validate() else None
    membership = None
    if agency_id is not None:
        membership = db.session.execute(
            select(Membership).where(
                Membership.user_id == current_user.id, Membership.agency_id == agency_id
            )
        ).scalar_one_or_none()
    if membership is None:
        abort(404)  # another agency's id, like any other, is not found
    session["agency_id"] = membership.agency_id
    flash(_("You are now working in %(name)s.", name=membership.agency.brand_name), "success")
    return redirect(_dashboard(), code=303)
