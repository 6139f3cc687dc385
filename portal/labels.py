"""Translated labels for statuses, shared by pages, e-mails and reports."""

from __future__ import annotations

from flask import Flask
from flask_babel import lazy_gettext as _l
from werkzeug.routing import BuildError

REQUEST_STATUS_LABELS = {
    "draft": _l("Draft"),
    "sent": _l("Sent"),
    "opened": _l("Opened"),
    "in_progress": _l("In progress"),
    "completed": _l("Completed"),
    "partially_completed": _l("Partially completed"),
    "expired": _l("Expired"),
    "revoked": _l("Revoked"),
}
GRANT_STATUS_LABELS = {
    "pending": _l("Waiting"),
    "granted": _l("Granted"),
    "verifying": _l("Verifying"),
    "verified": _l("Verified"),
    "failed": _l("Failed"),
    "declined": _l("Declined"),
    "needs_action": _l("Action needed"),
    "removed": _l("Removed"),
}
ROLE_LABELS = {
    "owner": _l("Owner"),
    "admin": _l("Admin"),
    "member": _l("Member"),
    "viewer": _l("Viewer"),
}


def init_app(app: Flask) -> None:
    from flask import url_for

    def url_exists(endpoint: str) -> bool:
        try:
            url_for(endpoint)
        except BuildError:
            return False
        return True

    @app.context_processor
    def inject_labels():
        return {
            "status_label": lambda s: REQUEST_STATUS_LABELS.get(s, s),
            "grant_status_label": lambda s: GRANT_STATUS_LABELS.get(s, s),
            "role_label": lambda r: ROLE_LABELS.get(r, r),
            "url_exists": url_exists,
        }
