"""The emulated Pinterest API v5: its answers, held to Pinterest's published
description (tests/platform_specs/pinterest), its errors and its paging.

These calls go through Flask's test client, which the conformance plugin does
not record, so `conforms` checks the answers the same way.
"""

from __future__ import annotations

from portal.sandbox import core
from tests.conformance.checker import check, explain
from tests.conformance.recorder import Call
from tests.conformance.specs import all_specs

API = "/sandbox/pinterest/api.pinterest.com/v5"
USER_ACCOUNT = API + "/user_account"


def test_it_answers_401_with_pinterests_error_body_for_an_expired_token(client):
    token = core.sandbox_token("pinterest")
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    assert client.get(USER_ACCOUNT, headers=headers).status_code == 200

    core.expire_token(token["access_token"])
    answer = client.get(USER_ACCOUNT, headers=headers)

    assert answer.status_code == 401
    body = answer.get_json()
    assert isinstance(body["code"], int) and "expired" in body["message"]
    assert client.get(USER_ACCOUNT).status_code == 401


def test_it_pages_lists_with_bookmarks(client):
    token = core.sandbox_token("pinterest", ad_accounts=3)
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    url = "/sandbox/pinterest/api.pinterest.com/v5/ad_accounts"

    first = client.get(url, query_string={"page_size": 2}, headers=headers).get_json()
    second = client.get(
        url, query_string={"page_size": 2, "bookmark": first["bookmark"]}, headers=headers
    ).get_json()

    assert len(first["items"]) == 2 and first["bookmark"]
    assert len(second["items"]) == 1 and second["bookmark"] is None
    ids = {a["id"] for a in first["items"] + second["items"]}
    assert len(ids) == 3


def conforms(method: str, path: str, answer, query: dict | None = None) -> None:
    """The sandbox's answer, held to Pinterest's description as the plugin holds
    the connector's calls (these go through Flask's test client, not recorded)."""
    call = Call(
        "pinterest",
        method,
        "https://api.pinterest.com/v5" + path,
        {k: [v] for k, v in (query or {}).items()},
        None,
        None,
        status=answer.status_code,
        response=answer.get_json(),
    )
    match = check(all_specs(), call)
    assert match is not None and match.ok, explain(call, match)


def test_it_answers_linked_businesses_and_employers_as_pinterest_describes_them(client):
    """`/user_account/businesses` is a bare list of linked accounts (username,
    images); the businesses and roles are `/businesses/employers`."""
    token = core.sandbox_token("pinterest", "not_admin")
    headers = {"Authorization": f"Bearer {token['access_token']}"}

    linked = client.get(USER_ACCOUNT + "/businesses", headers=headers)
    employers = client.get(API + "/businesses/employers", headers=headers)
    me = client.get(USER_ACCOUNT, headers=headers)

    assert isinstance(linked.get_json(), list) and "id" not in linked.get_json()[0]
    assert employers.get_json()["items"][0]["business_roles"] == ["EMPLOYEE"]
    assert "two_factor_enabled" not in me.get_json()
    conforms("GET", "/user_account/businesses", linked)
    conforms("GET", "/businesses/employers", employers)
    conforms("GET", "/user_account", me)


def test_it_serves_page_visits_per_ad_account_not_per_tag(client):
    token = core.sandbox_token("pinterest")
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    world = core.world_data("pinterest", token["sandbox_world_id"])
    account, tag = world["ad_accounts"][0]["id"], world["conversion_tags"][0]["id"]
    path = f"/ad_accounts/{account}/conversion_tags"

    tags = client.get(API + path, headers=headers)
    visits = client.get(API + path + "/page_visit", headers=headers)
    per_tag = client.get(API + f"{path}/{tag}/page_visit", headers=headers)

    (visit,) = visits.get_json()["items"]
    assert visit["conversion_tag_id"] == tag and visit["conversion_event"] == "PAGE_VISIT"
    assert per_tag.status_code == 404  # no such operation in the description
    conforms("GET", path, tags)
    conforms("GET", path + "/page_visit", visits)


def test_it_lists_business_assets_as_pinterest_describes_them(client):
    """GetBusinessAssetsResponse has no `permissions`; groups and catalogs carry
    their details."""
    token = core.sandbox_token("pinterest")
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    business = core.world_data("pinterest", token["sandbox_world_id"])["business"]
    path = f"/businesses/{business['id']}/assets"

    for asset_type in ("AD_ACCOUNT", "PROFILE", "CATALOG", "ASSET_GROUP"):
        query = {"asset_type": asset_type}
        answer = client.get(API + path, query_string=query, headers=headers)
        items = answer.get_json()["items"]
        assert items and all("permissions" not in item for item in items)
        conforms("GET", path, answer, query)
    catalog = client.get(API + path, query_string={"asset_type": "CATALOG"}, headers=headers)
    assert catalog.get_json()["items"][0]["catalog_info"]["catalog_type"] == "RETAIL"


def test_it_sends_only_published_or_listed_pinterest_error_codes():
    from portal.sandbox import inventions
    from portal.sandbox.pinterest import world
    from tests.conformance.specs.pinterest import published_error_codes

    codes = {
        value for name, value in vars(world).items() if name.isupper() and isinstance(value, int)
    }
    unexplained = codes - published_error_codes() - {int(c) for c in inventions.PINTEREST}
    assert unexplained == set()
    # An invented code never reuses one Pinterest publishes for something else.
    assert not {int(c) for c in inventions.PINTEREST} & published_error_codes()


def test_it_answers_unknown_api_paths_with_a_pinterest_404(client):
    answer = client.get("/sandbox/pinterest/api.pinterest.com/v5/pins/123")

    assert answer.status_code == 404
    assert set(answer.get_json()) == {"code", "message"}


def test_it_does_not_ask_api_calls_for_a_csrf_token(client):
    """API calls carry bearer tokens, so CSRF is off for them (a PATCH without a
    CSRF token reaches the handler and fails on the body, not with 400 CSRF)."""
    token = core.sandbox_token("pinterest")
    answer = client.patch(
        "/sandbox/pinterest/api.pinterest.com/v5/businesses/invites",
        json={"invites": "nope"},
        headers={"Authorization": f"Bearer {token['access_token']}"},
    )

    assert answer.status_code == 400
    assert "invites must be" in answer.get_json()["message"]
