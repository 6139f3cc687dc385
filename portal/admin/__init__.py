"""The agency area under /app."""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/app")

from . import (  # noqa: E402,F401
    audit_log,
    branding,
    clients,
    connections,
    dashboard,
    health,
    request_email,
    requests,
    templates,
    tools,
    verify,
)
