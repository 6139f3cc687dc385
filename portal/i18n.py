"""Languages: the switcher and what templates need to show the current one."""

from __future__ import annotations

from flask import Flask, current_app, has_request_context, request
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


def supported(locale: str | None) -> str | None:
    """`locale` if the app speaks it, else None."""
    languages = current_app.config.get("LANGUAGES") or {"en": "English"}
    return locale if locale and locale in languages else None


def browser_locale() -> str | None:
    """The best of the app's languages for the browser's Accept-Language, if any."""
    if not has_request_context():
        return None
    languages = list(current_app.config.get("LANGUAGES") or {"en": "English"})
    return request.accept_languages.best_match(languages)


def request_locale(access_request) -> str:
    """The language to write to the client of a request in (e-mails, the PDF,
    jobs): the request's, else the one the client was last seen with (their
    browser's, when the agency left it to the browser), else the agency's."""
    client = access_request.client
    for candidate in (
        access_request.locale,
        client.locale if client is not None else None,
        access_request.agency.default_locale,
    ):
        if supported(candidate):
            return candidate
    return current_app.config.get("BABEL_DEFAULT_LOCALE", "en")
