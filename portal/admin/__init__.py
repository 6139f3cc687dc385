"""The agency area under /app."""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/app")

from . import dashboard  # noqa: E402,F401
