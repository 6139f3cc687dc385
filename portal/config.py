"""Configuration from the environment, parsed strictly.

Every variable of the contract is read here and nowhere else. A bad value
stops the start with a message that names the variable; production refuses
to start with a missing or default secret, or with the sandbox on.
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.fernet import Fernet

ENVIRONMENTS = ("development", "test", "production")
PLATFORM_IDS = ("pinterest", "meta", "google", "tiktok", "linkedin")
DEFAULT_BASE_URL = "http://127.0.0.1:5000"
# Secrets that ship in the repository or documentation: never acceptable in production.
KNOWN_DEFAULT_SECRETS = frozenset({"", "dev", "change-me", "changeme", "secret", "test"})


# E-mails to an agency's clients, per 24 hours (portal/notifications/client_mail.py),
# each set by LATCHKEY_<NAME>: per request's link, per recipient address, per
# agency while new and once trusted, and what makes an agency trusted.
CLIENT_EMAIL_LIMITS = {
    "CLIENT_EMAILS_PER_REQUEST": 3,
    "CLIENT_EMAILS_PER_RECIPIENT": 10,
    "CLIENT_EMAILS_NEW_AGENCY": 20,
    "CLIENT_EMAILS_AGENCY": 500,
    "CLIENT_EMAILS_TRUST_COMPLETED": 3,
    "CLIENT_EMAILS_TRUST_DAYS": 30,
}


class ConfigError(RuntimeError):
    """A setting is missing or malformed; the message names the variable."""


def _get(env: Mapping[str, str], name: str) -> str | None:
    """Read NAME, or the contents of the file named by NAME_FILE (for secrets)."""
    file_var = f"{name}_FILE"
    if env.get(file_var):
        try:
            return Path(env[file_var]).read_text().strip()
        except OSError as exc:
            raise ConfigError(
                f"{file_var}: cannot read {env[file_var]!r} ({exc.strerror})"
            ) from exc
    value = env.get(name)
    return value.strip() if value is not None else None


def envbool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = _get(env, name)
    if raw is None or raw == "":
        return default
    lowered = raw.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}: expected 1/0, true/false, yes/no or on/off, got {raw!r}")


def envint(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = _get(env, name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}: expected a whole number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name}: must be at least {minimum}, got {value}")
    return value


LOG_FORMATS = ("json", "text")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
# The production smoke test (tests/test_production_smoke.py) runs real production
# settings with the sandbox. It takes this variable set to this exact phrase AND a
# loopback LATCHKEY_BASE_URL, which no real deployment can have.
SMOKE_TEST_VARIABLE = "LATCHKEY_PRODUCTION_SMOKE_TEST_ALLOW_SANDBOX"
SMOKE_TEST_CONSENT = "yes-this-is-a-throwaway-smoke-test-on-loopback"


def log_format(env: Mapping[str, str]) -> str:
    """LATCHKEY_LOG_FORMAT: `json` (one object per line; production default) or `text`."""
    production = (_get(env, "LATCHKEY_ENV") or "development").lower() == "production"
    raw = (_get(env, "LATCHKEY_LOG_FORMAT") or ("json" if production else "text")).lower()
    if raw not in LOG_FORMATS:
        raise ConfigError(f"LATCHKEY_LOG_FORMAT: expected json or text, got {raw!r}")
    return raw


def log_level(env: Mapping[str, str]) -> str:
    raw = (_get(env, "LATCHKEY_LOG_LEVEL") or "INFO").upper()
    if raw not in LOG_LEVELS:
        raise ConfigError(
            f"LATCHKEY_LOG_LEVEL: expected one of {', '.join(LOG_LEVELS)}, got {raw!r}"
        )
    return raw


def trusted_proxies(env: Mapping[str, str]) -> tuple[str, ...]:
    """LATCHKEY_TRUSTED_PROXIES: addresses or networks of the reverse proxies in front.

    Only a request coming from one of them may set X-Forwarded-For,
    X-Forwarded-Proto and X-Request-ID; gunicorn.conf.py gives the same list to
    gunicorn's forwarded_allow_ips.
    """
    raw = _get(env, "LATCHKEY_TRUSTED_PROXIES") or ""
    networks = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        try:
            networks.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            raise ConfigError(
                f"LATCHKEY_TRUSTED_PROXIES: {item!r} is not an IP address or network "
                "(e.g. 127.0.0.1 or 10.0.0.0/8)"
            ) from None
    return tuple(networks)


def metrics_token(env: Mapping[str, str]) -> str | None:
    """LATCHKEY_METRICS_TOKEN: the bearer token /metrics asks for; unset, /metrics is off."""
    token = _get(env, "LATCHKEY_METRICS_TOKEN") or None
    if token is not None and (len(token) < 24 or token.lower() in KNOWN_DEFAULT_SECRETS):
        raise ConfigError(
            "LATCHKEY_METRICS_TOKEN: use at least 24 random characters "
            "(python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    return token


def _loopback_url(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _production_smoke_test(env: Mapping[str, str], production: bool, base_url: str) -> bool:
    raw = _get(env, SMOKE_TEST_VARIABLE)
    if not raw:
        return False
    if not production:
        raise ConfigError(
            f"{SMOKE_TEST_VARIABLE}: only for the production smoke test (LATCHKEY_ENV=production); "
            "unset it"
        )
    if raw != SMOKE_TEST_CONSENT:
        raise ConfigError(
            f"{SMOKE_TEST_VARIABLE}: never set it in a real deployment; the smoke test sets "
            "it to its own exact phrase"
        )
    if not _loopback_url(base_url):
        raise ConfigError(
            f"{SMOKE_TEST_VARIABLE}: refused because LATCHKEY_BASE_URL is not a loopback "
            "address; a real deployment cannot run the sandbox"
        )
    return True


def production_smoke_test(config: Mapping) -> bool:
    """True only in the CI smoke test: production settings on a loopback base URL, with
    the sandbox let in explicitly (SMOKE_TEST_VARIABLE). Never true in a real deployment."""
    return (
        config.get("LATCHKEY_ENV") == "production"
        and config.get("LATCHKEY_PRODUCTION_SMOKE_TEST") is True
        and _loopback_url(config.get("LATCHKEY_BASE_URL") or "")
    )


def _instance_secret(instance_path: str, filename: str, make) -> str:
    """Read a development secret from the instance folder, creating it once."""
    path = Path(instance_path) / filename
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = make()
    # Only the owner may read it.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value)
    return value


def _check_url(name: str, value: str, schemes: tuple[str, ...]) -> str:
    parts = urlsplit(value)
    if parts.scheme not in schemes or not (parts.netloc or parts.path):
        raise ConfigError(f"{name}: expected a URL starting with {' or '.join(schemes)}")
    return value


AUDIT_KEY_MIN_LENGTH = 32


def audit_keys(env: Mapping[str, str], instance_path: str, production: bool) -> list[str]:
    """LATCHKEY_AUDIT_KEYS: comma-separated keys for the audit chain's HMAC; the
    first signs new events, all verify (keep old ones: their events need them)."""
    raw = _get(env, "LATCHKEY_AUDIT_KEYS")
    if not raw:
        if production:
            raise ConfigError(
                "LATCHKEY_AUDIT_KEYS: required in production (generate one with: "
                "python -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )
        raw = _instance_secret(instance_path, "audit_keys", lambda: secrets.token_urlsafe(32))
    keys = [k.strip() for k in raw.split(",") if k.strip()]
    if not keys:
        raise ConfigError("LATCHKEY_AUDIT_KEYS: no key given")
    for index, key in enumerate(keys, start=1):
        if len(key) < AUDIT_KEY_MIN_LENGTH or key.lower() in KNOWN_DEFAULT_SECRETS:
            raise ConfigError(
                f"LATCHKEY_AUDIT_KEYS: key {index} is too short; use at least "
                f"{AUDIT_KEY_MIN_LENGTH} random characters (python -c 'import secrets; "
                "print(secrets.token_urlsafe(32))')"
            )
    return keys


def load_config(instance_path: str, env: Mapping[str, str] | None = None) -> dict:
    """Build the Flask config mapping from the environment."""
    env = os.environ if env is None else env
    latchkey_env = (_get(env, "LATCHKEY_ENV") or "development").lower()
    if latchkey_env not in ENVIRONMENTS:
        raise ConfigError(
            f"LATCHKEY_ENV: expected one of {', '.join(ENVIRONMENTS)}, got {latchkey_env!r}"
        )
    production = latchkey_env == "production"

    secret_key = _get(env, "SECRET_KEY")
    if not secret_key:
        if production:
            raise ConfigError("SECRET_KEY: required in production (at least 32 random characters)")
        secret_key = _instance_secret(
            instance_path, "secret_key", lambda: secrets.token_urlsafe(48)
        )
    if production and (secret_key.lower() in KNOWN_DEFAULT_SECRETS or len(secret_key) < 32):
        raise ConfigError(
            "SECRET_KEY: too short or a known default; use at least 32 random characters"
        )

    keys_raw = _get(env, "LATCHKEY_ENCRYPTION_KEYS")
    if not keys_raw:
        if production:
            raise ConfigError(
                "LATCHKEY_ENCRYPTION_KEYS: required in production "
                "(generate one with: python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())')"
            )
        keys_raw = _instance_secret(
            instance_path, "encryption_keys", lambda: Fernet.generate_key().decode()
        )
    encryption_keys = [k.strip() for k in keys_raw.split(",") if k.strip()]
    for index, key in enumerate(encryption_keys, start=1):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            raise ConfigError(
                f"LATCHKEY_ENCRYPTION_KEYS: key {index} is not a valid Fernet key "
                "(32 url-safe base64-encoded bytes)"
            ) from None
    if not encryption_keys:
        raise ConfigError("LATCHKEY_ENCRYPTION_KEYS: no key given")

    database_url = _get(env, "DATABASE_URL")
    if database_url:
        if database_url.startswith("postgres://"):
            raise ConfigError("DATABASE_URL: use postgresql+psycopg://..., not postgres://")
        if database_url.startswith("postgresql://"):
            database_url = "postgresql+psycopg://" + database_url[len("postgresql://") :]
        _check_url("DATABASE_URL", database_url, ("postgresql+psycopg", "sqlite"))
    else:
        database_url = "sqlite:///" + str(Path(instance_path) / "latchkey.sqlite3")

    redis_url = _get(env, "REDIS_URL") or None
    if redis_url:
        _check_url("REDIS_URL", redis_url, ("redis", "rediss", "unix"))

    base_url = (_get(env, "LATCHKEY_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
    _check_url("LATCHKEY_BASE_URL", base_url, ("http", "https"))
    if production and not base_url.startswith("https://"):
        raise ConfigError("LATCHKEY_BASE_URL: must be https:// in production")

    sandbox = envbool(env, "LATCHKEY_SANDBOX", default=not production)
    smoke_test = _production_smoke_test(env, production, base_url)
    if production and sandbox and not smoke_test:
        raise ConfigError("LATCHKEY_SANDBOX: the emulated platforms cannot run in production")

    smtp_url = _get(env, "SMTP_URL") or None
    if smtp_url:
        _check_url("SMTP_URL", smtp_url, ("smtp", "smtps"))

    platform_credentials = {}
    for platform in PLATFORM_IDS:
        upper = platform.upper()
        client_id = _get(env, f"{upper}_CLIENT_ID")
        client_secret = _get(env, f"{upper}_CLIENT_SECRET")
        if bool(client_id) != bool(client_secret):
            raise ConfigError(f"{upper}_CLIENT_ID and {upper}_CLIENT_SECRET must be set together")
        if client_id:
            platform_credentials[platform] = {
                "client_id": client_id,
                "client_secret": client_secret,
            }

    # Platform settings beyond the OAuth client (see README.md, "Configuration").
    google_ads_token = _get(env, "GOOGLE_ADS_DEVELOPER_TOKEN") or None
    if google_ads_token and not re.fullmatch(r"[A-Za-z0-9_-]{10,100}", google_ads_token):
        raise ConfigError(
            "GOOGLE_ADS_DEVELOPER_TOKEN: expected the developer token from the API Center of "
            "the Google Ads manager account (10-100 letters, digits, - or _)"
        )
    meta_config_id = _get(env, "META_LOGIN_CONFIG_ID") or None
    if meta_config_id and not meta_config_id.isdigit():
        raise ConfigError(
            "META_LOGIN_CONFIG_ID: expected the numeric configuration id of the app's "
            f"Facebook Login for Business configuration, got {meta_config_id!r}"
        )

    return {
        "LATCHKEY_ENV": latchkey_env,
        "TESTING": latchkey_env == "test",
        "SECRET_KEY": secret_key,
        "LATCHKEY_ENCRYPTION_KEYS": encryption_keys,
        "LATCHKEY_AUDIT_KEYS": audit_keys(env, instance_path, production),
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "REDIS_URL": redis_url,
        "LATCHKEY_BASE_URL": base_url,
        "LATCHKEY_SANDBOX": sandbox,
        "SMTP_URL": smtp_url,
        "MAIL_FROM": _get(env, "MAIL_FROM") or "Latchkey <no-reply@latchkey.localhost>",
        "PLATFORM_CREDENTIALS": platform_credentials,
        "GOOGLE_ADS_DEVELOPER_TOKEN": google_ads_token,
        "META_LOGIN_CONFIG_ID": meta_config_id,
        # Sessions: signed cookies; idle and absolute limits enforced in auth.
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": production,
        **{
            name: envint(env, f"LATCHKEY_{name}", default, minimum=0)
            for name, default in CLIENT_EMAIL_LIMITS.items()
        },
        "SESSION_IDLE_MINUTES": envint(env, "LATCHKEY_SESSION_IDLE_MINUTES", 60, minimum=1),
        "SESSION_ABSOLUTE_HOURS": envint(env, "LATCHKEY_SESSION_ABSOLUTE_HOURS", 12, minimum=1),
        "MAX_CONTENT_LENGTH": 2 * 1024 * 1024,
        "WTF_CSRF_TIME_LIMIT": None,  # tied to the session instead of a clock
        # Over HTTPS Flask-WTF also demands a same-site Referer. Pages carrying a
        # link or reset token send Referrer-Policy: no-referrer, so browsers send no
        # Referer (and Origin: null) on their forms, and every one would be refused
        # in production (found by tests/test_production_smoke.py). The session-bound
        # CSRF token, SameSite=Lax cookies and HSTS protect the forms.
        "WTF_CSRF_SSL_STRICT": False,
        "BABEL_DEFAULT_LOCALE": "en",
        "BABEL_DEFAULT_TIMEZONE": "UTC",
        "LANGUAGES": {"en": "English", "fr": "Français"},
        "RATELIMIT_STORAGE_URI": redis_url or "memory://",
        "RATELIMIT_HEADERS_ENABLED": True,
        "RATELIMIT_KEY_PREFIX": "latchkey-rl",
        # Operations: logs, reverse proxies, metrics (portal/observability.py, portal/ops.py).
        "LOG_FORMAT": log_format(env),
        "LOG_LEVEL": log_level(env),
        "TRUSTED_PROXIES": trusted_proxies(env),
        "METRICS_TOKEN": metrics_token(env),
        # Only the CI smoke test: production settings, the sandbox on a loopback base URL.
        "LATCHKEY_PRODUCTION_SMOKE_TEST": smoke_test,
        "ALLOW_SANDBOX_IN_PRODUCTION_FOR_TESTS": smoke_test,
    }


def check_production(config: Mapping) -> None:
    """Re-check settings after test overrides; production must stay locked down."""
    if config.get("LATCHKEY_ENV") != "production":
        return
    if config.get("LATCHKEY_SANDBOX") and not config.get("ALLOW_SANDBOX_IN_PRODUCTION_FOR_TESTS"):
        raise ConfigError("LATCHKEY_SANDBOX: the emulated platforms cannot run in production")
