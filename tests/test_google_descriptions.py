"""The Google connector and the emulated Google, held to Google's own descriptions
(tests/platform_specs/google/, the discovery documents of google-api-python-client)
where the conformance plugin cannot look: which APIs are called at all, the
Google Ads version, the error codes the sandbox may answer, and values Google
spells two ways.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
import requests

from portal import platforms
from portal.platforms.google.ads import API_URL, API_VERSION
from portal.sandbox import core, inventions
from portal.sandbox.google import common as sandbox_common
from portal.sandbox.google import gaql
from portal.sandbox.google import tagmanager as sandbox_gtm
from tests.conformance.specs import google as described

SPECS = Path(__file__).parent / "platform_specs" / "google"
SANDBOX = Path(sandbox_common.__file__).parent
AGENCY = {"email": "team@northwind.example"}


@pytest.fixture
def connector():
    return platforms.get("google")


def test_every_google_api_the_connector_calls_has_a_published_description(connector):
    specs = described.load()
    for name, url in connector.real_urls.items():
        if name == "search_console_ui":
            continue  # a page the client opens, not an API
        found = [
            (spec, url.removeprefix(base.rstrip("/")))
            for spec in specs
            for base in spec.base_urls
            if url == base.rstrip("/") or url.startswith(base.rstrip("/") + "/")
        ]
        assert any(op.path.startswith(rest) for spec, rest in found for op in spec.operations), (
            f"{name}: {url} is in no Google description"
        )


def test_google_ads_is_called_in_the_version_its_description_transcribes(connector):
    ads = json.loads((SPECS / f"ads-{API_VERSION}.json").read_text())
    assert connector.real_urls["ads"] == API_URL == ads["baseUrl"]
    assert all(f"/{API_VERSION}/" in f for f in ads["source"]["files"] if "/googleads/" in f)
    loaded = [s for s in described.load() if s.name.startswith("Google Ads API")]
    assert [s.base_urls for s in loaded] == [(API_URL,)]


# ------------------------------------------------------------ Search Console


def test_search_console_reads_both_spellings_of_the_permission_level(connector, monkeypatch):
    answer = {
        "siteEntry": [
            # webmasters v3's spelling, which Google's answers use ...
            {"siteUrl": "https://www.northwind.example/", "permissionLevel": "siteOwner"},
            # ... and searchconsole v1's, which its description enumerates.
            {"siteUrl": "sc-domain:northwind.example", "permissionLevel": "SITE_FULL_USER"},
            {"siteUrl": "https://shop.northwind.example/", "permissionLevel": "SITE_OWNER"},
            {
                "siteUrl": "https://old.northwind.example/",
                "permissionLevel": "SITE_UNVERIFIED_USER",
            },
        ]
    }
    monkeypatch.setattr(connector.search_console.api, "call", lambda *a, **k: answer)

    assets = connector.list_assets({"access_token": "ya29.x"}, ["SEARCH_CONSOLE_PROPERTY"])
    levels = {a.id: a.details["permission_level"] for a in assets["SEARCH_CONSOLE_PROPERTY"]}
    assert levels == {
        "https://www.northwind.example/": "siteOwner",
        "sc-domain:northwind.example": "siteFullUser",
        "https://shop.northwind.example/": "siteOwner",
    }
    assert connector.search_console.survey({"access_token": "ya29.x"}).problems == []

    def verify(site: str, level: str):
        return connector.verify(
            {"access_token": "ya29.x"}, AGENCY, "SEARCH_CONSOLE_PROPERTY", site, [level], {}
        )

    assert verify("https://shop.northwind.example/", "siteOwner").status == "verified"
    assert verify("sc-domain:northwind.example", "siteRestrictedUser").status == "verified"
    assert verify("sc-domain:northwind.example", "siteOwner").status == "insufficient"
    assert verify("https://old.example/", "siteRestrictedUser").status == "missing"


def test_the_sandbox_spells_search_console_levels_as_the_description_enumerates(live_server):
    token = core.sandbox_token("google", "business")
    url = platforms.get("google").endpoints()["search_console"] + "/sites"
    answer = requests.get(url, headers={"Authorization": f"Bearer {token['access_token']}"})
    spec = next(s for s in described.load() if "searchconsole" in s.base_urls[0])
    allowed = spec.document["schemas"]["WmxSite"]["properties"]["permissionLevel"]["enum"]
    levels = {site["permissionLevel"] for site in answer.json()["siteEntry"]}
    assert levels == {"SITE_OWNER"} and levels <= set(allowed)


# ----------------------------------------------------------------- the sandbox


def test_the_sandbox_serves_only_fields_of_the_google_ads_resources(connector):
    schemas = json.loads((SPECS / f"ads-{API_VERSION}.json").read_text())["schemas"]
    for resource, fields in gaql.FIELDS.items():
        declared = schemas["".join(part.capitalize() for part in resource.split("_"))]
        assert {gaql.camel(f) for f in fields} <= set(declared["properties"]), resource


def _named_in_sandbox() -> dict[str, set]:
    """Error codes the emulated Google's code names, by kind."""
    found: dict[str, set] = {"ads": set(), "reason": set(), "status": set()}
    for path in sorted(SANDBOX.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            text = [a.value if isinstance(a, ast.Constant) else None for a in node.args]
            if name == "ads_error" and isinstance(text[1], str) and isinstance(text[2], str):
                found["ads"].add((text[1], text[2]))
            elif name == "link_error" and isinstance(text[0], str):
                found["ads"].add(("managerLinkError", text[0]))
            elif name in ("query_error", "QueryError") and isinstance(text[0], str):
                found["ads"].add(("queryError", text[0]))
            for keyword in node.keywords:
                value = keyword.value
                if keyword.arg in ("reason", "status") and isinstance(value, ast.Constant):
                    found[keyword.arg].add(value.value)
    found["reason"] |= set(sandbox_common.TOKEN_REASONS.values())
    found["status"] |= set(sandbox_common.STATUS_NAMES.values())
    return found


def test_every_error_code_the_sandbox_answers_is_published_or_an_invention():
    ads = json.loads((SPECS / f"ads-{API_VERSION}.json").read_text())["errorCodes"]
    shared = json.loads((SPECS / "errors.json").read_text())
    named = _named_in_sandbox()

    assert ("requestError", "DEVELOPER_TOKEN_PARAMETER_MISSING") in named["ads"]
    assert {(kind, code) for kind, code in named["ads"] if code not in ads.get(kind, ())} == set()
    assert "ACCESS_TOKEN_SCOPE_INSUFFICIENT" in named["reason"]
    assert named["reason"] - set(shared["errorInfoReasons"]) - set(inventions.GOOGLE) == set()
    assert named["status"] - set(shared["statusNames"]) == set()
    # Tag Manager's errors[].reason values are listed as inventions.
    assert set(sandbox_gtm.REASONS.values()) <= set(inventions.GOOGLE)


def test_the_sandbox_asks_the_scopes_the_description_lists(live_server):
    gtm = platforms.get("google").endpoints()["tagmanager"]
    token = core.sandbox_token(
        "google", "business", scopes=["https://www.googleapis.com/auth/tagmanager.manage.accounts"]
    )
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    accounts = requests.get(gtm + "/accounts", headers=headers)
    assert accounts.status_code == 200
    account_id = accounts.json()["account"][0]["accountId"]
    # accounts.containers.list lists tagmanager.readonly and edit.containers only.
    containers = requests.get(f"{gtm}/accounts/{account_id}/containers", headers=headers)
    assert containers.status_code == 403


# ----------------------------------------------------------- Business Profile


def test_business_profile_reads_admins_and_invitations_in_one_answer(connector, monkeypatch):
    calls = []

    def call(method, path, token, **kwargs):
        calls.append((path, kwargs.get("params")))
        # No paging is described for these lists: a nextPageToken means nothing.
        return {"admins": [{"name": "locations/1/admins/2"}], "nextPageToken": "2"}

    monkeypatch.setattr(connector.business_profile.api, "call", call)
    assert connector.business_profile.admins({"access_token": "ya29.x"}, "1") == [
        {"name": "locations/1/admins/2"}
    ]
    assert calls == [("/locations/1/admins", None)]


# --------------------------- the rest of the described calls the connector makes


@pytest.fixture
def agency_token(live_server):
    return core.sandbox_token("google", "business", name="Northwind Agency")


@pytest.fixture
def agency_identity(connector, agency_token):
    return connector.agency_identity(agency_token)


def test_analytics_raises_then_removes_an_account_binding(connector, agency_token, agency_identity):
    client = core.sandbox_token("google", "business")
    account = connector.list_assets(client, ["GA4_ACCOUNT"])["GA4_ACCOUNT"][0]
    connector.grant(client, agency_token, agency_identity, account, ["predefinedRoles/viewer"])

    raised = connector.grant(
        client, agency_token, agency_identity, account, ["predefinedRoles/admin"]
    )
    assert raised.status == "granted" and raised.external["roles"] == ["predefinedRoles/admin"]
    assert connector.revoke(agency_token, agency_identity, account.type, account.id, {})

    after = connector.verify(
        agency_token, agency_identity, account.type, account.id, ["predefinedRoles/viewer"], {}
    )
    assert after.status == "missing"


def test_business_profile_raises_the_role_of_an_invitation_not_yet_accepted(
    connector, agency_token, agency_identity
):
    client = core.sandbox_token("google", "business")
    location = connector.list_assets(client, ["BUSINESS_PROFILE_LOCATION"])[
        "BUSINESS_PROFILE_LOCATION"
    ][0]
    connector.grant(client, agency_token, agency_identity, location, ["SITE_MANAGER"])

    raised = connector.grant(client, agency_token, agency_identity, location, ["MANAGER"])

    assert raised.status == "pending"
    verified = connector.verify(
        agency_token, agency_identity, location.type, location.id, ["MANAGER"], raised.external
    )
    assert (verified.status, verified.permissions) == ("verified", ("MANAGER",))
