"""Schema-driven fuzzing: schemathesis generates requests from the served
OpenAPI document and sends them to the app in-process, with a valid key.
No answer may be a 500, and every answer must match the document."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis import checks as st_checks
from schemathesis.specs.openapi import checks as oa_checks

CHECKS = [
    st_checks.not_a_server_error,
    oa_checks.status_code_conformance,
    oa_checks.content_type_conformance,
    oa_checks.response_schema_conformance,
]


def test_it_survives_schema_driven_fuzzing_and_matches_its_document(app, agency):
    from helpers_requests import fake_connection
    from test_api_support import api_key, bearer

    fake_connection(agency)
    headers = bearer(api_key(agency))
    app.config["API_RATE_LIMIT"] = "100000 per minute"
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    failures = []
    calls = 0
    try:
        for operation in schema.get_all_operations():
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                run = _fuzzer(operation.ok(), mode, headers, failures)
                calls += run()
    finally:
        app.config.pop("API_RATE_LIMIT", None)
    assert not failures, failures
    assert calls > 150


def _fuzzer(op, mode, headers, failures):
    """A hypothesis test for one operation; returns a function giving its call count."""
    count = [0]

    @settings(
        max_examples=15,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=op.as_strategy(generation_mode=mode))
    def run(case):
        count[0] += 1
        response = case.call(headers=headers)
        try:
            case.validate_response(response, checks=CHECKS)
        except Exception as exc:
            failures.append(f"{op.label}: {exc}")
            raise

    def go() -> int:
        run()
        return count[0]

    return go
