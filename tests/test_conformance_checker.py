"""The conformance checker catches each kind of mismatch with a description."""

from __future__ import annotations

import pytest

from tests.conformance.checker import check, explain
from tests.conformance.model import Operation, Spec
from tests.conformance.recorder import Call, TrackedDict, parse_sandbox_url, track

DOCUMENT = {
    "components": {
        "schemas": {
            "Business": {
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "business_roles": {
                        "type": "array",
                        "items": {"type": "string", "enum": ["EMPLOYEE", "BIZ_ADMIN"]},
                    },
                },
            },
            "Page": {
                "type": "object",
                "properties": {
                    "items": {"type": "array", "items": {"$ref": "#/components/schemas/Business"}},
                    "bookmark": {"type": ["string", "null"]},
                },
            },
        }
    }
}
INVITE = {
    "type": "object",
    "required": ["invite_type"],
    "properties": {
        "invite_type": {"type": "string", "enum": ["PARTNER_REQUEST"]},
        "partners": {"type": "array", "items": {"type": "string"}},
    },
}
SPEC = Spec(
    name="Example API v5",
    platform="example",
    base_urls=("https://api.example.com/v5",),
    source="tests/platform_specs/example.json",
    document=DOCUMENT,
    operations=[
        Operation(
            "GET",
            "/businesses/employers",
            "employers/list",
            "#/paths/~1businesses~1employers/get",
            query={
                "page_size": {"type": "integer", "maximum": 250},
                "bookmark": {"type": "string"},
            },
            response={"$ref": "#/components/schemas/Page"},
        ),
        Operation(
            "POST",
            "/businesses/{business_id}/invites",
            "invites/create",
            "#/paths/~1businesses~1{business_id}~1invites/post",
            body=INVITE,
            body_media="application/json",
            response={"type": "object", "properties": {"items": {"type": "array"}}},
        ),
    ],
)


def call(method, path, query=None, body=None, response=None, status=200):
    return Call(
        "example",
        method,
        f"https://api.example.com/v5{path}",
        query or {},
        body,
        "application/json" if body is not None else None,
        status=status,
        response=response,
    )


def problems(c, with_reads=False):
    match = check([SPEC], c, with_reads=with_reads)
    assert match is not None
    return list(match.problems) if match.operation else ["no operation"]


def test_it_accepts_a_call_as_described():
    c = call(
        "GET",
        "/businesses/employers",
        {"page_size": ["25"]},
        response={"items": [{"id": "1", "business_roles": ["BIZ_ADMIN"]}], "bookmark": None},
    )
    assert problems(c) == []


def test_it_refuses_an_operation_the_description_lacks():
    match = check([SPEC], call("GET", "/user_account/businesses"))
    assert match.operation is None
    assert "no such operation" in explain(call("GET", "/x"), match)


def test_it_refuses_an_undeclared_query_parameter_and_a_bad_value():
    found = problems(call("GET", "/businesses/employers", {"page_size": ["999"], "role": ["x"]}))
    assert any("`role` is not declared" in p for p in found)
    assert any("page_size" in p and "999" in p for p in found)


def test_it_refuses_an_undeclared_body_field_a_bad_enum_and_a_missing_field():
    found = problems(call("POST", "/businesses/42/invites", body={"invite_type": "MEMBER", "x": 1}))
    assert any("`x` is not declared" in p for p in found)
    assert any("MEMBER" in p for p in found)
    found = problems(call("POST", "/businesses/42/invites", body={"partners": ["1"]}))
    assert any("invite_type" in p and "required" in p for p in found)


def test_it_refuses_an_answer_field_the_platform_does_not_send():
    c = call("GET", "/businesses/employers", response={"items": [{"id": "1", "name": "Acme"}]})
    assert any("items.[].name" in p for p in problems(c))


def test_it_refuses_a_read_of_an_undeclared_field():
    c = call("GET", "/businesses/employers", response={"items": [{"id": "1"}]})
    body = track(c.response, (), c.reads)
    assert isinstance(body, TrackedDict)
    for item in body["items"]:
        item.get("two_factor_enabled")
        item.get("business_roles")
    found = problems(c, with_reads=True)
    assert found == [
        "the connector reads `items.[].two_factor_enabled`, which the operation does not declare"
    ]


def test_it_reads_sandbox_addresses():
    url = "http://127.0.0.1:5000/sandbox/pinterest/api.pinterest.com/v5/businesses/employers?x=1"
    assert parse_sandbox_url(url) == (
        "pinterest",
        "https://api.pinterest.com/v5/businesses/employers",
    )
    assert parse_sandbox_url("http://127.0.0.1:5000/r/abc") is None


@pytest.mark.parametrize("status", [400, 404, 429])
def test_it_leaves_error_answers_to_the_error_shapes(status):
    c = call("GET", "/businesses/employers", response={"code": 8, "message": "no"}, status=status)
    assert problems(c, with_reads=True) == []


def test_the_whole_suite_must_exercise_exactly_the_operations_connectors_call():
    from tests.conformance.operations import CALLED
    from tests.conformance.plugin import inventory_problems

    everything = {(p, m, path) for p, ops in CALLED.items() for m, path in ops}
    assert inventory_problems(everything) == []
    one = sorted(everything)[0]
    assert inventory_problems(everything - {one}) == [
        f"no test exercises {one[0]} {one[1]} {one[2]}, which the connector calls: add one"
    ]
    extra = ("pinterest", "GET", "/user_account/businesses")
    assert inventory_problems(everything | {extra}) == [
        "pinterest GET /user_account/businesses was called but is not in "
        "tests/conformance/operations.py: add it"
    ]
