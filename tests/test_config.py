"""Configuration is read strictly from the environment; production is locked down."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from portal import create_app
from portal.config import ConfigError, load_config

GOOD_KEY = Fernet.generate_key().decode()
PROD = {
    "LATCHKEY_ENV": "production",
    "SECRET_KEY": "s" * 16 + "0123456789abcdefghij",
    "LATCHKEY_ENCRYPTION_KEYS": GOOD_KEY,
    "LATCHKEY_AUDIT_KEYS": "audit-key-" + "k" * 40,
    "LATCHKEY_BASE_URL": "https://latchkey.example.com",
    "DATABASE_URL": "postgresql+psycopg://u@db/latchkey",
    "REDIS_URL": "redis://cache:6379/0",
    "LATCHKEY_SANDBOX": "0",
}


def test_it_reads_a_complete_production_environment(tmp_path):
    config = load_config(str(tmp_path), PROD)
    assert config["LATCHKEY_ENV"] == "production"
    assert config["LATCHKEY_SANDBOX"] is False
    assert config["SESSION_COOKIE_SECURE"] is True
    assert config["RATELIMIT_STORAGE_URI"] == "redis://cache:6379/0"


@pytest.mark.parametrize(
    ("change", "variable"),
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY"),
        ({"SECRET_KEY": "changeme"}, "SECRET_KEY"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY"),
        ({"LATCHKEY_ENCRYPTION_KEYS": ""}, "LATCHKEY_ENCRYPTION_KEYS"),
        ({"LATCHKEY_ENCRYPTION_KEYS": "not-a-key"}, "LATCHKEY_ENCRYPTION_KEYS"),
        ({"LATCHKEY_AUDIT_KEYS": ""}, "LATCHKEY_AUDIT_KEYS"),
        ({"LATCHKEY_AUDIT_KEYS": "too-short"}, "LATCHKEY_AUDIT_KEYS"),
        ({"LATCHKEY_AUDIT_KEYS": "a" * 40 + ", short"}, "LATCHKEY_AUDIT_KEYS"),
        ({"LATCHKEY_SANDBOX": "1"}, "LATCHKEY_SANDBOX"),
        ({"LATCHKEY_SANDBOX": "perhaps"}, "LATCHKEY_SANDBOX"),
        ({"LATCHKEY_BASE_URL": "http://latchkey.example.com"}, "LATCHKEY_BASE_URL"),
        ({"LATCHKEY_ENV": "staging"}, "LATCHKEY_ENV"),
        ({"DATABASE_URL": "mysql://x/y"}, "DATABASE_URL"),
        ({"REDIS_URL": "http://cache"}, "REDIS_URL"),
        ({"SMTP_URL": "mail.example.com"}, "SMTP_URL"),
        ({"PINTEREST_CLIENT_ID": "abc"}, "PINTEREST_CLIENT_"),
        ({"LATCHKEY_SESSION_IDLE_MINUTES": "ten"}, "LATCHKEY_SESSION_IDLE_MINUTES"),
        ({"GOOGLE_ADS_DEVELOPER_TOKEN": "token with spaces"}, "GOOGLE_ADS_DEVELOPER_TOKEN"),
        ({"GOOGLE_ADS_DEVELOPER_TOKEN_FILE": "/nonexistent/t"}, "GOOGLE_ADS_DEVELOPER_TOKEN_FILE"),
        ({"META_LOGIN_CONFIG_ID": "my-config"}, "META_LOGIN_CONFIG_ID"),
    ],
)
def test_it_refuses_a_bad_production_setting_naming_the_variable(tmp_path, change, variable):
    env = {**PROD, **change}
    env = {
        k: v
        for k, v in env.items()
        if v != "" or k not in ("SECRET_KEY", "LATCHKEY_ENCRYPTION_KEYS", "LATCHKEY_AUDIT_KEYS")
    }
    with pytest.raises(ConfigError) as excinfo:
        load_config(str(tmp_path), env)
    assert variable in str(excinfo.value)


def test_it_generates_development_secrets_once_into_the_instance_folder(tmp_path):
    first = load_config(str(tmp_path), {})
    second = load_config(str(tmp_path), {})
    assert first["SECRET_KEY"] == second["SECRET_KEY"]
    assert first["LATCHKEY_ENCRYPTION_KEYS"] == second["LATCHKEY_ENCRYPTION_KEYS"]
    assert first["LATCHKEY_AUDIT_KEYS"] == second["LATCHKEY_AUDIT_KEYS"]
    assert len(first["LATCHKEY_AUDIT_KEYS"][0]) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
    assert (tmp_path / "audit_keys").stat().st_mode & 0o077 == 0
    assert first["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
    assert first["LATCHKEY_SANDBOX"] is True
    assert first["REDIS_URL"] is None


def test_it_reads_secrets_from_files(tmp_path):
    secret_file = tmp_path / "sk"
    secret_file.write_text("f" * 40 + "\n")
    config = load_config(
        str(tmp_path), {**PROD, "SECRET_KEY": "", "SECRET_KEY_FILE": str(secret_file)}
    )
    assert config["SECRET_KEY"] == "f" * 40


def test_it_reads_the_platform_settings_beyond_the_oauth_client(tmp_path):
    token_file = tmp_path / "ads_token"
    token_file.write_text("ABcdeFGH93KL-NOPQ_STUv\n")
    config = load_config(
        str(tmp_path),
        {
            **PROD,
            "GOOGLE_ADS_DEVELOPER_TOKEN_FILE": str(token_file),
            "META_LOGIN_CONFIG_ID": "1234567890123456",
        },
    )
    assert config["GOOGLE_ADS_DEVELOPER_TOKEN"] == "ABcdeFGH93KL-NOPQ_STUv"
    assert config["META_LOGIN_CONFIG_ID"] == "1234567890123456"

    unset = load_config(str(tmp_path), PROD)
    assert unset["GOOGLE_ADS_DEVELOPER_TOKEN"] is None
    assert unset["META_LOGIN_CONFIG_ID"] is None


def test_it_accepts_several_encryption_keys(tmp_path):
    other = Fernet.generate_key().decode()
    config = load_config(
        str(tmp_path), {**PROD, "LATCHKEY_ENCRYPTION_KEYS": f"{GOOD_KEY}, {other}"}
    )
    assert config["LATCHKEY_ENCRYPTION_KEYS"] == [GOOD_KEY, other]


def test_it_accepts_several_audit_keys_the_first_signs(tmp_path):
    new, old = "new-audit-key-" + "n" * 30, "old-audit-key-" + "o" * 30
    config = load_config(str(tmp_path), {**PROD, "LATCHKEY_AUDIT_KEYS": f"{new}, {old}"})
    assert config["LATCHKEY_AUDIT_KEYS"] == [new, old]


def test_it_normalises_a_plain_postgresql_url(tmp_path):
    config = load_config(str(tmp_path), {**PROD, "DATABASE_URL": "postgresql://u@db/x"})
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@db/x"


def test_create_app_refuses_production_with_the_sandbox(tmp_path, monkeypatch):
    monkeypatch.setenv("LATCHKEY_INSTANCE_PATH", str(tmp_path))
    with pytest.raises(ConfigError, match="LATCHKEY_SANDBOX"):
        create_app({"ENV": {**PROD, "LATCHKEY_SANDBOX": "1"}})


def test_create_app_starts_in_production_without_the_sandbox_routes(tmp_path, monkeypatch):
    monkeypatch.setenv("LATCHKEY_INSTANCE_PATH", str(tmp_path))
    app = create_app({"ENV": PROD})
    assert not any(rule.rule.startswith("/sandbox") for rule in app.url_map.iter_rules())
    assert app.config["SESSION_COOKIE_SECURE"]
