"""Secrets at rest: encrypted with the first key, readable with any, rotatable."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from helpers_requests import fake_connection, make_request

from portal import crypto
from portal.extensions import db
from portal.models import AccessRequest, AgencyConnection


@pytest.fixture
def keys(app, monkeypatch):
    """Set LATCHKEY_ENCRYPTION_KEYS for one test (restored afterwards)."""

    def use(*values: str) -> None:
        monkeypatch.setitem(app.config, "LATCHKEY_ENCRYPTION_KEYS", list(values))

    return use


def test_it_round_trips_a_secret():
    ciphertext = crypto.encrypt("pina_secret-token")
    assert "pina_secret-token" not in ciphertext
    assert crypto.decrypt(ciphertext) == "pina_secret-token"


def test_it_makes_256_bit_tokens_and_stores_only_their_hash():
    token = crypto.new_token()
    assert len(token) >= 43  # 32 random bytes, url-safe base64
    assert crypto.token_hash(token) != token
    assert len(crypto.token_hash(token)) == 64
    assert crypto.new_token() != token


def test_it_decrypts_with_an_old_key_and_encrypts_with_the_first(keys):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    keys(old)
    under_old = crypto.encrypt("secret")
    keys(new, old)
    assert crypto.decrypt(under_old) == "secret"
    under_new = crypto.encrypt("secret")
    assert Fernet(new.encode()).decrypt(under_new.encode()) == b"secret"
    keys(new)
    with pytest.raises(crypto.InvalidToken):
        crypto.decrypt(under_old)


def test_it_rotates_every_stored_secret_under_the_first_key(keys, agency, owner, runner):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    keys(old)
    fake_connection(agency)
    access_request, token = make_request(agency, owner)
    owner.totp_secret = crypto.encrypt("JBSWY3DPEHPK3PXP")
    db.session.commit()

    keys(new, old)
    result = runner.invoke(args=["keys", "rotate"])
    assert result.exit_code == 0, result.output
    assert "re-encrypted 4 secrets" in result.output

    # The old key can now go: everything still decrypts.
    keys(new)
    db.session.expire_all()
    connection = db.session.execute(db.select(AgencyConnection)).scalar_one()
    assert crypto.decrypt(connection.access_token_encrypted) == "agency-access-token"
    assert crypto.decrypt(connection.refresh_token_encrypted) == "agency-refresh-token"
    assert crypto.decrypt(db.session.get(AccessRequest, access_request.id).token_encrypted) == token
    assert crypto.decrypt(owner.totp_secret) == "JBSWY3DPEHPK3PXP"
