"""Configuration from the environment, parsed strictly.

Every variable of the contract is read here and nowhere else. A bad value
stops the start with a message that names the variable; production refuses
to start with a missing or default secret, or with the sandbox on.
"""

from __future__ import annotations

import os
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
    if production and sandbox:
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

    return {
        "LATCHKEY_ENV": latchkey_env,
        "TESTING": latchkey_env == "test",
        "SECRET_KEY": secret_key,
        "LATCHKEY_ENCRYPTION_KEYS": encryption_keys,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "REDIS_URL": redis_url,
        "LATCHKEY_BASE_URL": base_url,
        "LATCHKEY_SANDBOX": sandbox,
        "SMTP_URL": smtp_url,
        "MAIL_FROM": _get(env, "MAIL_FROM") or "Latchkey <no-reply@latchkey.localhost>",
        "PLATFORM_CREDENTIALS": platform_credentials,
        # Sessions: signed cookies; idle and absolute limits enforced in auth.
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": production,
        "SESSION_IDLE_MINUTES": envint(env, "LATCHKEY_SESSION_IDLE_MINUTES", 60, minimum=1),
        "SESSION_ABSOLUTE_HOURS": envint(env, "LATCHKEY_SESSION_ABSOLUTE_HOURS", 12, minimum=1),
        "MAX_CONTENT_LENGTH": 2 * 1024 * 1024,
        "WTF_CSRF_TIME_LIMIT": None,  # tied to the session instead of a clock
        "BABEL_DEFAULT_LOCALE": "en",
        "BABEL_DEFAULT_TIMEZONE": "UTC",
        "LANGUAGES": {"en": "English", "fr": "Français"},
        "RATELIMIT_STORAGE_URI": redis_url or "memory://",
        "RATELIMIT_HEADERS_ENABLED": True,
        "RATELIMIT_KEY_PREFIX": "latchkey-rl",
    }


def check_production(config: Mapping) -> None:
    """Re-check settings after test overrides; production must stay locked down."""
    if config.get("LATCHKEY_ENV") != "production":
        return
    if config.get("LATCHKEY_SANDBOX") and not config.get("ALLOW_SANDBOX_IN_PRODUCTION_FOR_TESTS"):
        raise ConfigError("LATCHKEY_SANDBOX: the emulated platforms cannot run in production")
