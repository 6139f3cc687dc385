"""The audit chain is keyed and anchored (issue 15, finding 10).

Before: deleting the newest events went unnoticed (`audit verify` said ok),
and the hashes were plain SHA-256, so anyone who could write to the database
could rebuild the whole chain. Now new events are HMAC-SHA256 under
LATCHKEY_AUDIT_KEYS, the chain has a signed head, a periodic checkpoint, and
anchors (length and head hash) in each PDF and each webhook, which
`latchkey audit verify [--anchor LENGTH:HEAD]` checks.
"""

from __future__ import annotations

import hashlib
import io

import pytest
from flask import current_app
from helpers_requests import fake_connection, make_request
from pypdf import PdfReader
from sqlalchemy import select, text
from standardwebhooks import Webhook

from portal import audit
from portal.audit import checkpoints, keys
from portal.audit.hashing import _canonical, _digest_v2, _digest_v3, _frame
from portal.extensions import db
from portal.models import AuditChainHead, AuditCheckpoint, AuditEvent
from portal.reports import render_report
from portal.services.requests import revoke_request
from portal.webhooks import service

OTHER_KEY = "a-second-audit-key-for-rotation-0123456789"


def _events(agency, n: int) -> None:
    for i in range(n):
        audit.record("test.event", agency_id=agency.id, details={"i": i})
    db.session.commit()


def _chain(agency) -> list[AuditEvent]:
    db.session.expire_all()
    return list(
        db.session.execute(
            select(AuditEvent).where(AuditEvent.agency_id == agency.id).order_by(AuditEvent.seq)
        ).scalars()
    )


def _delete_newest(agency, n: int) -> None:
    db.session.execute(
        text(
            "DELETE FROM audit_event WHERE agency_id = :a AND seq > "
            "(SELECT MAX(seq) FROM audit_event WHERE agency_id = :a) - :n"
        ),
        {"a": agency.id, "n": n},
    )
    db.session.commit()


def _verify(runner, agency, *extra: str):
    return runner.invoke(args=["audit", "verify", "--agency", agency.slug, *extra])


def _head_row(agency) -> dict:
    row = db.session.execute(
        select(AuditChainHead.__table__).where(AuditChainHead.chain == agency.id)
    ).one()
    return dict(row._mapping)


def _restore_head(agency, saved: dict) -> None:
    """What an attacker can do: put back a head row copied earlier (its MAC was valid then)."""
    db.session.execute(
        text(
            "UPDATE audit_chain_head SET seq = :seq, hash = :hash, key_id = :key_id, mac = :mac "
            "WHERE chain = :chain"
        ),
        saved,
    )
    db.session.commit()


# ------------------------------------------------------------------ keyed


def test_new_events_are_hmac_signed_not_plain_sha256(app, agency):
    _events(agency, 2)
    event = _chain(agency)[-1]
    kid, key = keys.signing_key()
    assert (event.hash_version, event.key_id) == (3, kid)
    assert event.hash == _digest_v3(event, key)
    assert event.hash != _digest_v2(event)
    plain = {"v": 3, **_frame(event), "kid": kid, "fields": {}}
    assert event.hash != hashlib.sha256(_canonical(plain)).hexdigest()
    assert app.config["LATCHKEY_AUDIT_KEYS"][0] not in str(event.details)


def test_a_chain_rebuilt_without_the_key_is_refused(agency, runner):
    _events(agency, 4)
    # The attacker edits event 2 and recomputes every hash from there, as the
    # unkeyed version 2 did (all they can do without the key).
    prev = None
    for event in _chain(agency):
        if event.seq == 2:
            event.action = "sneaky.change"
        if event.seq >= 2:
            event.prev_hash = prev
            event.hash_version, event.key_id = 2, None
            event.hash = _digest_v2(event)
        prev = event.hash
    db.session.commit()

    result = audit.verify_chain(agency.id)
    assert not result.ok
    assert result.reason == "unkeyed event after keyed ones"

    # Rebuilt with a key of their own instead: not a key the chain knows.
    for event in _chain(agency):
        if event.seq >= 2:
            event.hash_version, event.key_id = 3, keys.key_id("attacker-key-" + "x" * 32)
            event.hash = _digest_v3(event, b"attacker-key-" + b"x" * 32)
    db.session.commit()
    answer = _verify(runner, agency)
    assert answer.exit_code == 1
    assert "which LATCHKEY_AUDIT_KEYS lacks" in answer.output


def test_keys_rotate_the_first_signs_and_all_verify(app, agency, monkeypatch, runner):
    _events(agency, 2)
    first = list(app.config["LATCHKEY_AUDIT_KEYS"])
    monkeypatch.setitem(app.config, "LATCHKEY_AUDIT_KEYS", [OTHER_KEY, *first])
    _events(agency, 2)
    chain = _chain(agency)
    assert chain[-1].key_id == keys.key_id(OTHER_KEY)
    assert chain[0].key_id == keys.key_id(first[0])
    assert _verify(runner, agency).output.strip() == f"ok {len(chain)} events"

    # Dropping a key that signed events leaves them unverifiable: it is reported.
    monkeypatch.setitem(app.config, "LATCHKEY_AUDIT_KEYS", [OTHER_KEY])
    answer = _verify(runner, agency)
    assert answer.exit_code == 1
    assert f"signed with audit key {keys.key_id(first[0])}" in answer.output


def test_unkeyed_events_of_earlier_releases_still_verify_then_get_keyed_ones(agency, runner):
    _events(agency, 2)
    # As a database of an earlier release holds it: version 2, no head row.
    prev = audit.GENESIS
    for event in _chain(agency):
        event.hash_version, event.key_id, event.prev_hash = 2, None, prev
        event.hash = _digest_v2(event)
        prev = event.hash
    db.session.execute(text("DELETE FROM audit_chain_head WHERE chain = :a"), {"a": agency.id})
    db.session.commit()
    assert _verify(runner, agency).output.strip() == "ok 3 events"

    _events(agency, 1)  # the first keyed event seals what came before
    chain = _chain(agency)
    assert [e.hash_version for e in chain] == [2, 2, 2, 3]
    assert _verify(runner, agency).output.strip() == "ok 4 events"


# --------------------------------------------------------------- truncation


def test_deleting_the_newest_events_is_reported(agency, runner):
    _events(agency, 5)
    assert _verify(runner, agency).output.strip() == "ok 6 events"

    _delete_newest(agency, 2)

    answer = _verify(runner, agency)
    assert answer.exit_code == 1
    assert "broken after 4 good events" in answer.output
    assert "the newest events were deleted" in answer.output


def test_a_forged_or_missing_head_is_reported(agency):
    _events(agency, 3)
    _delete_newest(agency, 1)
    last = _chain(agency)[-1]
    db.session.execute(
        text("UPDATE audit_chain_head SET seq = :s, hash = :h WHERE chain = :a"),
        {"s": last.seq, "h": last.hash, "a": agency.id},
    )
    db.session.commit()
    assert audit.verify_chain(agency.id).reason == "the chain's head record was changed"

    db.session.execute(text("DELETE FROM audit_chain_head WHERE chain = :a"), {"a": agency.id})
    db.session.commit()
    assert audit.verify_chain(agency.id).reason == "the chain's head record is missing"


def test_the_latest_checkpoint_catches_a_truncation_the_head_no_longer_shows(agency, runner):
    _events(agency, 2)
    earlier_head = _head_row(agency)  # copied by someone with database access
    _events(agency, 3)
    assert checkpoints.checkpoint_all() == 1
    mark = db.session.execute(select(AuditCheckpoint)).scalar_one()
    assert (mark.seq, mark.hash) == (6, _chain(agency)[-1].hash)

    # Back to the copied head: the head agrees with the shortened chain...
    _delete_newest(agency, 3)
    _restore_head(agency, earlier_head)
    # ...but the checkpoint does not.
    answer = _verify(runner, agency)
    assert answer.exit_code == 1
    assert "the chain ends at event #3 but the checkpoint of" in answer.output
    assert "says it had 6" in answer.output

    # A changed checkpoint is reported too.
    db.session.execute(text("UPDATE audit_checkpoint SET seq = 3, hash = :h"), {"h": "0" * 64})
    db.session.commit()
    assert "was changed" in _verify(runner, agency).output


def test_the_checkpoint_job_writes_only_when_the_chain_grew_and_verifies(agency, outsider):
    from worker.audit_jobs import checkpoint_audit_chains

    _events(agency, 2)
    assert checkpoint_audit_chains() == "2 checkpoints written"  # both agencies
    assert checkpoint_audit_chains() == "0 checkpoints written"
    _events(agency, 1)
    assert checkpoints.checkpoint_all() == 1
    rows = db.session.execute(
        select(AuditCheckpoint).where(AuditCheckpoint.agency_id == agency.id)
    ).scalars()
    assert [r.seq for r in rows] == [3, 4]

    # A chain that does not verify since the last checkpoint gets none.
    _events(agency, 1)
    db.session.execute(
        text("UPDATE audit_event SET action = 'sneaky' WHERE agency_id = :a AND seq = 5"),
        {"a": agency.id},
    )
    db.session.commit()
    assert checkpoints.checkpoint(agency.id) is None


def test_an_anchor_from_outside_catches_what_the_database_alone_cannot(agency, runner):
    _events(agency, 2)
    earlier_head = _head_row(agency)
    _events(agency, 2)
    anchor = audit.current_anchor(agency.id)
    assert (anchor.length, anchor.head) == (5, _chain(agency)[-1].hash)

    # Full database access: truncate, put back an old head, drop checkpoints.
    _delete_newest(agency, 2)
    _restore_head(agency, earlier_head)
    db.session.execute(text("DELETE FROM audit_checkpoint"))
    db.session.commit()
    assert _verify(runner, agency).output.strip() == "ok 3 events"

    answer = _verify(runner, agency, "--anchor", str(anchor))
    assert answer.exit_code == 1
    assert "the anchor given says it had 5: the newest events were deleted" in answer.output

    wrong = audit.Anchor(3, "f" * 64)
    answer = _verify(runner, agency, "--anchor", str(wrong))
    assert answer.exit_code == 1
    assert "event #3 does not match the anchor given" in answer.output
    good = audit.Anchor(3, _chain(agency)[-1].hash)
    assert _verify(runner, agency, "--anchor", str(good)).output.strip() == "ok 3 events"


@pytest.mark.parametrize("value", ["12", "x:abc", "3:" + "g" * 64, "3:" + "a" * 63])
def test_a_malformed_anchor_is_a_usage_error(agency, runner, value):
    answer = _verify(runner, agency, "--anchor", value)
    assert answer.exit_code == 2
    assert "expected LENGTH:HEAD" in answer.output


# ------------------------------------------------------ anchors going out


def test_each_webhook_carries_the_chains_length_and_head(
    agency, owner, receiver, rq_worker, needs_redis
):
    fake_connection(agency)
    _endpoint, secret = service.create_endpoint(agency.id, receiver.url, ["*"], "CRM", None)
    access_request, _token = make_request(agency, owner)
    revoke_request(access_request)
    rq_worker()

    [got] = receiver.received
    headers = got["headers"]
    Webhook(secret).verify(got["body"], headers)  # Standard Webhooks unchanged
    length = int(headers["latchkey-audit-length"])
    assert length >= 1
    chain = {e.seq: e.hash for e in _chain(agency)}
    assert headers["latchkey-audit-head"] == chain[length]
    anchor = f"{length}:{headers['latchkey-audit-head']}"
    runner = current_app.test_cli_runner()
    assert _verify(runner, agency, "--anchor", anchor).exit_code == 0


@pytest.fixture
def receiver():
    from test_api_support import running_receiver

    yield from running_receiver()


def test_the_pdf_prints_the_chains_anchor(agency, owner, runner):
    fake_connection(agency)
    access_request, _token = make_request(agency, owner)
    _events(agency, 1)
    head = audit.current_anchor(agency.id)
    reader = PdfReader(io.BytesIO(render_report(access_request.id)))
    content = "".join("".join(page.extract_text().split()) for page in reader.pages)
    assert f"Anchor:{head.length}:{head.head}" in content

    _delete_newest(agency, 1)
    _restore_head(agency, {**_head_row(agency), "seq": head.length - 1})
    assert _verify(runner, agency, "--anchor", str(head)).exit_code == 1


def test_the_audit_page_says_when_the_newest_events_were_deleted(client, auth, agency, owner):
    _events(agency, 3)
    auth.login(owner)
    assert "none changed or removed" in client.get("/app/audit/chain").get_data(as_text=True)

    _delete_newest(agency, 2)

    page = client.get("/app/audit/chain").get_data(as_text=True)
    assert "The log was tampered with:" in page
    assert "the newest events were deleted" in page
    assert "event None" not in page
