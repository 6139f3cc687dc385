"""Languages: the switcher and what templates need to show the current one."""

from __future__ import annotations

from flask import Flask
from flask_babel import get_locale, refresh


def init_app(app: Flask) -> None:
    # The locale is cached per app context, which a test client (or a job
    # runner) may share across requests: choose it afresh for each request.
    app.before_request(refresh)

    @app.context_processor
    def inject_locale():
        return {
            "current_locale": str(get_locale() or "en"),
            "languages": app.config["LANGUAGES"],
        }
