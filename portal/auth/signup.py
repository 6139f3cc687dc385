"""Sign-up, and confirming the agency's e-mail address.

Sign-up answers the same whether or not the address already has an account,
so the form cannot tell anyone who is a customer: a new address gets its
agency and a link to confirm the address; a known one gets an e-mail saying
it already has an account. Nobody is signed in by the form itself.

Until an owner or admin confirms the agency's address with that link (or a
new one, sent from the banner in the agency area), Latchkey e-mails none of
the agency's clients (see notifications.client_mail).
"""

from __future__ import annotations

import smtplib
from datetime import timedelta

from flask import current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import force_locale, get_locale, ngettext
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from .. import audit, crypto, mail
from ..extensions import db, limiter
from ..models import Agency, EmailVerification, User
from ..models.base import utcnow
from ..services.agencies import AgencyError, create_agency
from . import bp, throttle
from .common import external_url, link_problem, user_actor
from .forms import SignupForm
from .passwords import hash_password
from .session import role_required

VERIFY_DAYS = 3
TOKEN_MAX = 128
VERIFY_RESEND_LIMIT = "5 per hour"


def _per_user() -> str:
    if current_user.is_authenticated:
        return f"user:{current_user.id}"
    return request.remote_addr or "unknown"


# ------------------------------------------------------------------ sign-up


@bp.route("/auth/signup", methods=["GET", "POST"])
@limiter.limit(throttle.signup_limit, methods=["POST"])
def signup():
    if current_user.is_authenticated:
        return redirect(url_for("admin.dashboard"))
    form = SignupForm()
    if request.method == "GET":
        return render_template("auth/signup.html", form=form)
    if not form.validate():
        return render_template("auth/signup.html", form=form), 422
    email = form.email.data
    locale = str(get_locale() or "en")
    try:
        agency, user = create_agency(
            form.agency_name.data,
            email,
            form.password.data,
            owner_name=form.name.data,
            locale=locale,
        )
    except (AgencyError, IntegrityError):
        # The address has an account (or got one between the check and the insert).
        db.session.rollback()
        hash_password(form.password.data)  # as long as a real sign-up takes
        if throttle.may_send_signup_email(email):
            _send_already_registered(email, locale)
    else:
        send_verification(agency, user)
    return render_template("auth/signup_sent.html", email=email)


def _send(to: str, locale: str, subject: str, paragraphs: list[str], link: str, label: str):
    try:
        mail.send(
            to,
            subject,
            "notice",
            locale=locale,
            heading=subject,
            paragraphs=paragraphs,
            action_url=link,
            action_label=label,
        )
    except (smtplib.SMTPException, OSError):
        current_app.logger.exception("an account e-mail could not be sent")


def _send_already_registered(email: str, locale: str) -> None:
    user = db.session.execute(select(User).where(User.email == email)).scalar_one_or_none()
    if user is not None:
        locale = user.locale or locale
    with force_locale(locale):
        subject = _("You already have a Latchkey account")
        paragraphs = [
            _(
                "Someone, probably you, tried to sign up for Latchkey with %(email)s. This "
                "address already has an account, so no new one was made.",
                email=email,
            ),
            _(
                "Sign in with your password, or choose a new one if you forgot it. If it was "
                "not you, ignore this e-mail: nothing has changed in your account."
            ),
        ]
        label = _("Sign in")
    _send(email, locale, subject, paragraphs, external_url("auth.login"), label)


# ------------------------------------------------- confirming the address


def send_verification(agency: Agency, user: User) -> None:
    """E-mail `user` a link that confirms their address as the agency's (committed)."""
    token = crypto.new_token()
    now = utcnow()
    db.session.add(
        EmailVerification(
            agency_id=agency.id,
            user_id=user.id,
            email=user.email,
            token_hash=crypto.token_hash(token),
            created_at=now,
            expires_at=now + timedelta(days=VERIFY_DAYS),
        )
    )
    audit.record(
        "agency.email_verification_sent",
        agency_id=agency.id,
        actor=audit.SYSTEM,
        subject=("agency", agency.id),
        details={"to": user.email},
    )
    db.session.commit()
    locale = user.locale or agency.default_locale or "en"
    with force_locale(locale):
        subject = _("Confirm your e-mail address for Latchkey")
        paragraphs = [
            _(
                "Open the link below to confirm that %(email)s is the address of "
                "%(agency)s on Latchkey. Until it is confirmed, Latchkey does not e-mail "
                "your clients for you.",
                email=user.email,
                agency=agency.name,
            ),
            ngettext(
                "The link works for %(num)d day. If you did not sign up for Latchkey, ignore "
                "this e-mail: nothing is sent in your name.",
                "The link works for %(num)d days. If you did not sign up for Latchkey, ignore "
                "this e-mail: nothing is sent in your name.",
                VERIFY_DAYS,
            ),
        ]
        label = _("Confirm my address")
    link = external_url("auth.verify_email", token=token)
    _send(user.email, locale, subject, paragraphs, link, label)


def _find(token: str) -> EmailVerification | None:
    if not token or len(token) > TOKEN_MAX:
        return None
    return db.session.execute(
        select(EmailVerification).where(EmailVerification.token_hash == crypto.token_hash(token))
    ).scalar_one_or_none()


def _link_problem(found: EmailVerification | None):
    if current_user.is_authenticated:
        again, label = url_for("admin.dashboard"), _("Go to the dashboard")
    else:
        again, label = url_for("auth.login"), _("Sign in")
    hint = _("Signed in as an owner or admin, you can send a new link from the dashboard.")
    if found is None:
        title = _("This link is not valid")
        detail = _("The address may be incomplete. Copy the whole link from the e-mail.")
        return link_problem(400, title, f"{detail} {hint}", again, label)
    if found.used_at is not None:
        title = _("This link was already used")
        detail = _("Each confirmation link works once.")
        return link_problem(410, title, f"{detail} {hint}", again, label)
    title = _("This link has expired")
    detail = ngettext(
        "Confirmation links work for %(num)d day.",
        "Confirmation links work for %(num)d days.",
        VERIFY_DAYS,
    )
    return link_problem(410, title, f"{detail} {hint}", again, label)


@bp.route("/auth/verify/<token>", methods=["GET", "POST"])
@limiter.limit(throttle.ip_limit, methods=["POST"])
@limiter.shared_limit(throttle.token_page_limit, scope="auth-token-pages", methods=["GET"])
def verify_email(token: str):
    """GET shows what is confirmed, with a button (so a mail scanner opening
    the link confirms nothing); POST confirms."""
    found = _find(token)
    if found is None or found.used_at is not None or found.expires_at <= utcnow():
        return _link_problem(found)
    if request.method == "GET":
        return render_template("auth/verify_email.html", verification=found)
    now = utcnow()
    claimed = db.session.execute(
        update(EmailVerification)
        .where(EmailVerification.id == found.id, EmailVerification.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        db.session.rollback()
        db.session.refresh(found)
        return _link_problem(found)
    agency = found.agency
    if agency.email_verified_at is None:
        agency.email_verified_at = now
        audit.record(
            "agency.email_verified",
            agency_id=agency.id,
            actor=user_actor(found.user),
            subject=("agency", agency.id),
            details={"email": found.email},
        )
    db.session.commit()
    flash(_("Your e-mail address is confirmed: Latchkey can now e-mail your clients."), "success")
    if current_user.is_authenticated:
        return redirect(url_for("admin.dashboard"), code=303)
    return redirect(url_for("auth.login"), code=303)


@bp.post("/app/team/verify-email")
@role_required("admin")
@limiter.limit(VERIFY_RESEND_LIMIT, key_func=_per_user)
def verify_email_resend():
    """Send a new confirmation link for the current agency, to this person."""
    agency = g.agency
    if agency.email_verified_at is not None:
        flash(_("Your agency's e-mail address is already confirmed."), "info")
    else:
        send_verification(agency, db.session.get(User, current_user.id))
        flash(
            _(
                "We sent a new link to %(email)s. Open it to confirm the address.",
                email=current_user.email,
            ),
            "success",
        )
    return redirect(url_for("admin.dashboard"), code=303)
