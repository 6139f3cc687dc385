"""The Pinterest Tag: checked from the agency's side, through the ad account.

A tag that fired in the last 7 days (`last_fired_time_ms`), or the ad account's
page-visit events (`GET /ad_accounts/{id}/conversion_tags/page_visit`; there
is no per-tag page-visit operation), mean it works.
"""

from __future__ import annotations

import time

import pytest
from helpers_pinterest import CAMPAIGNS, Stub, first_ad_account, persona_token, point_api_at

from portal import platforms
from portal.sandbox import core


@pytest.fixture
def connector(live_server):
    return platforms.get("pinterest")


@pytest.fixture
def agency_token(live_server):
    return core.sandbox_token("pinterest", "business", name="Northwind Agency")


@pytest.fixture
def agency_identity(connector, agency_token):
    return connector.agency_identity(agency_token)


@pytest.fixture
def stub():
    server = Stub()
    yield server
    server.server.shutdown()
    server.server.server_close()


def test_it_verifies_the_tag_from_the_agency_side(connector, agency_token, agency_identity):
    client = persona_token("business")
    with_tag, without_tag = connector.list_assets(client, ["AD_ACCOUNT"])["AD_ACCOUNT"]
    for account in (with_tag, without_tag):
        connector.grant(client, agency_token, agency_identity, account, ["ANALYST"])

    installed = connector.verify(agency_token, agency_identity, "TAG", with_tag.id, [], {})
    absent = connector.verify(agency_token, agency_identity, "TAG", without_tag.id, [], {})

    assert installed.status == "verified"
    assert absent.status == "missing" and "no Pinterest Tag" in absent.message


def test_it_verifies_a_tag_from_the_accounts_page_visits(connector, agency_token, agency_identity):
    """Without a recent `last_fired_time_ms`, the account-level page-visit events
    (GET /ad_accounts/{id}/conversion_tags/page_visit) show the tag works."""
    client = persona_token("business")
    account = first_ad_account(connector, client)
    connector.grant(client, agency_token, agency_identity, account, ["ANALYST"])

    def forget_last_fired(world):
        for tag in world["conversion_tags"]:
            tag["last_fired_time_ms"] = None

    core.update_world("pinterest", client["sandbox_world_id"], forget_last_fired)
    check = connector.verify(agency_token, agency_identity, "TAG", account.id, [], {})

    assert check.status == "verified"


def test_it_waits_when_pinterest_has_no_page_visits_to_show(connector, app, monkeypatch, stub):
    stale = int(time.time() * 1000) - 30 * 86400 * 1000
    tag = {"id": "77", "ad_account_id": "42", "name": "Tag", "last_fired_time_ms": stale}
    stub.answers.append((200, {}, {"items": [tag]}))
    stub.answers.append((404, {}, {"code": 404, "message": "Not found."}))
    point_api_at(app, monkeypatch, stub.url + "/v5")

    check = connector.verify({"access_token": "pina_x"}, {}, "TAG", "42", [], {})

    assert check.status == "pending" and "7 days" in check.message
    assert [path.split("?")[0] for _m, path, _h in stub.seen] == [
        "/v5/ad_accounts/42/conversion_tags",
        "/v5/ad_accounts/42/conversion_tags/page_visit",
    ]


def test_it_waits_for_a_tag_that_has_not_fired(connector, agency_token, agency_identity):
    client = persona_token("business", tag_fired=False)
    account = first_ad_account(connector, client)
    connector.grant(client, agency_token, agency_identity, account, ["ANALYST"])

    check = connector.verify(agency_token, agency_identity, "TAG", account.id, [], {})

    assert check.status == "pending" and "7 days" in check.message


def test_it_cannot_check_a_tag_on_an_ad_account_it_was_not_given(
    connector, agency_token, agency_identity
):
    account = first_ad_account(connector, persona_token("business"))

    check = connector.verify(agency_token, agency_identity, "TAG", account.id, [], {})

    assert check.status == "missing"
    assert "Share the ad account with the agency" in check.message


def test_it_gives_manual_steps_for_the_tag_and_for_billing(connector):
    (tag,) = connector.manual_steps("TAG", ["VERIFY_TAG"])
    (billing,) = connector.manual_steps("AD_ACCOUNT", ["ANALYST", "FINANCE_VIEW"])

    assert tag.link.startswith("https://ads.pinterest.com")
    assert any("private browser window" in str(step) for step in tag.steps)
    assert any("cookie banner" in str(step) for step in tag.steps)
    assert "billing" in str(billing.title).lower()
    assert any("payment method" in str(step) for step in billing.steps)
    assert any("Finance viewer" in str(step) for step in billing.steps)
    assert connector.manual_steps("AD_ACCOUNT", CAMPAIGNS) == []
    assert connector.asset_type("TAG").manual
