"""Error pages: every error says what happened and what to do next."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException


def messages() -> dict[int, tuple[str, str]]:
    """Title and advice of each error status, in the current language."""
    return _messages()


def _client_page(code: int) -> str | None:
    """Under a client link (/r/...): the agency's branded page, or None."""
    if not request.path.startswith("/r/"):
        return None
    from .client.views import error_page

    try:
        return error_page(code)
    except Exception:  # the branded page failed (the database may be gone): the plain one
        logging.getLogger(__name__).exception("client error page failed to render")
        _rollback()
        return None


def _messages() -> dict[int, tuple[str, str]]:
    return {
        400: (_("Bad request"), _("The request could not be understood. Go back and try again.")),
        403: (
            _("Not allowed"),
            _("Your role does not allow this. Ask an admin of your agency if you need it."),
        ),
        404: (
            _("Page not found"),
            _("Check the address, or go back to the previous page."),
        ),
        405: (_("Not allowed"), _("This address does not accept that kind of request.")),
        410: (_("No longer available"), _("This page has been removed.")),
        413: (
            _("Too large"),
            _("What you sent is larger than allowed. Send something smaller."),
        ),
        429: (
            _("Too many attempts"),
            _("Please wait a few minutes before trying again."),
        ),
        500: (
            _("Something went wrong on our side"),
            _("Nothing you did caused this. Please try again in a minute."),
        ),
    }


def wants_json() -> bool:
    return request.path.startswith("/api/")


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(error):
        title = _("Your session expired")
        detail = _(
            "The form was open too long or came from elsewhere. Reload the page and try again."
        )
        if wants_json():
            return _problem(400, title, detail)
        return render_template("errors/error.html", code=400, title=title, detail=detail), 400

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        code = error.code or 500
        title, detail = _messages().get(code, (error.name, error.description or ""))
        if wants_json():
            return _problem(code, title, detail)
        response = _client_page(code) or render_template(
            "errors/error.html", code=code, title=title, detail=detail
        )
        headers = {}
        if code == 429 and getattr(error, "retry_after", None):
            headers["Retry-After"] = str(error.retry_after)
        return response, code, headers

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        if isinstance(error, HTTPException):
            return http_error(error)
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        _rollback()  # the page below reads the database: not in a failed transaction
        title, detail = _messages()[500]
        if wants_json():
            return _problem(500, title, detail)
        try:
            page = _client_page(500) or render_template(
                "errors/error.html", code=500, title=title, detail=detail
            )
        except Exception:  # the error page itself failed: answer in plain text
            app.logger.exception("error page failed to render")
            page = f"{title}. {detail}"
        return page, 500


def _rollback() -> None:
    from .extensions import db

    try:
        db.session.rollback()
    except Exception:  # the connection itself may be gone
        logging.getLogger(__name__).exception("rollback after an error failed")


def _problem(status: int, title: str, detail: str, errors: list | None = None):
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    if errors:
        body["errors"] = errors
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    return response
