"""A body nested thousands of levels deep is malformed input like any other: a 400 in the error
envelope, before or after authentication, on every route that reads JSON; never a 500 with a
traceback in the log. (Python's JSON parser raises RecursionError, not ValueError, on it.)"""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from tests.fixtures.factories import TenantHandle

DEEP_ARRAY = b"[" * 100_000 + b"]" * 100_000
DEEP_OBJECT = b'{"a":' * 5_000 + b"1" + b"}" * 5_000


@pytest.mark.parametrize("body", [DEEP_ARRAY, DEEP_OBJECT], ids=["array", "object"])
def test_a_deeply_nested_body_is_refused_as_malformed(client: TestClient, tenant: TenantHandle, body: bytes, caplog: pytest.LogCaptureFixture) -> None:
    json_type = {"Content-Type": "application/json"}
    metadata = b'{"messages":[{"role":"user","content":"hi"}],"metadata":' + body + b"}"
    calls = [
        ("POST", "/v1/auth/login", body, json_type),
        ("POST", "/v1/auth/signup", body, json_type),
        ("POST", "/v1/memories/add", body, {**json_type, **tenant.key_headers("deep")}),
        ("POST", "/v1/memories/add", metadata, {**json_type, **tenant.key_headers("deep")}),
        ("PATCH", f"/v1/memories/{uuid.uuid4()}", body, {**json_type, **tenant.key_headers("deep")}),
    ]
    for method, path, content, headers in calls:
        response = client.request(method, path, content=content, headers=headers)
        assert response.status_code == 400, (path, response.status_code, response.text[:300])
        assert response.json()["error"] == "malformed_json", (path, response.text[:300])
    assert "RecursionError" not in caplog.text
    listed = client.get("/v1/memories", headers=tenant.key_headers("deep"))
    assert listed.status_code == 200 and listed.json()["data"] == []  # nothing was stored


def test_dynamic_client_registration_refuses_a_deeply_nested_body(client: TestClient) -> None:
    response = client.post("/register", content=DEEP_ARRAY, headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text[:300]
    assert response.json()["error"] == "invalid_client_metadata"
