"""Languages: the switcher and what templates need to show the current one."""

from __future__ import annotations

from flask import Flask
from flask_babel import get_locale


def init_app(app: Flask) -> None:
    @app.context_processor
    def inject_locale():
        return {
            "current_locale": str(get_locale() or "en"),
            "languages": app.config["LANGUAGES"],
        }
