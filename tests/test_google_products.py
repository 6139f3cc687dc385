"""Each Google product through the real connector, over real HTTP, against the
emulated Google: list, grant, verify (before and after), revoke, and each
persona's obstacle where the product has one.
"""

from __future__ import annotations

import pytest

from portal import platforms
from portal.platforms.base import Asset, PlatformError
from portal.sandbox import core
from portal.sandbox.google import ads as sandbox_ads
from portal.sandbox.google import search_console as sandbox_sc

VIEWER = "predefinedRoles/viewer"
EDITOR = "predefinedRoles/editor"
ADMIN = "predefinedRoles/admin"


@pytest.fixture
def connector(live_server):
    return platforms.get("google")


@pytest.fixture
def agency_token(live_server):
    return core.sandbox_token("google", "business", name="Northwind Agency")


@pytest.fixture
def agency_identity(connector, agency_token):
    return connector.agency_identity(agency_token)


def persona_token(persona: str = "business", **options):
    return core.sandbox_token("google", persona, **options)


def first(connector, token, asset_type: str) -> Asset:
    return connector.list_assets(token, [asset_type])[asset_type][0]


def check(connector, agency_token, identity, asset: Asset, permissions, external=None):
    return connector.verify(
        agency_token, identity, asset.type, asset.id, permissions, external or {}
    )


# ------------------------------------------------------------------ Google Ads


def test_ads_lists_the_clients_ad_accounts_but_not_its_manager_account(connector):
    accounts = connector.list_assets(persona_token(), ["ADS_ACCOUNT"])["ADS_ACCOUNT"]

    assert [a.name for a in accounts] == [
        "Juniper Home Goods - Search",
        "Juniper Home Goods - Shopping",
    ]
    assert accounts[0].details["customer_id"].count("-") == 2
    assert accounts[1].details["currency"] == "EUR"


def test_ads_links_the_agencys_manager_account_and_the_manager_then_sees_it(
    connector, agency_token, agency_identity
):
    client = persona_token()
    account = first(connector, client, "ADS_ACCOUNT")
    assert check(connector, agency_token, agency_identity, account, ["MANAGER_LINK"]).status == (
        "missing"
    )

    result = connector.grant(client, agency_token, agency_identity, account, ["MANAGER_LINK"])

    assert result.status == "granted", result
    assert result.external["method"] == "manager_link" and result.external["manager_link_id"]
    assert result.external["manager_id"] == agency_identity["manager_id"]
    verified = check(connector, agency_token, agency_identity, account, ["MANAGER_LINK"])
    assert (verified.status, verified.permissions) == ("verified", ("MANAGER_LINK",))
    again = connector.grant(client, agency_token, agency_identity, account, ["MANAGER_LINK"])
    assert (again.status, again.external["method"]) == ("granted", "already_linked")


def test_ads_revoke_ends_the_link_and_the_manager_no_longer_sees_it(
    connector, agency_token, agency_identity
):
    client = persona_token()
    account = first(connector, client, "ADS_ACCOUNT")
    result = connector.grant(client, agency_token, agency_identity, account, ["MANAGER_LINK"])

    assert connector.revoke(
        agency_token, agency_identity, "ADS_ACCOUNT", account.id, result.external
    )

    assert check(connector, agency_token, agency_identity, account, ["MANAGER_LINK"]).status == (
        "missing"
    )
    # Removing what is already gone is not an error (jobs may run twice).
    assert connector.revoke(agency_token, agency_identity, "ADS_ACCOUNT", account.id, {})
    # And the link can be made again afterwards.
    renewed = connector.grant(client, agency_token, agency_identity, account, ["MANAGER_LINK"])
    assert renewed.status == "granted" and renewed.external["method"] == "manager_link"


def test_ads_says_who_must_accept_a_link_request_and_when_it_was_declined(
    connector, agency_token, agency_identity
):
    client = persona_token("fails_mid_grant")
    account = first(connector, client, "ADS_ACCOUNT")

    failed = connector.grant(client, agency_token, agency_identity, account, ["MANAGER_LINK"])

    # The agency's request went out; accepting it failed on Google's side.
    assert failed.status == "failed" and failed.retryable
    assert failed.external["error_code"] == "platform_unavailable"
    waiting = check(connector, agency_token, agency_identity, account, ["MANAGER_LINK"])
    assert waiting.status == "pending"
    assert "administrator of Google Ads account" in waiting.message
    assert "Access and security" in waiting.message

    retried = connector.grant(client, agency_token, agency_identity, account, ["MANAGER_LINK"])
    assert retried.status == "granted"
    assert retried.external["manager_link_id"] == failed.external["manager_link_id"]
    assert check(connector, agency_token, agency_identity, account, ["MANAGER_LINK"]).status == (
        "verified"
    )

    sandbox_ads.set_link_status(account.id, agency_identity["manager_id"], "INACTIVE")
    other = first(connector, persona_token(), "ADS_ACCOUNT")
    connector.grant(persona_token(), agency_token, agency_identity, other, ["MANAGER_LINK"])
    assert check(connector, agency_token, agency_identity, account, ["MANAGER_LINK"]).status == (
        "missing"
    )


def test_ads_explains_a_refused_link_request(connector, agency_token, agency_identity):
    client = persona_token("fails_mid_grant")
    account = first(connector, client, "ADS_ACCOUNT")
    connector.grant(client, agency_token, agency_identity, account, ["MANAGER_LINK"])
    sandbox_ads.set_link_status(account.id, agency_identity["manager_id"], "REFUSED")

    refused = check(connector, agency_token, agency_identity, account, ["MANAGER_LINK"])

    assert refused.status == "missing" and "declined" in refused.message


def test_ads_explains_that_only_an_administrator_can_accept(
    connector, agency_token, agency_identity
):
    client = persona_token("not_admin")
    account = first(connector, client, "ADS_ACCOUNT")

    result = connector.grant(client, agency_token, agency_identity, account, ["MANAGER_LINK"])

    assert result.status == "failed" and not result.retryable
    assert result.external["error_code"] == "not_admin"
    assert "administrator" in result.error and "Access and security" in result.fix
    assert "NON_OWNER_USER_CANNOT_MODIFY_LINK" not in result.error
    assert "400" in result.external["detail"]


def test_ads_explains_two_step_verification(connector, agency_token, agency_identity):
    client = persona_token("two_factor_off")

    # Google Ads says nothing more until 2-Step Verification is on: the accounts
    # are listed by number so the other products can still be shared.
    listed = connector.list_assets(client, ["ADS_ACCOUNT", "GA4_PROPERTY"])
    account = listed["ADS_ACCOUNT"][1]
    result = connector.grant(client, agency_token, agency_identity, account, ["MANAGER_LINK"])
    analytics = connector.grant(
        client, agency_token, agency_identity, listed["GA4_PROPERTY"][0], [VIEWER]
    )

    assert account.name.startswith("Google Ads account ")
    assert account.details["two_step_verification_required"] is True
    assert result.status == "failed" and result.external["error_code"] == "two_factor_off"
    assert "2-Step Verification" in result.error and "sign in to Google again" in result.fix
    assert analytics.status == "granted"


def sandbox_accounts(token) -> list[str]:
    return [c["id"] for c in core.world_data("google", token["sandbox_world_id"])["ads"]]


def test_ads_needs_the_agencys_manager_account(connector, agency_token, agency_identity):
    client = persona_token()
    account = first(connector, client, "ADS_ACCOUNT")
    without = {**agency_identity, "manager_id": ""}

    result = connector.grant(client, agency_token, without, account, ["MANAGER_LINK"])
    itself = connector.grant(
        client,
        agency_token,
        agency_identity,
        Asset(agency_identity["manager_id"], "Agency", "ADS_ACCOUNT"),
        ["MANAGER_LINK"],
    )

    assert result.status == "failed" and result.external["error_code"] == "no_manager_account"
    assert "manager account" in result.fix
    assert itself.external["error_code"] == "same_account"


def test_ads_honours_a_manager_id_set_in_the_agencys_settings(
    connector, agency_token, agency_identity
):
    client = persona_token()
    account = first(connector, client, "ADS_ACCOUNT")
    settings = {
        **agency_identity,
        "manager_id": "",
        "google_ads": {"manager_id": agency_identity["manager_id"]},
    }

    result = connector.grant(client, agency_token, settings, account, ["MANAGER_LINK"])

    assert result.status == "granted"
    assert result.external["manager_id"] == agency_identity["manager_id"]
    # A manager account the agency's Google account cannot use is the agency's to fix.
    foreign = {**agency_identity, "manager_id": sandbox_accounts(persona_token())[0]}
    other = connector.grant(client, agency_token, foreign, account, ["MANAGER_LINK"])
    assert other.status == "failed" and other.external["error_code"] == "agency_not_manager"
    assert "Let the agency know" in other.fix


# --------------------------------------------------------- Google Analytics 4


def test_analytics_lists_properties_and_accounts(connector):
    assets = connector.list_assets(persona_token(), ["GA4_PROPERTY", "GA4_ACCOUNT"])

    properties, (account,) = assets["GA4_PROPERTY"], assets["GA4_ACCOUNT"]
    assert [p.name for p in properties][1] == "Juniper Home Goods app"
    assert properties[0].name.endswith(" - GA4")
    assert properties[0].details["account_id"] == account.id
    assert (account.name, account.details["properties"]) == ("Juniper Home Goods", 2)


def test_analytics_adds_a_binding_the_agency_then_sees(connector, agency_token, agency_identity):
    client = persona_token()
    prop = first(connector, client, "GA4_PROPERTY")
    assert check(connector, agency_token, agency_identity, prop, [VIEWER]).status == "missing"

    result = connector.grant(client, agency_token, agency_identity, prop, [VIEWER])

    assert result.status == "granted", result
    assert result.external["roles"] == [VIEWER]
    assert result.external["binding"].startswith(f"properties/{prop.id}/accessBindings/")
    assert result.external["email"] == agency_identity["email"]
    verified = check(connector, agency_token, agency_identity, prop, [VIEWER], result.external)
    assert (verified.status, verified.permissions) == ("verified", (VIEWER,))
    short = check(connector, agency_token, agency_identity, prop, [EDITOR], result.external)
    assert short.status == "insufficient" and "Viewer" in short.message


def test_analytics_reads_the_exact_role_when_the_agency_is_an_administrator(
    connector, agency_token, agency_identity
):
    client = persona_token()
    account = first(connector, client, "GA4_ACCOUNT")
    prop = first(connector, client, "GA4_PROPERTY")

    result = connector.grant(client, agency_token, agency_identity, account, [ADMIN])

    assert result.status == "granted"
    # Read from the account's own bindings (no grant details given).
    assert check(connector, agency_token, agency_identity, account, [ADMIN]).status == "verified"
    assert check(connector, agency_token, agency_identity, prop, [EDITOR]).status == "verified"


def test_analytics_raises_an_existing_role_and_never_lowers_it(
    connector, agency_token, agency_identity
):
    client = persona_token()
    prop = first(connector, client, "GA4_PROPERTY")
    connector.grant(client, agency_token, agency_identity, prop, [VIEWER])

    raised = connector.grant(client, agency_token, agency_identity, prop, [EDITOR, VIEWER])
    kept = connector.grant(client, agency_token, agency_identity, prop, [VIEWER])

    assert raised.status == "granted" and raised.external["roles"] == [EDITOR]
    assert kept.status == "granted" and kept.external["roles"] == [EDITOR]
    assert check(
        connector, agency_token, agency_identity, prop, [EDITOR], kept.external
    ).status == ("verified")


def test_analytics_explains_that_only_an_administrator_can_add_people(
    connector, agency_token, agency_identity
):
    client = persona_token("not_admin")
    prop = first(connector, client, "GA4_PROPERTY")

    result = connector.grant(client, agency_token, agency_identity, prop, [VIEWER])

    assert result.status == "failed" and result.external["error_code"] == "not_admin"
    assert prop.name in result.error and "Administrator" in result.fix


def test_analytics_revoke_needs_an_administrator_and_then_removes_the_binding(
    connector, agency_token, agency_identity
):
    client = persona_token()
    viewer_prop, admin_prop = connector.list_assets(client, ["GA4_PROPERTY"])["GA4_PROPERTY"]
    connector.grant(client, agency_token, agency_identity, viewer_prop, [VIEWER])
    connector.grant(client, agency_token, agency_identity, admin_prop, [ADMIN])

    with pytest.raises(PlatformError) as refused:
        connector.revoke(agency_token, agency_identity, "GA4_PROPERTY", viewer_prop.id, {})
    assert connector.revoke(agency_token, agency_identity, "GA4_PROPERTY", admin_prop.id, {})

    assert refused.value.code == "revoke_refused"
    assert (
        agency_identity["email"] in refused.value.fix and "Access management" in refused.value.fix
    )
    assert check(connector, agency_token, agency_identity, admin_prop, [ADMIN]).status == "missing"
    assert (
        connector.revoke(agency_token, agency_identity, "GA4_PROPERTY", admin_prop.id, {}) is True
    )


def test_analytics_fails_mid_grant_retryably_and_a_retry_works(
    connector, agency_token, agency_identity
):
    client = persona_token("fails_mid_grant")
    prop = first(connector, client, "GA4_PROPERTY")

    failed = connector.grant(client, agency_token, agency_identity, prop, [VIEWER])
    retried = connector.grant(client, agency_token, agency_identity, prop, [VIEWER])

    assert failed.status == "failed" and failed.retryable
    assert "Try again" in failed.fix
    assert retried.status == "granted"


# ---------------------------------------------------------------- Tag Manager


def test_tag_manager_lists_containers_and_accounts(connector):
    assets = connector.list_assets(
        persona_token(), ["TAG_MANAGER_CONTAINER", "TAG_MANAGER_ACCOUNT"]
    )

    web, server = assets["TAG_MANAGER_CONTAINER"]
    (account,) = assets["TAG_MANAGER_ACCOUNT"]
    assert web.id == f"accounts/{account.id}/containers/{web.id.rsplit('/', 1)[1]}"
    assert web.details["public_id"].startswith("GTM-") and web.details["public_id"] in web.name
    assert server.details["usage"] == ["server"]


def test_tag_manager_gives_container_access_and_keeps_what_the_agency_had(
    connector, agency_token, agency_identity
):
    client = persona_token()
    web, server = connector.list_assets(client, ["TAG_MANAGER_CONTAINER"])["TAG_MANAGER_CONTAINER"]
    assert check(connector, agency_token, agency_identity, web, ["edit"]).status == "missing"

    first_grant = connector.grant(client, agency_token, agency_identity, web, ["edit"])
    second = connector.grant(client, agency_token, agency_identity, server, ["read"])
    lower = connector.grant(client, agency_token, agency_identity, web, ["read"])

    assert [first_grant.status, second.status, lower.status] == ["granted"] * 3
    assert first_grant.external["user_permission"] == second.external["user_permission"]
    assert check(
        connector, agency_token, agency_identity, web, ["edit"], first_grant.external
    ).status == ("verified")
    assert check(
        connector, agency_token, agency_identity, server, ["read"], second.external
    ).status == ("verified")


def test_tag_manager_checks_the_exact_access_of_an_administrator(
    connector, agency_token, agency_identity
):
    client = persona_token()
    account = first(connector, client, "TAG_MANAGER_ACCOUNT")
    user = connector.grant(client, agency_token, agency_identity, account, ["user"])
    not_yet = check(connector, agency_token, agency_identity, account, ["admin"], user.external)

    admin = connector.grant(client, agency_token, agency_identity, account, ["admin"])

    assert not_yet.status == "insufficient" and "not an Administrator" in not_yet.message
    assert admin.status == "granted"
    assert check(connector, agency_token, agency_identity, account, ["admin"]).permissions == (
        "admin",
    )


def test_tag_manager_revoke_removes_one_container_or_explains_who_can(
    connector, agency_token, agency_identity
):
    client = persona_token()
    account = first(connector, client, "TAG_MANAGER_ACCOUNT")
    web, server = connector.list_assets(client, ["TAG_MANAGER_CONTAINER"])["TAG_MANAGER_CONTAINER"]
    connector.grant(client, agency_token, agency_identity, web, ["publish"])
    connector.grant(client, agency_token, agency_identity, server, ["read"])

    with pytest.raises(PlatformError) as refused:
        connector.revoke(agency_token, agency_identity, web.type, web.id, {})
    connector.grant(client, agency_token, agency_identity, account, ["admin"])
    assert connector.revoke(agency_token, agency_identity, web.type, web.id, {})

    assert refused.value.code == "revoke_refused" and "User Management" in refused.value.fix
    # An account administrator still sees every container, but no longer this access.
    gone = check(connector, agency_token, agency_identity, web, ["read"])
    assert gone.status == "insufficient" and gone.permissions == ()
    assert check(connector, agency_token, agency_identity, server, ["read"]).status == "verified"
    assert connector.revoke(agency_token, agency_identity, account.type, account.id, {})
    assert check(connector, agency_token, agency_identity, account, ["user"]).status == "missing"
    assert check(connector, agency_token, agency_identity, server, ["read"]).status == "missing"
    assert connector.revoke(agency_token, agency_identity, account.type, account.id, {})


def test_tag_manager_explains_that_only_an_administrator_can_give_access(
    connector, agency_token, agency_identity
):
    client = persona_token("not_admin")
    web = first(connector, client, "TAG_MANAGER_CONTAINER")

    result = connector.grant(client, agency_token, agency_identity, web, ["read"])

    assert result.status == "failed" and result.external["error_code"] == "not_admin"
    assert "User Management" in result.fix


# ------------------------------------------------------------ Merchant Center


def test_merchant_center_invites_and_verification_accepts_for_the_agency(
    connector, agency_token, agency_identity
):
    client = persona_token()
    account = first(connector, client, "MERCHANT_CENTER_ACCOUNT")
    assert account.name == "Juniper Home Goods shop"
    assert check(connector, agency_token, agency_identity, account, ["STANDARD"]).status == (
        "missing"
    )

    result = connector.grant(client, agency_token, agency_identity, account, ["STANDARD"])

    # Pending until the invited person accepts: Latchkey says so, it does not pretend.
    assert result.status == "pending"
    assert result.external["waiting_for"] == "agency_acceptance"
    assert result.external["state"] == "PENDING"
    assert agency_identity["email"] in result.external["user"]
    verified = check(connector, agency_token, agency_identity, account, ["STANDARD"])
    assert (verified.status, verified.permissions) == ("verified", ("STANDARD",))
    short = check(connector, agency_token, agency_identity, account, ["ADMIN"])
    assert short.status == "insufficient" and "Admin" in short.message


def test_merchant_center_adds_rights_to_an_existing_user(connector, agency_token, agency_identity):
    client = persona_token()
    account = first(connector, client, "MERCHANT_CENTER_ACCOUNT")
    connector.grant(client, agency_token, agency_identity, account, ["READ_ONLY"])
    check(connector, agency_token, agency_identity, account, ["READ_ONLY"])

    more = connector.grant(
        client, agency_token, agency_identity, account, ["STANDARD", "PERFORMANCE_REPORTING"]
    )

    assert more.status == "granted" and more.external["state"] == "VERIFIED"
    seen = check(connector, agency_token, agency_identity, account, ["STANDARD", "READ_ONLY"])
    assert seen.status == "verified"
    assert set(seen.permissions) == {"READ_ONLY", "STANDARD", "PERFORMANCE_REPORTING"}


def test_merchant_center_revoke_needs_admin_rights(connector, agency_token, agency_identity):
    client = persona_token()
    account = first(connector, client, "MERCHANT_CENTER_ACCOUNT")
    connector.grant(client, agency_token, agency_identity, account, ["STANDARD"])
    check(connector, agency_token, agency_identity, account, ["STANDARD"])

    with pytest.raises(PlatformError) as refused:
        connector.revoke(agency_token, agency_identity, account.type, account.id, {})
    connector.grant(client, agency_token, agency_identity, account, ["ADMIN"])
    removed = connector.revoke(agency_token, agency_identity, account.type, account.id, {})

    assert refused.value.code == "revoke_refused" and "People and access" in refused.value.fix
    assert removed is True
    assert check(connector, agency_token, agency_identity, account, ["ADMIN"]).status == "missing"


def test_merchant_center_explains_that_only_an_admin_can_add_people(
    connector, agency_token, agency_identity
):
    client = persona_token("not_admin")
    account = first(connector, client, "MERCHANT_CENTER_ACCOUNT")

    result = connector.grant(client, agency_token, agency_identity, account, ["STANDARD"])

    assert result.status == "failed" and result.external["error_code"] == "not_admin"


# ----------------------------------------------------------- Business Profile


def test_business_profile_lists_locations_with_their_address(connector):
    locations = connector.list_assets(persona_token(), ["BUSINESS_PROFILE_LOCATION"])[
        "BUSINESS_PROFILE_LOCATION"
    ]

    assert [loc.name for loc in locations] == [
        "Juniper Home Goods - Market Street",
        "Juniper Home Goods - River Road",
    ]
    assert locations[0].details["address"] == "12 Market Street, Portland, 97205"


def test_business_profile_invites_and_verification_accepts_the_invitation(
    connector, agency_token, agency_identity
):
    client = persona_token()
    location = first(connector, client, "BUSINESS_PROFILE_LOCATION")
    assert check(connector, agency_token, agency_identity, location, ["MANAGER"]).status == (
        "missing"
    )

    result = connector.grant(client, agency_token, agency_identity, location, ["MANAGER"])

    assert result.status == "pending" and result.external["waiting_for"] == "agency_acceptance"
    assert result.external["location_name"] == location.name
    verified = check(
        connector, agency_token, agency_identity, location, ["MANAGER"], result.external
    )
    assert (verified.status, verified.permissions) == ("verified", ("MANAGER",))
    owner = check(connector, agency_token, agency_identity, location, ["OWNER"], result.external)
    assert owner.status == "insufficient" and "Manager" in owner.message
    # Asking again once accepted changes nothing.
    again = connector.grant(client, agency_token, agency_identity, location, ["MANAGER"])
    assert again.status == "granted" and again.external["method"] == "already_admin"


def test_business_profile_waits_honestly_for_an_invitation_to_someone_else(
    connector, agency_token, agency_identity
):
    client = persona_token()
    location = first(connector, client, "BUSINESS_PROFILE_LOCATION")
    other = {**agency_identity, "email": "someone.else@northwind.example"}
    result = connector.grant(client, agency_token, other, location, ["MANAGER"])

    waiting = check(connector, agency_token, other, location, ["MANAGER"], result.external)

    assert result.status == "pending"
    assert waiting.status == "pending"
    assert "someone.else@northwind.example" in waiting.message


def test_business_profile_revoke_lets_the_agency_leave(connector, agency_token, agency_identity):
    client = persona_token()
    location = first(connector, client, "BUSINESS_PROFILE_LOCATION")
    result = connector.grant(client, agency_token, agency_identity, location, ["MANAGER"])
    check(connector, agency_token, agency_identity, location, ["MANAGER"], result.external)

    assert connector.revoke(
        agency_token, agency_identity, location.type, location.id, result.external
    )

    assert check(connector, agency_token, agency_identity, location, ["MANAGER"]).status == (
        "missing"
    )
    assert connector.revoke(agency_token, agency_identity, location.type, location.id, {})


def test_business_profile_revoke_declines_an_invitation_never_accepted(
    connector, agency_token, agency_identity
):
    client = persona_token()
    location = first(connector, client, "BUSINESS_PROFILE_LOCATION")
    result = connector.grant(client, agency_token, agency_identity, location, ["MANAGER"])

    assert connector.revoke(
        agency_token, agency_identity, location.type, location.id, result.external
    )

    after = check(connector, agency_token, agency_identity, location, ["MANAGER"], result.external)
    assert after.status == "pending"  # nothing left to accept: still not verified
    assert "not delivered" in after.message


def test_business_profile_explains_that_only_an_owner_can_add_people(
    connector, agency_token, agency_identity
):
    client = persona_token("not_admin")
    location = first(connector, client, "BUSINESS_PROFILE_LOCATION")

    result = connector.grant(client, agency_token, agency_identity, location, ["MANAGER"])

    assert result.status == "failed" and result.external["error_code"] == "not_admin"
    assert "owner" in result.error


# -------------------------------------------------------------- Search Console


def test_search_console_lists_owned_properties_and_has_no_api_to_grant(
    connector, agency_token, agency_identity
):
    client = persona_token()
    sites = connector.list_assets(client, ["SEARCH_CONSOLE_PROPERTY"])["SEARCH_CONSOLE_PROPERTY"]

    manual = connector.grant(client, agency_token, agency_identity, sites[0], ["siteFullUser"])

    assert sites[0].id.startswith("https://www.juniperhomegoods-")
    assert sites[1].id.startswith("sc-domain:") and "(whole domain)" in sites[1].name
    assert connector.asset_type("SEARCH_CONSOLE_PROPERTY").manual
    assert (manual.status, manual.external["error_code"]) == ("failed", "manual_only")


def test_search_console_steps_name_the_agencys_email_and_the_permission(
    connector, agency_identity, app
):
    (full,) = connector.manual_steps("SEARCH_CONSOLE_PROPERTY", ["siteFullUser"], agency_identity)
    (owner,) = connector.manual_steps("SEARCH_CONSOLE_PROPERTY", ["siteOwner"], agency_identity)
    (unnamed,) = connector.manual_steps("SEARCH_CONSOLE_PROPERTY", ["siteRestrictedUser"])

    text = " ".join(map(str, full.steps))
    assert "Settings → Users and permissions" in text and "Add user" in text
    assert agency_identity["email"] in text and "“Full”" in text
    assert "Add an owner" in " ".join(map(str, owner.steps))
    assert "ask the agency" in " ".join(map(str, unnamed.steps))
    assert "“Restricted”" in " ".join(map(str, unnamed.steps))
    # In the sandbox the link opens the emulated Users and permissions page.
    assert full.link.startswith(app.config["LATCHKEY_BASE_URL"] + "/sandbox/google/")
    assert full.link.endswith("/search.google.com/search-console/users")


def test_search_console_verifies_from_the_agencys_own_sites(
    connector, agency_token, agency_identity
):
    client = persona_token()
    site = first(connector, client, "SEARCH_CONSOLE_PROPERTY")
    before = check(connector, agency_token, agency_identity, site, ["siteFullUser"])

    sandbox_sc.add_user(site.id, agency_identity["email"], "siteRestrictedUser")
    short = check(connector, agency_token, agency_identity, site, ["siteFullUser"])
    sandbox_sc.add_user(site.id, agency_identity["email"], "siteFullUser")
    verified = check(connector, agency_token, agency_identity, site, ["siteFullUser"])

    assert before.status == "missing" and agency_identity["email"] in before.message
    assert short.status == "insufficient" and "Restricted" in short.message
    assert (verified.status, verified.permissions) == ("verified", ("siteFullUser",))
    with pytest.raises(PlatformError) as unsupported:
        connector.revoke(agency_token, agency_identity, site.type, site.id, {})
    assert unsupported.value.code == "revoke_unsupported"
    assert "Users and permissions" in unsupported.value.fix


# ------------------------------------------------------------- all products


def test_it_refuses_what_does_not_exist_or_has_no_agency(connector, agency_token, agency_identity):
    client = persona_token()
    prop = first(connector, client, "GA4_PROPERTY")

    wrong = connector.grant(client, agency_token, agency_identity, prop, ["MANAGER_LINK"])
    unconnected = connector.grant(client, None, {}, prop, [VIEWER])
    no_email = connector.grant(client, agency_token, {"manager_id": "1"}, prop, [VIEWER])
    nothing = connector.grant(client, agency_token, agency_identity, Asset("1", "x", "NOPE"), [])

    assert wrong.external["error_code"] == "invalid_permission"
    assert unconnected.external["error_code"] == "agency_not_connected"
    assert no_email.external["error_code"] == "agency_not_connected"
    assert nothing.external["error_code"] == "invalid_asset_type"
    # A receiving e-mail set in the agency's settings must be the connected account.
    settings = {**agency_identity, "google": {"email": "analytics@elsewhere.example"}}
    mismatch = connector.grant(client, agency_token, settings, prop, [VIEWER])
    assert mismatch.external["error_code"] == "identity_mismatch"
    assert "analytics@elsewhere.example" in mismatch.error
    assert agency_identity["email"] in mismatch.fix
    same = {**agency_identity, "google": {"email": agency_identity["email"].upper()}}
    assert connector.grant(client, agency_token, same, prop, [VIEWER]).status == "granted"
    with pytest.raises(PlatformError) as unknown:
        connector.verify(agency_token, {}, "GA4_PROPERTY", prop.id, [VIEWER], {})
    assert unknown.value.code == "agency_not_connected"


def test_it_lists_nothing_to_share_for_a_personal_account(connector):
    types = [t.id for t in connector.asset_types]

    assets = connector.list_assets(persona_token("personal"), types)

    assert assets == {t: [] for t in types}


def test_removal_steps_name_each_products_own_pages(connector):
    from portal.models import Grant
    from portal.notifications.removal import removal_steps

    for asset_type, words in [
        ("ADS_ACCOUNT", "Managers"),
        ("GA4_PROPERTY", "Property access management"),
        ("GA4_ACCOUNT", "Account access management"),
        ("TAG_MANAGER_CONTAINER", "User Management"),
        ("MERCHANT_CENTER_ACCOUNT", "People and access"),
        ("BUSINESS_PROFILE_LOCATION", "People and access"),
        ("SEARCH_CONSOLE_PROPERTY", "Users and permissions"),
    ]:
        grant = Grant(platform="google", asset_type=asset_type, asset_id="1")
        steps = removal_steps(grant, "Northwind Agency")
        assert any(words in step for step in steps), asset_type
        assert any("Northwind Agency" in step for step in steps), asset_type


def test_ads_sends_the_configured_developer_token_and_says_when_there_is_none(
    app, connector, monkeypatch
):
    monkeypatch.setitem(app.config, "GOOGLE_ADS_DEVELOPER_TOKEN", "ABcdeFGH93KL-NOPQ_STUv")
    assert connector.ads.developer_token() == "ABcdeFGH93KL-NOPQ_STUv"

    monkeypatch.setitem(app.config, "GOOGLE_ADS_DEVELOPER_TOKEN", None)
    assert connector.ads.developer_token() == "sandbox-developer-token"
    monkeypatch.setitem(app.config, "LATCHKEY_SANDBOX", False)
    with pytest.raises(PlatformError) as refused:
        connector.ads.developer_token()
    assert refused.value.code == "not_configured"
    assert "GOOGLE_ADS_DEVELOPER_TOKEN" in refused.value.fix
