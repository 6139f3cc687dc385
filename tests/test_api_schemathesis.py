"""Schema-driven fuzzing of API v1 (issue 15): Schemathesis generates requests from the
served OpenAPI document and sends them to the app in-process, with a valid key.

- Every operation, with inputs the document calls valid and invalid: no answer is a
  5xx, and every answer is one the document describes (status, type, schema).
- Stateful: the document's links lead from what one call creates to the operations on
  it, so the id routes see real ids rather than only 404s; nothing saved is lost.
- The document says what validation accepts: the bodies it calls valid are taken,
  short of the state it cannot know (which templates and tools exist).
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict

import jsonschema_rs
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis import checks as st_checks
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi import checks as oa_checks

CHECKS = [
    st_checks.not_a_server_error,
    oa_checks.status_code_conformance,
    oa_checks.content_type_conformance,
    oa_checks.response_schema_conformance,
]
# After a call that created something, following its link finds it (no 404); after a
# DELETE, it is gone.
STATEFUL_CHECKS = [*CHECKS, oa_checks.ensure_resource_availability, oa_checks.use_after_free]
# Only the document's own links (no links Schemathesis would guess), one seed: every
# run sends the same requests.
CONFIG = {
    "seed": 15,
    "phases": {"stateful": {"inference": {"algorithms": []}, "generation": {"mode": "positive"}}},
}
HYPOTHESIS = {
    "deadline": None,
    "database": None,
    "derandomize": True,
    "suppress_health_check": list(HealthCheck),
}
ID_ROUTES = {
    "GET /api/v1/templates/{id}",
    "GET /api/v1/access-requests/{id}",
    "POST /api/v1/access-requests/{id}/revoke",
    "GET /api/v1/access-requests/{id}/report.pdf",
    "DELETE /api/v1/webhook-endpoints/{id}",
}


@pytest.fixture
def fuzzed(app, agency, monkeypatch):
    """The schema, and an agency's key and tool; rate limits the fuzzer cannot reach."""
    monkeypatch.setitem(app.config, "API_RATE_LIMIT", "100000 per minute")
    # Inputs the document calls invalid include calls without the key (401 each).
    monkeypatch.setitem(app.config, "API_AUTH_FAILURE_LIMIT", "100000 per minute")
    schema = schemathesis.openapi.from_wsgi(
        "/api/v1/openapi.json", app, config=SchemathesisConfig.from_dict(CONFIG)
    )
    return (schema, *_ready(agency))


def _ready(agency) -> tuple[dict, str]:
    """The agency as a client's would be: connected to every platform that needs it,
    with a tool of its own; returns its key's headers and the tool's key."""
    from helpers_requests import fake_connection
    from test_api_support import api_key, bearer

    from portal import platforms
    from portal.services.tools import create_tool

    for connector in platforms.all_connectors():
        if connector.needs_agency_connection:
            fake_connection(agency, connector.id)
    tool = create_tool(
        agency.id, {"name": "WordPress", "instructions": "Open Users\nAdd the agency"}, None
    )
    return bearer(api_key(agency)), tool.key


def _new_agency():
    from portal.extensions import db
    from portal.models import Agency
    from portal.models.base import utcnow

    tag = uuid.uuid4().hex[:12]
    agency = Agency(name=f"Agency {tag}", slug=f"agency-{tag}", email_verified_at=utcnow())
    db.session.add(agency)
    db.session.commit()
    return agency


# ------------------------------------------------------------- every operation


def test_it_survives_schema_driven_fuzzing_and_matches_its_document(fuzzed):
    schema, headers, _tool = fuzzed
    failures: list[str] = []
    calls = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            calls += _fuzz(operation, mode, headers, failures)
    assert not failures, failures
    assert calls > 150


def _fuzz(operation, mode, headers, failures) -> int:
    """One operation in one mode; returns how many requests it sent."""
    count = [0]

    @settings(max_examples=8, phases=[Phase.explicit, Phase.generate], **HYPOTHESIS)
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case):
        count[0] += 1
        response = case.call(headers=headers)
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except Exception as exc:
            failures.append(f"{operation.label}: {exc}")
            raise

    run()
    return count[0]


# ------------------------------------------------------------------- stateful


def test_its_links_lead_the_stateful_fuzzer_to_every_id_route(fuzzed, app, agency):
    """Scenarios of calls chained by the document's links: each id route is called
    with ids that exist and answers 2xx, and nothing saved before is lost."""
    schema, _headers, _tool = fuzzed
    before = _save_some(agency)
    answers: dict[str, Counter] = defaultdict(Counter)
    created: dict[str, set[int]] = defaultdict(set)

    class Scenarios(schema.as_state_machine()):
        def setup(self):
            # An agency per scenario: what earlier scenarios saved is another agency's
            # (404), so the same calls get the same answers whenever Hypothesis replays.
            self.agency = _new_agency()
            self.headers, self.tool = _ready(self.agency)
            self.template_id = _template(self.agency).id

        def before_call(self, case):
            # A template_id a link brought is this agency's: it stays.
            body = case.body if isinstance(case.body, dict) else {}
            template_id = body.get("template_id")
            if not _is_template_of(self.agency, template_id):
                template_id = self.template_id
            _with_real_state(case, template_id, self.tool)

        def get_call_kwargs(self, case):
            return {"headers": self.headers}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            label = case.operation.label
            answers[label][response.status_code] += 1
            if response.status_code == 201:
                created[label].add(response.json()["id"])
            elif response.status_code == 204:
                created["deleted"].add(int(case.path_parameters["id"]))
            case.validate_response(
                response,
                checks=STATEFUL_CHECKS,
                headers=self.headers,
                transport_kwargs=kwargs or None,
                recorder=self.recorder,
            )

    Scenarios.run(settings=settings(max_examples=25, stateful_step_count=10, **HYPOTHESIS))

    print("\nStateful answers:", {label: dict(statuses) for label, statuses in answers.items()})
    reached = {label for label, statuses in answers.items() if _succeeded(statuses)}
    assert reached >= ID_ROUTES, {label: dict(answers[label]) for label in ID_ROUTES}
    _assert_kept(before, created)


def _template(agency):
    from helpers_requests import PINTEREST_ITEMS

    from portal.services.templates import save_template

    return save_template(agency.id, "Base", None, PINTEREST_ITEMS, None, None)


def _is_template_of(agency, template_id) -> bool:
    from portal.extensions import db
    from portal.models import Template

    if not isinstance(template_id, int) or not 1 <= template_id < 2**31:
        return False
    template = db.session.get(Template, template_id)
    return template is not None and template.agency_id == agency.id


def _succeeded(statuses: Counter) -> bool:
    return any(200 <= status < 300 for status in statuses)


def _save_some(agency) -> dict:
    """A template, a request and an endpoint of two agencies, saved before the fuzzer
    runs (with keys of other agencies)."""
    from conftest import make_agency
    from helpers_requests import PINTEREST_ITEMS, fake_connection, make_request

    from portal.services.templates import save_template
    from portal.webhooks.service import create_endpoint

    other = make_agency("Other Agency", "owner@other.test")[0]
    fake_connection(other)
    saved: dict[str, set[int]] = defaultdict(set)
    for owner in (agency, other):
        saved["POST /api/v1/templates"].add(
            save_template(owner.id, "Kept", None, PINTEREST_ITEMS, None, None).id
        )
        saved["POST /api/v1/access-requests"].add(make_request(owner, None)[0].id)
        endpoint, _secret = create_endpoint(owner.id, "https://hooks.example/x", ["*"], None, None)
        saved["POST /api/v1/webhook-endpoints"].add(endpoint.id)
    return saved


def _assert_kept(before: dict, created: dict) -> None:
    """Whatever was saved, before or by the fuzzer, is still there, as it was saved:
    only a DELETE answered 204 removed something, and only a revoke changed a status."""
    from portal.extensions import db
    from portal.models import AccessRequest, Template, WebhookEndpoint

    db.session.expire_all()
    kinds = {
        "POST /api/v1/templates": Template,
        "POST /api/v1/access-requests": AccessRequest,
        "POST /api/v1/webhook-endpoints": WebhookEndpoint,
    }
    for label, model in kinds.items():
        assert created[label], label
        for row_id in before[label] | created[label]:
            row = db.session.get(model, row_id)
            assert row is not None or (model is WebhookEndpoint and row_id in created["deleted"])
            if row is not None and model is not WebhookEndpoint:
                assert row.items, (label, row_id)
    for request_id in before["POST /api/v1/access-requests"]:
        assert db.session.get(AccessRequest, request_id).status == "sent"
    assert not before["POST /api/v1/webhook-endpoints"] & created["deleted"]


# --------------------------------------------------- what the document promises


# What a document cannot know, so a real client (and this test) brings it: the id of
# one of its templates, the key of one of its tools, a new Idempotency-Key per request.
def _with_real_state(case, template_id: int, tool: str) -> None:
    body = case.body if isinstance(case.body, dict) else {}
    if body.get("template_id") is not None:
        body["template_id"] = template_id
    for item in body.get("items") or []:
        if item.get("platform") == "other":
            item["asset_type"] = tool
    if case.headers and "Idempotency-Key" in case.headers:
        case.headers["Idempotency-Key"] = uuid.uuid4().hex


def test_it_accepts_the_bodies_its_document_calls_valid(fuzzed, agency):
    """For each operation with a body, the bodies Schemathesis generates as valid from
    the document are accepted (2xx), none refused with a 422: a document looser than
    validation fails here. (Other refusals, such as the limits on e-mails to clients,
    are the document's too, but may not take most of them.)"""
    schema, headers, tool = fuzzed
    template_id = _template(agency).id
    tally = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.method.upper() == "POST" and operation.body:
            tally[operation.label] = _tally(operation, headers, template_id, tool)
    print("\nGenerated as valid, by answer:", {label: dict(t[0]) for label, t in tally.items()})
    assert set(tally) == {
        "POST /api/v1/templates",
        "POST /api/v1/access-requests",
        "POST /api/v1/webhook-endpoints",
    }
    for label, (statuses, refused) in tally.items():
        assert not [r for r in refused if r[0] == 422], (label, dict(statuses), refused[:3])
        accepted = sum(n for status, n in statuses.items() if 200 <= status < 300)
        assert accepted >= 0.9 * sum(statuses.values()), (label, dict(statuses), refused[:3])


def _tally(operation, headers, template_id: int, tool: str) -> tuple[Counter, list]:
    """Answers to bodies generated as valid, by status, and the refused bodies."""
    statuses: Counter = Counter()
    refused: list = []

    @settings(max_examples=20, phases=[Phase.explicit, Phase.generate], **HYPOTHESIS)
    @given(case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE))
    def run(case):
        _with_real_state(case, template_id, tool)
        response = case.call(headers=headers)
        statuses[response.status_code] += 1
        if response.status_code >= 300:
            refused.append((response.status_code, case.body, response.json()))

    run()
    return statuses, refused


# ------------------------------------------------------------- the document


def _walk(node):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def test_its_document_patterns_are_regular_expressions_to_every_validator(client):
    """A pattern a validator cannot read is skipped by it: the rule silently vanishes."""
    document = client.get("/api/v1/openapi.json").get_json()
    patterns = {n["pattern"] for n in _walk(document) if isinstance(n.get("pattern"), str)}
    assert len(patterns) >= 4
    for pattern in patterns:
        jsonschema_rs.validator_for({"type": "string", "pattern": pattern})


CLIENT = {"name": "Blue Harbor", "email": "marketing@blueharbor.test"}
ITEM = {"platform": "pinterest", "asset_type": "AD_ACCOUNT", "permissions": ["ADMIN"]}
HOOK = {"url": "https://hooks.example/in", "events": ["*"]}


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/templates", {"name": "  ", "items": [ITEM]}),
        ("/templates", {"name": "T", "items": [{**ITEM, "platform": "myspace"}]}),
        ("/templates", {"name": "T", "items": [{**ITEM, "asset_type": "PAGE"}]}),
        ("/templates", {"name": "T", "items": [{**ITEM, "permissions": ["MANAGE"]}]}),
        ("/access-requests", {"client": CLIENT}),
        ("/access-requests", {"client": CLIENT, "items": None}),
        ("/access-requests", {"client": {**CLIENT, "name": "\u3000"}, "items": [ITEM]}),
        ("/access-requests", {"client": {**CLIENT, "email": "harbor"}, "items": [ITEM]}),
        ("/access-requests", {"client": {**CLIENT, "locale": "de"}, "items": [ITEM]}),
        ("/access-requests", {"client": CLIENT, "items": [ITEM], "expires_in_days": 91}),
        ("/access-requests", {"client": CLIENT, "items": [ITEM], "expires_in_days": 1.5}),
        ("/access-requests", {"client": CLIENT, "items": [ITEM], "redirect_url": "ftp://x.test"}),
        ("/access-requests", {"client": CLIENT, "items": [ITEM], "redirect_url": "https://"}),
        ("/webhook-endpoints", {**HOOK, "url": "https://user:pw@hooks.example/"}),
        ("/webhook-endpoints", {**HOOK, "url": "https://hooks.example/a b"}),
        ("/webhook-endpoints", {**HOOK, "url": "hooks.example"}),
    ],
)
def test_its_document_refuses_what_validation_refuses(client, agency, path, body):
    """Bodies the API answers 422 to are invalid by the document too."""
    from helpers_requests import fake_connection
    from test_api_support import api_key, bearer

    fake_connection(agency)
    response = client.post(f"/api/v1{path}", json=body, headers=bearer(api_key(agency)))
    assert response.status_code == 422, response.get_json()
    document = client.get("/api/v1/openapi.json").get_json()
    schema = document["paths"][f"/api/v1{path}"]["post"]["requestBody"]["content"]
    assert not _validator(document, schema["application/json"]["schema"]).is_valid(body)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/templates", {"name": "T", "items": [ITEM, {**ITEM, "permissions": ["ANALYST"]}]}),
        ("/access-requests", {"client": {**CLIENT, "locale": "fr"}, "items": [ITEM]}),
        ("/access-requests", {"client": CLIENT, "items": [ITEM], "expires_in_days": 30.0}),
        ("/access-requests", {"client": CLIENT, "items": [ITEM], "redirect_url": "https://x.test"}),
        ("/webhook-endpoints", {**HOOK, "description": "CRM", "events": ["grant.verified"]}),
    ],
)
def test_its_document_takes_what_validation_takes(client, agency, path, body):
    from helpers_requests import fake_connection
    from test_api_support import api_key, bearer

    fake_connection(agency)
    response = client.post(f"/api/v1{path}", json=body, headers=bearer(api_key(agency)))
    assert response.status_code == 201, response.get_json()
    document = client.get("/api/v1/openapi.json").get_json()
    schema = document["paths"][f"/api/v1{path}"]["post"]["requestBody"]["content"]
    assert _validator(document, schema["application/json"]["schema"]).is_valid(body)


def _validator(document: dict, schema: dict):
    """A validator of `schema`, with the document's components as definitions."""
    import json

    text = json.dumps({"$defs": document["components"]["schemas"], **schema})
    resolved = json.loads(text.replace("#/components/schemas/", "#/$defs/"))
    resolved["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return jsonschema_rs.validator_for(resolved, validate_formats=True)


def test_its_links_reach_every_operation_on_an_id(client):
    document = client.get("/api/v1/openapi.json").get_json()
    targets = {
        link["operationId"]
        for operations in document["paths"].values()
        for operation in operations.values()
        for answer in operation["responses"].values()
        for link in answer.get("links", {}).values()
    }
    on_an_id = {
        operation["operationId"]
        for path, operations in document["paths"].items()
        for operation in operations.values()
        if "{id}" in path
    }
    assert len(on_an_id) == len(ID_ROUTES)
    assert on_an_id <= targets
    assert "create_access_request" in targets  # with a template's id as template_id


def test_its_web_address_pattern_promises_no_more_than_the_checks_take(app):
    """What the document says a redirect_url or webhook url may be, both checks take."""
    from portal.api.schemas import WEB_ADDRESS_PATTERN
    from portal.inputs import web_address
    from portal.webhooks.ssrf import parse

    @settings(max_examples=300, **HYPOTHESIS)
    @given(url=st.from_regex(WEB_ADDRESS_PATTERN, fullmatch=True))
    def check(url):
        assert web_address(url) == url
        parse(url)

    check()
