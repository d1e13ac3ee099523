"""SPEC §8: a cursor or limit this API never returned is a 4xx, never a 500, on every list route.

Integer cursors used to be checked with ``str.isdigit`` only, so a 26-digit number overflowed
the database's integer and ``"²"`` (a digit to Python, not to ``int``) raised in the route.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from memoryos_server.settings import Settings
from tests.fixtures.factories import TenantHandle, create_tenant
from tests.fixtures.passport import PassportHandle, client_from, fresh_ip, sign_in


@dataclass
class Callers:
    tenant: TenantHandle
    passport: PassportHandle


@pytest.fixture(scope="module")
def callers(app: FastAPI, client: TestClient, settings: Settings) -> Callers:
    tenant = create_tenant(client, "Pages")
    for n in range(3):
        added = client.post(
            "/v1/memories/add",
            json={"messages": [{"role": "user", "content": f"Fact number {n} about me."}], "infer": False},
            headers=tenant.key_headers(f"pager-{n}"),
        )
        assert added.status_code == 200, added.text
    return Callers(tenant, sign_in(app, client, settings))


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


LIST_ROUTES: dict[str, tuple[str, Callable[[Callers], dict[str, str]]]] = {
    "users": ("/v1/users", lambda c: c.tenant.key_headers()),
    "memories": ("/v1/memories", lambda c: c.tenant.key_headers("pager-0")),
    "workspace": ("/v1/workspace/memories", lambda c: c.tenant.jwt_headers()),
    "reviews": ("/v1/tenant/reviews", lambda c: c.tenant.jwt_headers()),
    "passport memories": ("/v1/uui/me/memories", lambda c: c.passport.headers()),
    "passport questions": ("/v1/uui/me/clarifications", lambda c: c.passport.headers()),
    "passport activity": ("/v1/uui/me/activity", lambda c: c.passport.headers()),
}

BAD_CURSORS = {
    "huge": "99999999999999999999999999",
    "int64 + 1": "9223372036854775808",
    "superscript digit": "²",
    "arabic digits": "\u0663\u0664",
    "negative": "-1",
    "exponent": "1e5",
    "padded": " 12",
    "prefixed huge": "o99999999999999999999",
    "prefixed superscript": "o²",
    "cursor with a foreign id": _b64("2024-01-01T00:00:00+00:00|not-a-row-id"),
    "cursor with NUL": _b64("2024-01-01T00:00:00+00:00|\x00"),
    "cursor with a huge date": _b64("9999-12-31T23:59:59+00:00|00000000-0000-0000-0000-000000000000"),
    "cursor, no zone": _b64("2024-01-01T00:00:00|00000000-0000-0000-0000-000000000000"),
}

BAD_LIMITS = {"zero": "0", "negative": "-5", "huge": "99999999999999999999999999", "too many": "201", "word": "ten"}


def _assert_refused(response) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code in (400, 422), (response.status_code, response.text)
    body = response.json()
    assert body["code"] == f"REQ_{response.status_code}" and body["request_id"]


@pytest.mark.parametrize("route", list(LIST_ROUTES))
def test_cursors_this_api_never_returned_are_never_a_500(client: TestClient, callers: Callers, route: str) -> None:
    path, headers = LIST_ROUTES[route]
    first = client.get(path, headers=headers(callers))
    assert first.status_code == 200, first.text
    answers = {name: client.get(path, params={"cursor": cursor}, headers=headers(callers)) for name, cursor in BAD_CURSORS.items()}
    failed = {name: (r.status_code, r.text[:200]) for name, r in answers.items() if r.status_code >= 500}
    assert not failed, failed
    for response in answers.values():
        if response.status_code != 200:  # a well-formed cursor for no row may just end the list
            _assert_refused(response)


# Row-id and offset cursors: plain ASCII digits within a 64-bit integer, one rule for the API and
# the pages (services/ids.py). "²" is a digit to str.isdigit but not to int; 20 digits overflow.
BAD_ROW_NUMBERS = (
    "99999999999999999999",
    "99999999999999999999999999",
    "9223372036854775808",
    "²",
    "1²",
    "\u0663\u0664",
    "-1",
    "1e5",
    " 1",
    "1 ",
    " 12",
    "+3",
    "",
)
LARGEST_ROW_NUMBER = "9223372036854775807"


@pytest.mark.parametrize("route", ["users", "passport activity"])
def test_integer_cursors_are_plain_bounded_numbers(client: TestClient, callers: Callers, route: str) -> None:
    path, headers = LIST_ROUTES[route]
    for cursor in BAD_ROW_NUMBERS:
        response = client.get(path, params={"cursor": cursor}, headers=headers(callers))
        assert response.status_code == 422, (cursor, response.status_code, response.text)
        _assert_refused(response)
        assert response.json()["details"][0]["loc"] == ["query", "cursor"]
    last = client.get(path, params={"cursor": LARGEST_ROW_NUMBER}, headers=headers(callers))
    assert last.status_code == 200, last.text


def test_offset_cursors_of_the_oldest_first_memory_list_are_plain_bounded_numbers(client: TestClient, callers: Callers) -> None:
    headers = callers.passport.headers()
    for number in BAD_ROW_NUMBERS:
        response = client.get("/v1/uui/me/memories", params={"sort": "oldest", "cursor": "o" + number}, headers=headers)
        assert response.status_code == 400, (number, response.status_code, response.text)
        _assert_refused(response)
        assert response.json()["error"] == "invalid_cursor"
    for unprefixed in ("3", "²", "oo3"):
        response = client.get("/v1/uui/me/memories", params={"sort": "oldest", "cursor": unprefixed}, headers=headers)
        assert response.status_code == 400 and response.json()["error"] == "invalid_cursor", (unprefixed, response.text)
    beyond = client.get("/v1/uui/me/memories", params={"sort": "oldest", "cursor": "o" + LARGEST_ROW_NUMBER}, headers=headers)
    assert beyond.status_code == 200 and beyond.json()["data"] == [], beyond.text


def test_the_activity_page_refuses_the_cursors_the_api_refuses(app: FastAPI, callers: Callers) -> None:
    browser = client_from(app, fresh_ip())
    browser.cookies.set("memoryos_uui_session", callers.passport.session_token)
    assert browser.get("/manage/activity").status_code == 200
    for cursor in BAD_ROW_NUMBERS:
        answer = browser.get("/manage/activity", params={"cursor": cursor})
        assert answer.status_code == 400, (cursor, answer.status_code, answer.text[:300])
        assert answer.headers["content-type"].startswith("text/html")
    last = browser.get("/manage/activity", params={"cursor": LARGEST_ROW_NUMBER})
    assert last.status_code == 200, last.text[:300]


@pytest.mark.parametrize("route", list(LIST_ROUTES))
def test_limits_out_of_range_are_refused(client: TestClient, callers: Callers, route: str) -> None:
    path, headers = LIST_ROUTES[route]
    for name, limit in BAD_LIMITS.items():
        response = client.get(path, params={"limit": limit}, headers=headers(callers))
        assert response.status_code == 422, (route, name, response.status_code, response.text)
        _assert_refused(response)


def test_returned_cursors_still_page_through_end_users(client: TestClient, callers: Callers) -> None:
    headers = callers.tenant.key_headers()
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params = {"limit": "1", **({"cursor": cursor} if cursor else {})}
        body = client.get("/v1/users", params=params, headers=headers).json()
        seen += [item["external_user_id"] for item in body["data"]]
        cursor = body["pagination"]["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == ["pager-0", "pager-1", "pager-2"]
