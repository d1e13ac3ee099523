"""A method an address does not take is a 405 that names every method it does take."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.fixtures.factories import TenantHandle


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("OPTIONS", "/v1/tenant/members", "GET, HEAD, POST"),
        ("PUT", "/v1/tenant/api-keys", "GET, HEAD, POST"),
        ("PATCH", "/v1/memories/add", "POST"),
        ("GET", "/v1/memories/retrieve", "POST"),
        ("OPTIONS", "/v1/memories/5f79c8c7-ba12-4fe1-9d37-2ceb05d17ab5", "DELETE, GET, HEAD, PATCH"),  # any id
    ],
)
def test_a_wrong_method_is_a_405_naming_every_method_the_address_takes(
    client: TestClient, tenant: TenantHandle, method: str, path: str, allowed: str
) -> None:
    answer = client.request(method, path, headers=tenant.key_headers("methods"))
    assert answer.status_code == 405, answer.text
    assert answer.headers["allow"] == allowed
    assert answer.json()["code"] == "REQ_405" and answer.json()["error"] == "method_not_allowed"


def test_a_word_where_a_memory_id_goes_is_not_read_as_a_bad_id(client: TestClient, tenant: TenantHandle) -> None:
    # /v1/memories/add is the add route's address: PATCH there is the wrong method, not a
    # malformed memory id; a path that is nobody's address is a 404.
    assert client.patch("/v1/memories/add", json={"content": "x"}, headers=tenant.key_headers()).status_code == 405
    assert client.get("/v1/memories/not-a-memory", headers=tenant.key_headers()).status_code == 404
