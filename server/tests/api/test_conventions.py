"""SPEC §5 conventions that hold on every route: ids, timestamps, the error envelope, limits."""

from __future__ import annotations

from datetime import datetime

from fastapi.testclient import TestClient

from tests.fixtures.factories import TenantHandle


def _assert_envelope(body: dict) -> None:  # type: ignore[type-arg]
    assert body["request_id"].startswith("req_")
    assert datetime.fromisoformat(body["timestamp"]).tzinfo is not None


def test_success_and_error_bodies_carry_request_id_and_timestamp(client: TestClient, tenant: TenantHandle) -> None:
    ok = client.get("/v1/users", headers=tenant.key_headers())
    _assert_envelope(ok.json())
    assert ok.headers["x-request-id"] == ok.json()["request_id"]
    assert ok.headers["x-memoryos-quota-mode"] == "FULL"
    assert ok.headers["x-memoryos-processing"] == "normal"
    for response in (
        client.get("/v1/users"),
        client.get("/v1/users", headers={"X-API-Key": "mem_wrong"}),
        client.get("/v1/no-such-route", headers=tenant.key_headers()),
        client.put("/v1/users", headers=tenant.key_headers()),
    ):
        body = response.json()
        _assert_envelope(body)
        assert set(body) >= {"error", "code", "request_id", "details"}
        assert body["code"].isupper() and "_" in body["code"]


def test_unknown_route_and_method(client: TestClient) -> None:
    assert client.get("/v1/nope").json()["code"] == "REQ_404"
    wrong_method = client.put("/v1/auth/login")
    assert wrong_method.status_code == 405 and wrong_method.json()["code"] == "REQ_405"


def test_malformed_json_and_wrong_types(client: TestClient, tenant: TenantHandle) -> None:
    malformed = client.post("/v1/auth/login", content=b'{"email": ', headers={"Content-Type": "application/json"})
    assert malformed.status_code == 400 and malformed.json()["error"] == "malformed_json"
    wrong_types = client.post("/v1/auth/login", json={"email": ["a"], "password": 12})
    assert wrong_types.status_code == 422 and wrong_types.json()["code"] == "REQ_422"
    not_an_object = client.post("/v1/auth/login", json=[1, 2, 3])
    assert not_an_object.status_code == 422
    # An unknown field, from a caller allowed to create keys: refused by name, and nothing made.
    extra_field = client.post("/v1/tenant/api-keys", json={"name": "x", "admin": True}, headers=tenant.jwt_headers())
    assert extra_field.status_code == 422 and extra_field.json()["code"] == "REQ_422"
    assert {"loc": ["body", "admin"], "type": "extra_forbidden"}.items() <= extra_field.json()["details"][0].items()
    assert len(client.get("/v1/tenant/api-keys", headers=tenant.jwt_headers()).json()["data"]) == 1


def test_a_10_mb_body_is_refused_before_it_is_read(client: TestClient, tenant: TenantHandle) -> None:
    response = client.post(
        "/v1/tenant/api-keys",
        content=b'{"name": "' + b"x" * (10 * 1024 * 1024) + b'"}',
        headers={**tenant.jwt_headers(), "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["code"] == "REQ_413"
    listed = client.get("/v1/tenant/api-keys", headers=tenant.jwt_headers()).json()["data"]
    assert len(listed) == 1  # nothing was created


def test_a_chunked_oversized_body_is_refused_too(client: TestClient, tenant: TenantHandle) -> None:
    def chunks():  # type: ignore[no-untyped-def]
        yield b'{"name": "'
        for _ in range(12):
            yield b"y" * (1024 * 1024)
        yield b'"}'

    response = client.post(
        "/v1/tenant/api-keys", content=chunks(), headers={**tenant.jwt_headers(), "Content-Type": "application/json"}
    )
    assert response.status_code == 413


def test_health_readiness_metrics_and_openapi(client: TestClient) -> None:
    assert client.get("/healthz").json()["data"]["status"] == "ok"
    ready = client.get("/readyz").json()["data"]
    assert ready["status"] == "ready" and ready["schema_revision"]
    client.get("/v1/no-such-route")
    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    assert "memoryos_http_requests_total" in metrics.text
    assert 'route="/healthz"' in metrics.text
    spec = client.get("/openapi.json").json()
    assert spec["info"]["title"] == "MemoryOS"
    for path in ("/v1/auth/login", "/v1/tenant/api-keys", "/v1/users/{external_user_id}/export", "/v1/oauth/token"):
        assert path in spec["paths"], path
    assert client.get("/docs").status_code == 200


def test_secrets_never_reach_the_logs(client: TestClient, tenant: TenantHandle, caplog) -> None:  # type: ignore[no-untyped-def]
    import logging

    with caplog.at_level(logging.DEBUG):
        client.get("/v1/users", headers={**tenant.key_headers(), "X-End-User-ID": "private-customer-id"})
        client.post("/v1/auth/login", json={"email": tenant.owner_email, "password": "wrong-password-value"})
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert tenant.api_key not in logged
    assert "wrong-password-value" not in logged
    assert "private-customer-id" not in logged


def test_an_unexpected_error_is_one_500_with_one_request_id_logged_once(runtime, caplog) -> None:  # type: ignore[no-untyped-def]
    import logging

    from memoryos_server.app import create_app

    app = create_app(runtime.settings, runtime=runtime, migrate=False)

    @app.get("/v1/test-only/boom")
    def boom() -> None:
        raise RuntimeError("internal detail that must stay on the server")

    # raise_server_exceptions=True: had the exception left the app, the client would raise it
    # here, and the server in front of the app would have logged its traceback a second time.
    with TestClient(app) as test_client, caplog.at_level(logging.INFO):
        response = test_client.get("/v1/test-only/boom?link_token=plink_hidden")
    assert response.status_code == 500
    body = response.json()
    assert body["error"] == "internal_error" and body["code"] == "SRV_500"
    _assert_envelope(body)
    assert response.headers["x-request-id"] == body["request_id"]
    assert "internal detail" not in response.text and "Traceback" not in response.text
    with_trace = [record for record in caplog.records if record.exc_info]
    assert len(with_trace) == 1
    logged = with_trace[0]
    assert logged.levelno == logging.ERROR and logged.request_id == body["request_id"]  # type: ignore[attr-defined]
    assert "RuntimeError" in logged.getMessage() and "/v1/test-only/boom" in logged.getMessage()
    assert "plink_hidden" not in logged.getMessage()
    access = [record for record in caplog.records if record.name == "memoryos.access"]
    assert access and access[-1].status == 500  # type: ignore[attr-defined]
