"""The agency area under /app."""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/app")

from . import connections, dashboard, requests  # noqa: E402,F401
