"""Who is signed in, for which agency, and for how long.

Sessions are signed cookies. Signing in clears the old session (rotation);
a session ends after SESSION_IDLE_MINUTES without a request and, whatever
happens, SESSION_ABSOLUTE_HOURS after sign-in. Bumping a user's
session_version signs out every one of their sessions.

Each session also has an identity on the server: the cookie carries a random
id whose hash is a live `UserSession` row, checked on every request. Signing
out ends that row, so a copy of the cookie taken before stops working at once;
`end_all_sessions` (sign out everywhere, a new password) ends every row.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from datetime import timedelta

from flask import Flask, abort, current_app, g, redirect, request, session, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user, logout_user
from sqlalchemy import delete, or_, select, update

from .. import crypto
from ..extensions import db, login_manager
from ..models import Agency, Membership, User, UserSession
from ..models.base import utcnow

SESSION_ID_KEY = "sid"


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    try:
        raw_id, version = user_id.split(":", 1)
        user = db.session.get(User, int(raw_id))
    except (ValueError, TypeError):
        return None
    if user is None or str(user.session_version) != version:
        return None
    if not _is_live(user.id):
        return None
    return user


def _absolute_start():
    return utcnow() - timedelta(hours=current_app.config["SESSION_ABSOLUTE_HOURS"])


def _session_hash() -> str | None:
    sid = session.get(SESSION_ID_KEY)
    if not isinstance(sid, str) or not 20 <= len(sid) <= 100:
        return None
    return crypto.token_hash(sid)


def _is_live(user_id: int) -> bool:
    """Whether this request's session is one the server still knows and has not ended."""
    hashed = _session_hash()
    if hashed is None:
        return False
    found = db.session.execute(
        select(UserSession.id).where(
            UserSession.token_hash == hashed,
            UserSession.user_id == user_id,
            UserSession.ended_at.is_(None),
            UserSession.created_at > _absolute_start(),
        )
    ).first()
    return found is not None


def open_server_session(user: User) -> str:
    """Record a new session of `user` (the caller commits); return the id for its cookie.

    The person's ended and expired sessions are forgotten on the way.
    """
    db.session.execute(
        delete(UserSession).where(
            UserSession.user_id == user.id,
            or_(UserSession.ended_at.is_not(None), UserSession.created_at <= _absolute_start()),
        )
    )
    sid = crypto.new_token()
    db.session.add(UserSession(user_id=user.id, token_hash=crypto.token_hash(sid)))
    return sid


def end_all_sessions(user: User) -> int:
    """End every session of `user`, on every device (the caller commits)."""
    user.session_version = (user.session_version or 1) + 1
    ended = db.session.execute(
        update(UserSession)
        .where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
        .values(ended_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return ended.rowcount or 0


def live_session_count(user: User) -> int:
    return len(
        db.session.execute(
            select(UserSession.id).where(
                UserSession.user_id == user.id,
                UserSession.ended_at.is_(None),
                UserSession.created_at > _absolute_start(),
            )
        ).all()
    )


login_manager.login_view = "auth.login"
login_manager.login_message = _l("Please sign in to continue.")
login_manager.login_message_category = "info"
login_manager.session_protection = "basic"


def start_session(user: User, agency_id: int | None = None, remember: bool = False) -> None:
    """Sign `user` in with a fresh session (the old one is discarded).

    `remember` keeps the session cookie across browser restarts; without it the
    cookie ends with the browser. Either way the idle and absolute limits
    apply, so no long-lived remember-me token is issued.
    """
    locale = session.get("locale")
    session.clear()
    if locale:
        session["locale"] = locale
    if user.locale:
        session["locale"] = user.locale
    _forget_request_token()
    login_user(user, remember=False)
    session[SESSION_ID_KEY] = open_server_session(user)
    now = int(time.time())
    session["auth_at"] = now
    session["seen_at"] = now
    if agency_id is None:
        first = user.memberships[0] if user.memberships else None
        agency_id = first.agency_id if first else None
    session["agency_id"] = agency_id
    session.permanent = remember


def end_session() -> None:
    """Sign this browser out, and end its session on the server (committed)."""
    hashed = _session_hash()
    if hashed is not None:
        db.session.execute(
            update(UserSession)
            .where(UserSession.token_hash == hashed, UserSession.ended_at.is_(None))
            .values(ended_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
    logout_user()
    locale = session.get("locale")
    session.clear()
    if locale:
        session["locale"] = locale
    _forget_request_token()


def _forget_request_token() -> None:
    """Drop the CSRF token cached for this request: it belonged to the old session."""
    g.pop(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"), None)


def init_app(app: Flask) -> None:
    @app.before_request
    def load_membership():
        # `g` lives as long as the app context. Where one context outlives a
        # request (the test suite keeps one pushed), values cached by
        # Flask-Login and Flask-WTF would leak into the next request: read the
        # user and the CSRF token from this request's cookie instead.
        g.pop("_login_user", None)
        g.pop(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"), None)
        g.membership = None
        g.agency = None
        g.agency_id = None
        if request.endpoint == "static" or not current_user.is_authenticated:
            return None
        now = int(time.time())
        idle = current_app.config["SESSION_IDLE_MINUTES"] * 60
        absolute = current_app.config["SESSION_ABSOLUTE_HOURS"] * 3600
        if now - session.get("seen_at", 0) > idle or now - session.get("auth_at", 0) > absolute:
            end_session()
            from flask import flash

            flash(
                _l("Your session ended after a period of inactivity. Please sign in again."), "info"
            )
            return redirect(url_for("auth.login", next=request.path))
        if now - session.get("seen_at", 0) > 60:
            session["seen_at"] = now  # write the cookie at most once a minute
        agency_id = session.get("agency_id")
        if agency_id is not None:
            membership = db.session.execute(
                select(Membership).where(
                    Membership.user_id == current_user.id, Membership.agency_id == agency_id
                )
            ).scalar_one_or_none()
            if membership is not None:
                g.membership = membership
                g.agency = membership.agency
                g.agency_id = membership.agency_id
        return None

    @app.context_processor
    def inject_agency():
        return {
            "current_membership": g.get("membership"),
            "current_agency": g.get("agency"),
        }


def role_required(role: str) -> Callable:
    """Require a signed-in member of the current agency with at least `role`.

    Signed-out visitors go to sign-in; a lower role gets 403.
    """

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            membership: Membership | None = g.get("membership")
            if membership is None:
                return redirect(url_for("auth.no_agency"))
            if not membership.can(role):
                abort(403)
            if (
                membership.agency.require_2fa
                and not current_user.totp_enabled
                and (request.endpoint not in TWO_FACTOR_SETUP_ENDPOINTS)
            ):
                return redirect(url_for("auth.totp_setup", required=1))
            return view(*args, **kwargs)

        return wrapped

    return decorator


TWO_FACTOR_SETUP_ENDPOINTS = frozenset({"auth.totp_setup", "auth.security", "auth.logout"})


def current_agency() -> Agency:
    return g.agency
