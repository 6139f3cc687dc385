"""Latchkey: one branded link for agencies to get access to their clients' accounts."""

from __future__ import annotations

import os

from flask import Flask

from .config import ConfigError, check_production, load_config

__all__ = ["ConfigError", "create_app"]

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app; `test_config` overrides settings read from the environment."""
    app = Flask(
        __name__,
        instance_relative_config=True,
        instance_path=os.environ.get("LATCHKEY_INSTANCE_PATH")
        or os.path.join(PROJECT_ROOT, "instance"),
        template_folder=os.path.join(PROJECT_ROOT, "templates"),
        static_folder=os.path.join(PROJECT_ROOT, "static"),
    )
    os.makedirs(app.instance_path, exist_ok=True)
    env = dict(os.environ)
    if test_config and "ENV" in test_config:
        env.update(test_config.pop("ENV"))
    app.config.from_mapping(load_config(app.instance_path, env))
    if test_config:
        app.config.update(test_config)
    check_production(app.config)

    from . import inputs

    inputs.init_url_map(app)  # before any route: every <int:...> id is bounded
    _init_extensions(app)
    _register_blueprints(app)

    from . import (
        cli,
        errors,
        i18n,
        labels,
        nav,
        notifications,
        oauth,
        observability,
        platforms,
        security,
        webhooks,
    )
    from .auth import session as auth_session

    security.init_app(app)
    errors.init_app(app)
    i18n.init_app(app)
    labels.init_app(app)
    nav.init_app(app)
    auth_session.init_app(app)
    platforms.init_app(app)
    oauth.init_app(app)
    cli.init_app(app)
    notifications.init_app(app)
    webhooks.init_app(app)
    observability.init_app(app)  # logs, request ids, trusted proxies, request metrics
    # Last of the app's hooks (the session and language are known), before any view.
    inputs.init_app(app)  # no control characters in any query, URL segment or form field
    return app


def _init_extensions(app: Flask) -> None:
    from .extensions import babel, csrf, db, htmx, limiter, login_manager, migrate, select_locale

    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(PROJECT_ROOT, "migrations"))
    csrf.init_app(app)
    htmx.init_app(app)
    babel.init_app(
        app,
        locale_selector=select_locale,
        default_translation_directories=os.path.join(os.path.dirname(__file__), "translations"),
    )
    limiter.init_app(app)
    login_manager.init_app(app)


def _register_blueprints(app: Flask) -> None:
    from .admin import api_docs, api_keys  # noqa: F401 (routes of the API's admin pages)
    from .admin import bp as admin_bp
    from .admin import webhooks as admin_webhooks  # noqa: F401
    from .api import bp as api_bp
    from .auth import bp as auth_bp
    from .client import bp as client_bp
    from .main import bp as main_bp
    from .oauth import bp as oauth_bp
    from .ops import bp as ops_bp

    app.register_blueprint(main_bp)
    app.register_blueprint(ops_bp)  # /readyz, /metrics
    app.register_blueprint(oauth_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(client_bp)
    app.register_blueprint(api_bp)
    if app.config["LATCHKEY_SANDBOX"]:
        from .sandbox import bp as sandbox_bp

        app.register_blueprint(sandbox_bp)
