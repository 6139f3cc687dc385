"""Pages that belong to no area: the start page and the language switcher."""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_login import current_user

from .inputs import local_path

bp = Blueprint("main", __name__)


@bp.get("/")
def index():
    if current_user.is_authenticated:
        return redirect(url_for("admin.dashboard"))
    return render_template("main/index.html")


def safe_next(target: str | None, fallback: str) -> str:
    """Only same-site relative paths (no control characters, no line breaks);
    anything else goes to `fallback`."""
    return local_path(target) or fallback


@bp.post("/language")
def set_language():
    locale = request.form.get("locale", "")
    if locale in current_app.config["LANGUAGES"]:
        session["locale"] = locale
        if current_user.is_authenticated:
            from .extensions import db

            current_user.locale = locale
            db.session.commit()
    return redirect(safe_next(request.form.get("next"), url_for("main.index")))


@bp.get("/healthz")
def healthz():
    return {"status": "ok"}
