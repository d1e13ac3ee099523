"""Trying to break the consent app: forged forms, foreign redirects, unknown agents, used links."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import expect
from sqlalchemy import update

from memoryos.universal import UniversalMemory
from memoryos_server.services.container import build_services
from memoryos_server.services.runtime import Runtime
from memoryos_server.storage.models import LinkToken
from memoryos_server.storage.types import utcnow
from tests.fixtures.app import LiveServer
from tests.fixtures.factories import TenantHandle
from tests.fixtures.passport import AgentHandle, create_agent, link_token, new_agent  # noqa: F401
from tests.web.browser import DESKTOP, PHONE, Person

pytestmark = pytest.mark.browser


def _session(person: Person) -> dict[str, str]:
    cookie = person.session_cookie()
    assert cookie is not None
    return {"X-MemoryOS-Session": cookie["value"]}


def _grants(client: TestClient, person: Person) -> list[dict[str, Any]]:
    response = client.get("/v1/uui/me/grants", headers=_session(person))
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


def test_a_forged_or_missing_csrf_token_changes_nothing(
    person: Callable[..., Person], client: TestClient, live_server: LiveServer, new_agent: Callable[..., AgentHandle]
) -> None:
    agent = new_agent(name="Careful Agent")
    fay = person("fay.forge@example.com")
    fay.sign_in()
    granted = client.post(
        "/v1/uui/me/grants", json={"agent_id": agent.id, "categories_allowed": ["goal"]}, headers=_session(fay)
    )
    assert granted.status_code == 200
    grant_id = granted.json()["data"]["id"]
    page = fay.page

    fay.open(f"/manage/agents/{grant_id}/revoke")  # the confirm page: its form is the one that revokes
    real_token = page.locator("input[name=csrf_token]").first.input_value()
    page.evaluate("document.querySelectorAll('input[name=csrf_token]').forEach(i => i.value = 'forged')")
    page.get_by_role("button", name="Revoke access").click()
    expect(page.get_by_role("heading", name="This form has expired")).to_be_visible()
    fay.shot("error-csrf")

    fay.open(f"/manage/agents/{grant_id}/revoke")
    page.evaluate("document.querySelectorAll('input[name=csrf_token]').forEach(i => i.remove())")
    page.get_by_role("button", name="Revoke access").click()
    expect(page.get_by_role("heading", name="This form has expired")).to_be_visible()

    # The right token, sent from another site: refused by the Origin check.
    cross_site = fay.context.request.post(
        f"{live_server.url}/manage/agents/{grant_id}/revoke",
        form={"csrf_token": real_token, "confirm": "yes"},
        headers={"Origin": "https://evil.example"},
        max_redirects=0,
    )
    assert cross_site.status == 403 and "This form has expired" in cross_site.text()
    # Signing out by a forged form does not happen either.
    forged_logout = fay.context.request.post(f"{live_server.url}/logout", form={"csrf_token": "forged"}, max_redirects=0)
    assert forged_logout.status == 403

    assert [g["status"] for g in _grants(client, fay)] == ["active"]
    fay.open("/manage/agents")
    expect(page.locator(".grant .badge", has_text="Active")).to_be_visible()


def test_an_unregistered_redirect_uri_is_refused(
    person: Callable[..., Person], client: TestClient, live_server: LiveServer, new_agent: Callable[..., AgentHandle]
) -> None:
    agent = new_agent(name="Registered Agent", redirect_uri="https://app.example/callback")
    evil = UniversalMemory.consent_url(agent.id, redirect_uri="https://evil.example/callback", state="s1", base_url=live_server.url)
    rex = person("rex.redirect@example.com")
    page = rex.page

    # Refused before anyone signs in, without a link or a redirect to the foreign address.
    with page.expect_response(lambda response: "/consent?" in response.url) as answer:
        rex.open(evil)
    assert answer.value.status == 400
    expect(page.get_by_role("heading", name="This link isn't allowed")).to_be_visible()
    expect(page).to_have_url(evil)
    expect(page.locator('a[href*="evil.example"], form[action*="evil.example"]')).to_have_count(0)
    rex.shot("error-redirect-uri")

    # Signed in, a tampered form fares no better, and nothing is granted.
    rex.sign_in()
    rex.open(UniversalMemory.consent_url(agent.id, state="s1", base_url=live_server.url))
    page.evaluate("document.querySelector('input[name=redirect_uri]').value = 'https://evil.example/callback'")
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("heading", name="This link isn't allowed")).to_be_visible()
    assert _grants(client, rex) == []

    # A look-alike of the registered URI is not the registered URI.
    for near in ("https://app.example/callback/", "https://app.example/callback?x=1", "https://app.example.evil.example/callback"):
        rex.open(UniversalMemory.consent_url(agent.id, redirect_uri=near, base_url=live_server.url))
        expect(page.get_by_role("heading", name="This link isn't allowed")).to_be_visible()


def test_unknown_refused_and_switched_off_agents_get_a_refusal_page(
    person: Callable[..., Person], runtime: Runtime, tenant: TenantHandle, client: TestClient
) -> None:
    uma = person("uma.unknown@example.com")
    page = uma.page
    for agent_id in (str(uuid.uuid4()), "not-an-agent", "'; DROP TABLE agents; --"):
        with page.expect_response(lambda response: "/consent?" in response.url) as answer:
            uma.open(UniversalMemory.consent_url(agent_id, base_url=uma.base_url))
        assert answer.value.status == 404
        expect(page.get_by_role("heading", name="We can't find this agent")).to_be_visible()
    uma.shot("error-unknown-agent")
    uma.open("/consent")
    expect(page.get_by_role("heading", name="This request isn't valid")).to_be_visible()

    rejected = create_agent(tenant, name="Shady Agent")
    with runtime.db.session() as session:
        build_services(runtime).agents.set_verification(session, rejected.id, "rejected", "impersonates a bank")
    switched_off = create_agent(tenant, name="Retired Agent")
    assert client.patch(f"/v1/agents/global/{switched_off.id}", json={"is_active": False}, headers=tenant.key_headers()).status_code == 200
    uma.sign_in()
    for agent in (rejected, switched_off):
        uma.open(UniversalMemory.consent_url(agent.id, base_url=uma.base_url))
        expect(page.get_by_role("heading", name="We can't find this agent")).to_be_visible()
        # The JSON API refuses the same grant: the rule lives in the service.
        response = client.post("/v1/uui/me/grants", json={"agent_id": agent.id, "categories_allowed": ["goal"]}, headers=_session(uma))
        assert response.status_code == 404 and response.json()["code"] == "AGN_404"


def test_the_secure_link_connects_once(
    person: Callable[..., Person],
    runtime: Runtime,
    live_server: LiveServer,
    new_tenant: Callable[..., TenantHandle],
) -> None:
    acme = new_tenant("Acme Support")
    copilot = create_agent(acme, name="Support Copilot", description="Answers your support questions with your approved context.")
    billing = create_agent(acme, name="Billing Helper")
    token = link_token(copilot, "cust_42")
    link = f"/connect?agent_id={copilot.id}&link_token={token}"
    cleo = person("cleo.connect@example.com")
    page = cleo.page

    cleo.sign_in(link)  # the link waits while she signs in
    expect(page).to_have_url(re.compile(r"/connect\?"))
    expect(page.get_by_role("heading", name="Connect your Acme Support account")).to_be_visible()
    expect(page.get_by_text("It shares none of your memories.")).to_be_visible()
    cleo.shot("connect")
    page.get_by_role("button", name="Connect account").click()

    # Connected; the agent's consent screen follows, and the connection alone shares nothing.
    expect(page).to_have_url(re.compile(rf"/consent\?agent_id={copilot.id}$"))
    expect(page.get_by_role("status")).to_contain_text("Your Acme Support account is connected")
    nothing_yet = UniversalMemory.resolve_user("cust_42", agent_api_key=copilot.key, base_url=live_server.url)
    assert nothing_yet.uui_token is None and nothing_yet.permission_error == "no_grant_for_user"
    page.get_by_role("checkbox", name=re.compile("^Preferences")).check()
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("heading", name="You're all set")).to_be_visible()
    resolved = UniversalMemory.resolve_user("cust_42", agent_api_key=copilot.key, base_url=live_server.url)
    assert resolved.uui_token and resolved.uui_token.startswith("uui_")

    cleo.open("/manage/connections")
    expect(page.locator(".connection")).to_contain_text("Acme Support")
    cleo.shot("manage-connections")
    page.set_viewport_size(PHONE)
    cleo.shot("manage-connections-phone")
    page.set_viewport_size(DESKTOP)

    # Used once: the same link now shows a clear page.
    with page.expect_response(lambda response: "/connect?" in response.url) as answer:
        cleo.open(link)
    assert answer.value.status == 410
    expect(page.get_by_role("heading", name="This link has expired or was already used")).to_be_visible()
    cleo.shot("error-link-used")

    # Expired before it was used: the same clear page.
    late = link_token(copilot, "cust_44")
    with runtime.db.session() as session:
        session.execute(
            update(LinkToken)
            .where(LinkToken.token_hash == runtime.hasher.hash(late, purpose="link_token"))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    cleo.open(f"/connect?agent_id={copilot.id}&link_token={late}")
    expect(page.get_by_role("heading", name="This link has expired or was already used")).to_be_visible()

    # A link made for one agent, opened in another's name.
    other = link_token(copilot, "cust_43")
    cleo.open(f"/connect?agent_id={billing.id}&link_token={other}")
    expect(page.get_by_role("heading", name="This link belongs to a different app")).to_be_visible()
    # ...and the consent URL variant with a link_token, used or mismatched.
    cleo.open(UniversalMemory.consent_url(copilot.id, link_token=token, base_url=live_server.url))
    expect(page.get_by_role("heading", name="This link has expired or was already used")).to_be_visible()
    cleo.open(UniversalMemory.consent_url(billing.id, link_token=other, base_url=live_server.url))
    expect(page.get_by_role("heading", name="This link belongs to a different app")).to_be_visible()

    # Disconnecting: resolve no longer finds her, though the grant stays.
    cleo.open("/manage/connections")
    page.get_by_role("link", name="Disconnect Acme Support").click()
    expect(page.get_by_role("heading", name="Disconnect your Acme Support account?")).to_be_visible()
    expect(page.locator(".connection")).to_have_count(0)  # asked, not yet done
    assert UniversalMemory.resolve_user("cust_42", agent_api_key=copilot.key, base_url=live_server.url).uui_token
    page.get_by_role("button", name="Disconnect").click()
    expect(page.get_by_role("status")).to_contain_text("Disconnected. Acme Support is no longer linked")
    expect(page.locator(".connection")).to_have_count(0)
    gone = UniversalMemory.resolve_user("cust_42", agent_api_key=copilot.key, base_url=live_server.url)
    assert gone.uui_token is None


def test_a_link_token_on_the_consent_url_connects_on_approval(
    person: Callable[..., Person], client: TestClient, live_server: LiveServer, new_tenant: Callable[..., TenantHandle]
) -> None:
    shop = new_tenant("Corner Shop")
    assistant = create_agent(shop, name="Shop Assistant")
    token = link_token(assistant, "shopper-7")
    lena = person("lena.link@example.com")
    lena.sign_in(UniversalMemory.consent_url(assistant.id, link_token=token, categories=["preference"], base_url=live_server.url))
    page = lena.page
    expect(page.get_by_text("Approving also connects your Corner Shop account")).to_be_visible()
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("heading", name="You're all set")).to_be_visible()
    assert [c["organisation_name"] for c in client.get("/v1/uui/me/connections", headers=_session(lena)).json()["data"]] == ["Corner Shop"]
    resolved = UniversalMemory.resolve_user("shopper-7", agent_api_key=assistant.key, base_url=live_server.url)
    assert resolved.uui_token is not None
