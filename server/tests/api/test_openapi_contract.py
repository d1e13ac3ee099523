"""/openapi.json describes every answer: bodies, our error envelope, credentials.

The suite checks every real answer against the document as it goes (tests/fixtures/contract.py);
these tests check the document itself, and that the check catches a body that drifted.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from pydantic import BaseModel

from tests.fixtures.contract import RECORD, ContractCheck

# Answers that are not JSON on purpose: Prometheus text.
NOT_JSON = {("get", "/metrics")}


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if method in ("get", "post", "put", "patch", "delete")
    ]


def test_every_operation_declares_its_success_body(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    missing = []
    for method, path, operation in _operations(document):
        if (method, path) in NOT_JSON:
            continue
        success = [code for code in operation["responses"] if code.startswith("2")]
        schemas = [operation["responses"][code].get("content", {}).get("application/json", {}).get("schema") for code in success]
        if not schemas or any(schema in (None, {}) for schema in schemas):
            missing.append(f"{method.upper()} {path}")
    assert missing == []


def test_errors_are_declared_with_our_envelope_not_fastapis(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert "HTTPValidationError" not in document["components"]["schemas"]
    envelope = document["components"]["schemas"]["ErrorOut"]
    assert set(envelope["required"]) >= {"error", "code", "request_id", "timestamp"}
    for method, path, operation in _operations(document):
        if path.startswith("/v1/"):
            for status in ("400", "401", "403", "404", "422", "429"):
                schema = operation["responses"][status]["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorOut"}, (method, path, status)


def test_every_v1_operation_names_its_credential_or_none(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    schemes = document["components"]["securitySchemes"]
    assert {"TenantApiKey", "Bearer", "AgentKey", "PassportUUI", "PassportSession"} <= set(schemes)
    by_path = {(method, path): operation.get("security") for method, path, operation in _operations(document)}
    assert by_path[("post", "/v1/memories/add")] == [{"TenantApiKey": []}, {"TenantApiKeyHeader": []}, {"Bearer": []}]
    assert by_path[("post", "/v1/universal/memories/retrieve")] == [{"AgentKey": [], "PassportUUI": []}]
    assert by_path[("post", "/v1/universal/consent/exchange")] == [{"AgentKey": []}]
    assert by_path[("get", "/v1/uui/me/grants")] == [{"PassportSession": []}, {"PassportCookie": []}]
    # Public on purpose: no credential at all.
    for public in [("get", "/v1/agents/global/{agent_id}"), ("post", "/v1/uui/otp/send"), ("post", "/v1/auth/login")]:
        assert by_path[public] == [], public
    for key, security in by_path.items():
        assert security is not None, key  # every operation says, even "none"
        for requirement in security:
            assert set(requirement) <= set(schemes), key


class _Thing(BaseModel):
    id: str
    count: int


def test_the_suites_check_catches_a_body_that_drifted_from_the_document() -> None:
    app = FastAPI()

    @app.get("/thing", response_model=_Thing)
    def thing() -> JSONResponse:
        return JSONResponse({"id": "t1", "count": "many"})  # bypasses the model, as a hand-built body could

    checked = ContractCheck(app, document=app.openapi)
    before = len(RECORD.violations)
    with TestClient(checked) as test_client:
        assert test_client.get("/thing").status_code == 200
    try:
        assert len(RECORD.violations) == before + 1
        assert RECORD.violations[-1].startswith("GET /thing → 200: count:")
    finally:
        del RECORD.violations[before:]  # the drift was this test's own, on purpose

