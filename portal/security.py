"""Security headers on every response, with a per-request CSP nonce."""

from __future__ import annotations

import secrets

from flask import Flask, g, has_request_context, request


def csp_nonce() -> str:
    """This request's nonce (kept on the request: an app context may outlive it)."""
    if not has_request_context():
        if "csp_nonce" not in g:
            g.csp_nonce = secrets.token_urlsafe(16)
        return g.csp_nonce
    if "latchkey.csp_nonce" not in request.environ:
        request.environ["latchkey.csp_nonce"] = secrets.token_urlsafe(16)
    return request.environ["latchkey.csp_nonce"]


def init_app(app: Flask) -> None:
    production = app.config["LATCHKEY_ENV"] == "production"

    @app.context_processor
    def inject_nonce():
        return {"csp_nonce": csp_nonce}

    @app.after_request
    def set_headers(response):
        nonce = csp_nonce()
        policy = (
            "default-src 'self'; "
            f"script-src 'self' 'nonce-{nonce}'; "
            f"style-src 'self' 'nonce-{nonce}'; "
            "img-src 'self' data:; "
            "font-src 'self'; "
            "connect-src 'self'; "
            "form-action 'self' " + " ".join(app.config.get("CSP_FORM_ACTION_EXTRA", ())) + "; "
            "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
        )
        response.headers.setdefault("Content-Security-Policy", policy)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        response.headers.setdefault(
            "Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()"
        )
        if production:
            response.headers.setdefault(
                "Strict-Transport-Security", "max-age=63072000; includeSubDomains"
            )
        if request.htmx or response.mimetype == "text/html":
            response.vary.add("HX-Request")
        # Pages, fragments and API answers may carry personal data, tokens or a
        # CSRF token: no cache keeps them. Static files are the exception; a
        # view that knows better (a logo) sets its own.
        if request.endpoint != "static":
            response.headers.setdefault("Cache-Control", "no-store")
        return response
