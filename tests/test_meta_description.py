"""Meta held to its published description: the Graph API node specs the
official SDKs are generated from, and the documented facts beside them
(tests/platform_specs/meta/). The conformance layer checks every call of the
run against them; these tests pin down what it found wrong, and the parts of
the description the connector and the sandbox rely on.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
import requests
from test_meta_connector import _GraphStub, first, graph, persona_token

from portal import platforms
from portal.platforms.base import Asset
from portal.sandbox import core, inventions
from portal.sandbox.meta import world
from tests.conformance.specs import meta as meta_spec

ROOT = Path(__file__).resolve().parents[1]
DOCS = json.loads((ROOT / "tests/platform_specs/meta/graph_docs.json").read_text())


@pytest.fixture
def connector(live_server):
    return platforms.get("meta")


@pytest.fixture
def agency_token(live_server):
    return core.sandbox_token("meta", "business", name="Northwind Agency")


@pytest.fixture
def agency_identity(connector, agency_token):
    return connector.agency_identity(agency_token)


@pytest.fixture
def graph_stub(app, connector, monkeypatch):
    stub = _GraphStub()
    urls = dict(app.extensions["latchkey_platform_urls"]["meta"])
    urls["api"] = stub.url
    monkeypatch.setitem(app.extensions["latchkey_platform_urls"], "meta", urls)
    yield stub
    stub.server.shutdown()
    stub.server.server_close()


def bearer(token) -> dict[str, str]:
    return {"Authorization": f"Bearer {token['access_token']}"}


# ------------------------------------------------------------- Instagram


def test_instagram_accounts_are_instagram_business_assets(app, connector):
    """owned_instagram_assets returns InstagramBusinessAsset nodes: id,
    ig_user_id and ig_username. Asking for `username` used to stop the whole
    Meta asset list."""
    token = persona_token("business")
    business = core.world_data("meta", token["sandbox_world_id"])["business"]
    url = f"{graph(connector)}/{business['id']}/owned_instagram_assets"

    listed = requests.get(
        url, params={"fields": "id,ig_user_id,ig_username"}, headers=bearer(token), timeout=10
    ).json()["data"]
    # Not a field of the node: through Flask's test client, unseen by the recorder.
    refused = app.test_client().get(
        urlsplit(url).path, query_string={"fields": "id,username"}, headers=bearer(token)
    )

    assert [set(node) for node in listed] == [{"id", "ig_user_id", "ig_username"}]
    assert listed[0]["ig_username"] == "juniperhomegoods"
    assert refused.status_code == 400
    assert "(username)" in refused.get_json()["error"]["message"]


# ---------------------------------------------------------- verification


def test_it_verifies_with_the_fields_meta_declares_for_the_agencys_side(
    connector, agency_token, agency_identity
):
    """Meta adds `permitted_tasks` to client ad accounts, Pages and pixels, and no
    `access_status` to any client_* edge: verification reads only those."""
    client = persona_token("business")
    asset = first(connector, client)
    connector.grant(client, None, agency_identity, asset, ["ANALYZE"])
    url = f"{graph(connector)}/{agency_identity['business_id']}/client_ad_accounts"

    listed = requests.get(
        url,
        params={"fields": "id,account_id,permitted_tasks"},
        headers=bearer(agency_token),
        timeout=10,
    ).json()["data"]

    assert listed == [
        {"id": f"act_{asset.id}", "account_id": asset.id, "permitted_tasks": ["ANALYZE"]}
    ]


def test_the_agencies_edge_adds_what_each_reference_page_lists(app, connector, agency_identity):
    """An ad account's agencies carry access_status and permitted_tasks; a
    pixel's only permitted_tasks (and permitted_roles, which the sandbox omits)."""
    client = persona_token("business")
    pixel = first(connector, client, "PIXEL")
    connector.grant(client, None, agency_identity, pixel, ["ANALYZE"])
    url = f"{graph(connector)}/{pixel.id}/agencies"

    shown = requests.get(
        url, params={"fields": "id,name,permitted_tasks"}, headers=bearer(client), timeout=10
    ).json()["data"]
    refused = app.test_client().get(
        urlsplit(url).path, query_string={"fields": "id,access_status"}, headers=bearer(client)
    )

    assert shown == [
        {
            "id": agency_identity["business_id"],
            "name": "Northwind Agency",
            "permitted_tasks": ["ANALYZE"],
        }
    ]
    assert refused.status_code == 400


def test_it_says_a_pixel_waits_for_the_agency_to_accept_the_sharing_request(connector, graph_stub):
    """Meta answers `pending_request_id` when the pixel waits for the agency's
    portfolio to accept a sharing agreement (Meta's pixel sharing guide)."""
    graph_stub.answers.append((200, {}, {"success": True, "pending_request_id": "9988"}))
    pixel = Asset("5551", "Site pixel", "PIXEL", {"business_id": "111"})

    result = connector.grant(
        {"access_token": "EAAclient"}, None, {"business_id": "222"}, pixel, ["ANALYZE"]
    )
    graph_stub.answers.append((200, {}, {"data": []}))
    check = connector.verify(
        {"access_token": "EAAagency"}, {}, "PIXEL", "5551", ["ANALYZE"], result.external
    )

    assert result.status == "pending" and result.external["pending_request_id"] == "9988"
    assert check.status == "pending" and "accept" in check.message
    assert graph_stub.seen[1].startswith("/v25.0/222/client_pixels?fields=id%2Cpermitted_tasks")


# ------------------------------------------------------------- the token


def test_the_token_endpoint_is_called_the_documented_way(connector, graph_stub, app):
    """GET /oauth/access_token with the parameters in the query (Meta's pages);
    the token, the code and the secret are scrubbed from every log line."""
    urls = dict(app.extensions["latchkey_platform_urls"]["meta"])
    urls["token"] = graph_stub.url + "/oauth/access_token"
    app.extensions["latchkey_platform_urls"]["meta"] = urls
    answer = {"access_token": "EAAnew", "token_type": "bearer", "expires_in": 5183944}
    graph_stub.answers += [(200, {}, answer), (200, {}, answer)]

    connector.exchange_code("the-code", "the-verifier", "https://latchkey.test/cb")
    connector.refresh_token({"access_token": "EAAold"})

    code_call, exchange_call = (urlsplit(seen) for seen in graph_stub.seen)
    assert code_call.path == exchange_call.path == "/v25.0/oauth/access_token"
    assert "code=the-code" in code_call.query and "code_verifier=the-verifier" in code_call.query
    assert "grant_type=fb_exchange_token" in exchange_call.query
    assert "fb_exchange_token=EAAold" in exchange_call.query
    assert "grant_type" not in code_call.query  # Meta's code exchange names none


# ---------------------------------------------------------------- errors


def _sandbox_error_codes() -> set[tuple[str, int | None]]:
    """Every (code | subcode, value) the Meta sandbox can answer, read from its source."""
    found: set[tuple[str, int | None]] = set()

    def values(node: ast.expr, local: dict[str, ast.expr]) -> set[int | None]:
        if isinstance(node, ast.IfExp):
            return values(node.body, local) | values(node.orelse, local)
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return {node.value}
        name = node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", None)
        if isinstance(node, ast.Name) and name in local:
            return values(local[name], local)
        return {getattr(world, name, None) if name else None}

    for path in (ROOT / "portal/sandbox/meta").glob("*.py"):
        for function in ast.walk(ast.parse(path.read_text())):
            if not isinstance(function, ast.FunctionDef):
                continue
            local = {
                target.id: node.value
                for node in ast.walk(function)
                if isinstance(node, ast.Assign)
                for target in node.targets
                if isinstance(target, ast.Name)
            }
            for call in ast.walk(function):
                if not (
                    isinstance(call, ast.Call) and getattr(call.func, "id", "") == "graph_error"
                ):
                    continue
                found |= {("code", n) for n in values(call.args[1], local)}
                for keyword in call.keywords:
                    if keyword.arg == "subcode":
                        found |= {("subcode", n) for n in values(keyword.value, local)}
    return found


def test_every_error_the_sandbox_answers_is_published_or_listed_as_an_invention():
    errors = DOCS["errors"]
    published = {("code", c) for c in errors["codes"]}
    published |= {("code", int(c)) for c in errors["edge_codes"]}
    published |= {("code", c) for lo, hi in errors["code_ranges"] for c in range(lo, hi + 1)}
    published |= {("subcode", s) for s in errors["subcodes"]}
    invented = {(kind, int(n)) for kind, n in (key.split() for key in inventions.META)}

    answered = _sandbox_error_codes()

    assert None not in {n for _kind, n in answered}, answered
    assert answered - published - invented == set()
    assert not invented & published


# ------------------------------------------------------- the description


def test_choose_types_an_id_by_the_edge_that_listed_it(connector):
    token = persona_token("business")
    connector.list_assets(token, ["PAGE", "PIXEL"])
    page_id = core.world_data("meta", token["sandbox_world_id"])["pages"][0]["id"]
    graph_spec = meta_spec.load()[0]
    agencies = [op for op in graph_spec.operations if op.path.endswith("/agencies")]
    posts = [op for op in agencies if op.method == "POST"]
    call = SimpleNamespace(url=f"{meta_spec.GRAPH}/{page_id}/agencies")

    chosen = graph_spec.choose(posts, call)

    assert [op.operation_id for op in chosen] == ["Page/POST agencies"]
    assert meta_spec.node_types()[page_id] == "Page"
