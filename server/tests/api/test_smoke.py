from tests.fixtures.factories import TenantHandle


def test_signup_key_and_readiness(client, tenant: TenantHandle) -> None:
    response = client.get("/v1/users", headers=tenant.key_headers())
    assert response.status_code == 200
    assert response.json()["pagination"]["total"] == 0
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.text
