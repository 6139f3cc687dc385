"""Agency sign-up, sign-in, two-factor, password reset and team."""

from flask import Blueprint

bp = Blueprint("auth", __name__)

from . import account, routes, signup, team  # noqa: E402,F401
