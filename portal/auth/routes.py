"""Routes of the auth area (being built: see the auth work)."""

from flask import redirect, url_for

from . import bp


@bp.route("/auth/login", methods=["GET", "POST"])
def login():
    return "login"


@bp.post("/auth/logout")
def logout():
    return redirect(url_for("main.index"))


@bp.route("/auth/signup", methods=["GET", "POST"])
def signup():
    return "signup"


@bp.get("/app/account/security")
def security():
    return "security"


@bp.route("/app/account/two-factor", methods=["GET", "POST"])
def totp_setup():
    return "totp"


@bp.get("/auth/no-agency")
def no_agency():
    return "no agency"
