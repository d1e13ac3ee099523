"""The dashboard and the operator console in a real browser: seed 001's Step 0 and Step 1.

A company signs up, creates a Passport agent, copies its key (shown once) and builds a consent
URL; a person approves it in a browser of their own; the dashboard counts one grant; the agent's
backend, with the copied key, reads the person's context with our SDK. Then: rotating the key,
the connector link for one test user, a viewer's read-only pages, and an operator's verification
removing the consent screen's "not reviewed" warning.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect

from memoryos import MemoryOSError
from memoryos.universal import UniversalMemory
from memoryos_server.services.container import build_services
from memoryos_server.services.runtime import Runtime
from tests.fixtures.app import LiveServer
from tests.fixtures.factories import PASSWORD, TenantHandle
from tests.fixtures.passport import create_agent
from tests.web.browser import DESKTOP, PHONE, AgentBackend, Person
from tests.web.test_browser_accessibility import _check

pytestmark = pytest.mark.browser


def _sign_up(company: Person, organisation: str) -> None:
    page = company.open("/dashboard")
    expect(page).to_have_url(re.compile(r"/dashboard/login\?next="))
    page.get_by_role("link", name="Create your account and organisation").click()
    page.get_by_label("Organisation name").fill(organisation)
    page.get_by_label("Email address").fill(company.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(re.compile(r"/dashboard/passport$"))
    expect(page.get_by_role("status")).to_contain_text(f"{organisation} is ready")


def _sign_in(member: Person, password: str = PASSWORD) -> None:
    page = member.open("/dashboard/login")
    page.get_by_label("Email address").fill(member.email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/dashboard$"))


def _create_agent(company: Person, name: str, *, redirect_uri: str = "", categories: tuple[str, ...] = ("Preferences", "Goals")) -> tuple[str, str]:
    page = company.open("/dashboard/passport")
    create = page.locator("details#create")
    if create.get_attribute("open") is None:
        create.locator("summary").click()
    page.get_by_label("Agent name").fill(name)
    page.get_by_label("Website").fill("https://support-copilot.example")
    page.get_by_label("Logo URL").fill("")
    page.get_by_label("Description").fill("Customer support agent with access to approved user context.")
    for label in categories:
        create.get_by_role("checkbox", name=re.compile(f"^{label}")).check()
    page.get_by_label("Redirect URIs").fill(redirect_uri)
    page.get_by_role("button", name="Create Passport agent").click()
    expect(page.get_by_role("status")).to_contain_text("you cannot see it again")
    key = page.locator("#shown-once").input_value()
    agent_id = page.locator("#agent-id").input_value()
    assert key.startswith("agent_sk_") and len(agent_id) == 36
    expect(page.get_by_text("Pending MemoryOS review").first).to_be_visible()
    return agent_id, key


def _build_consent_url(page: Page, *, categories: tuple[str, ...], state: str, redirect_uri: str) -> str:
    builder = page.locator("#consent-url")
    for box in builder.get_by_role("checkbox").all():
        box.uncheck()
    for label in categories:
        builder.get_by_role("checkbox", name=re.compile(f"^{label}")).check()
    builder.get_by_label("State").fill(state)
    builder.get_by_label("Redirect URI").select_option(redirect_uri)
    builder.get_by_role("button", name="Build consent URL").click()
    return page.locator("#built-url").input_value()


def test_step_0_to_step_1_end_to_end(person: Callable[..., Person], live_server: LiveServer) -> None:
    backend = AgentBackend(api_url=live_server.url, name="Support Copilot").start()
    try:
        # --- Step 0: the company signs up and creates its Passport agent ---------------------------
        company = person(f"dev-{secrets.token_hex(4)}@acme.example")
        _sign_up(company, "Acme Support")
        company.shot("dashboard-passport-empty")
        agent_id, key = _create_agent(company, "Support Copilot", redirect_uri=backend.redirect_uri)
        page = company.page
        company.shot("dashboard-agent-key-once")
        page.reload()
        expect(page.locator("#shown-once")).to_have_count(0)  # shown exactly once
        assert key not in page.content()

        # --- Step 1: the consent URL, as the SDK writes it ------------------------------------------
        state = "optional_user_session_state"
        url = _build_consent_url(page, categories=("Preferences", "Facts"), state=state, redirect_uri=backend.redirect_uri)
        assert url == UniversalMemory.consent_url(
            agent_id, redirect_uri=backend.redirect_uri, state=state, categories=["preference", "fact"], base_url=live_server.url
        )
        company.shot("dashboard-consent-url")
        page.set_viewport_size(PHONE)
        company.shot("dashboard-agent-phone")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        page.set_viewport_size(DESKTOP)

        # --- A person approves it, in a browser of their own -----------------------------------------
        backend.agent_id, backend.agent_key, backend.expected_state = agent_id, key, state
        maya = person(f"maya-{secrets.token_hex(4)}@example.com")
        maya.sign_in(url)
        expect(maya.page.get_by_role("heading", name="Support Copilot wants to use your Memory Passport")).to_be_visible()
        expect(maya.page.get_by_text("MemoryOS hasn't reviewed this agent yet.")).to_be_visible()
        maya.page.get_by_role("radio", name=re.compile("^Read and write")).check()
        maya.page.get_by_role("button", name="Approve").click()
        expect(maya.page.locator("#result")).to_have_text(re.compile("Memory Passport connected"))
        uui = backend.callbacks[-1].uui_token
        assert uui and uui.startswith("uui_"), backend.callbacks[-1].exchange_error

        # --- The dashboard counts one grant, per category ------------------------------------------------
        page.reload()
        expect(page.get_by_text("1 person has an active grant")).to_be_visible()
        expect(page.get_by_role("row", name="Preferences 1")).to_be_visible()
        expect(page.get_by_role("row", name="Goals 0")).to_be_visible()
        assert maya.email not in page.content()
        company.shot("dashboard-agent-grants")

        # --- The agent's SDK call with the copied key returns context --------------------------------
        with UniversalMemory(agent_api_key=key, uui_token=uui, base_url=live_server.url) as memory:
            memory.add(messages=[{"role": "user", "content": "Please remember that I prefer short answers with examples."}])
            seen = memory.get(query="how does this person like answers", limit=10)
        assert seen.has_context and "short answers" in seen.system_prompt_addition.lower()
    finally:
        backend.stop()


def test_rotate_makes_the_old_key_fail(person: Callable[..., Person], live_server: LiveServer, tenant: TenantHandle) -> None:
    company = person(tenant.owner_email)
    _sign_in(company)
    agent_id, old = _create_agent(company, "Rotating Agent")
    page = company.page
    page.get_by_role("button", name="Rotate key").click()
    expect(page.get_by_role("status")).to_contain_text("The old key of Rotating Agent stopped working")
    new = page.locator("#shown-once").input_value()
    assert new.startswith("agent_sk_") and new != old
    with pytest.raises(MemoryOSError):
        UniversalMemory.resolve_user("someone", agent_api_key=old, base_url=live_server.url)
    UniversalMemory.resolve_user("someone", agent_api_key=new, base_url=live_server.url)


def test_the_connector_link_completes_connect(person: Callable[..., Person], live_server: LiveServer, tenant: TenantHandle) -> None:
    company = person(tenant.owner_email)
    _sign_in(company)
    _agent_id, _key = _create_agent(company, "Linked Agent")
    page = company.page
    page.get_by_label("Your app's id for the test user").fill("test-user-42")
    page.get_by_role("button", name="Generate connector link").click()
    expect(page.get_by_role("status")).to_contain_text("Use it only to check one user flow during development")
    link = page.locator("#shown-once").input_value()
    assert link.startswith(f"{live_server.url}/connect?agent_id=")
    company.shot("dashboard-connector-link")

    tester = person(f"tester-{secrets.token_hex(4)}@example.com")
    tester.sign_in(link)
    expect(tester.page.get_by_role("heading", name=re.compile(r"^Connect your .+ account$"))).to_be_visible()
    tester.page.get_by_role("button", name="Connect account").click()
    expect(tester.page.get_by_role("heading", name="Linked Agent wants to use your Memory Passport")).to_be_visible()
    tester.open("/manage/connections")
    expect(tester.page.locator(".connection")).to_have_count(1)


def test_a_viewer_sees_no_create_buttons(person: Callable[..., Person], tenant: TenantHandle) -> None:
    viewer = tenant.add_member("viewer")
    browser = person(viewer.email)
    _sign_in(browser)
    page = browser.page
    expect(page.get_by_role("link", name="Memory Passport")).to_have_count(0)
    expect(page.get_by_role("link", name="API keys")).to_have_count(0)
    page.get_by_role("navigation", name="Dashboard").get_by_role("link", name="Members").click()
    expect(page.get_by_role("cell", name=tenant.owner_email)).to_be_visible()
    for name in ("Send invitation", "Change role", "Remove", "Create API key", "Create Passport agent"):
        expect(page.get_by_role("button", name=name)).to_have_count(0)
    browser.shot("dashboard-members-viewer")
    # The form a developer would see, posted by hand from this viewer's session: refused.
    token = page.locator("input[name=csrf_token]").first.input_value()
    refused = browser.context.request.post(
        f"{browser.base_url}/dashboard/passport/agents", form={"csrf_token": token, "name": "Forged"}, headers={"Origin": browser.base_url}
    )
    assert refused.status == 403


def test_operator_verification_removes_the_consent_warning(person: Callable[..., Person], live_server: LiveServer, tenant: TenantHandle, runtime: Runtime) -> None:
    company = person(tenant.owner_email)
    _sign_in(company)
    agent_id, _key = _create_agent(company, f"Reviewed Agent {secrets.token_hex(2)}")

    maya = person(f"maya-{secrets.token_hex(4)}@example.com")
    maya.sign_in(UniversalMemory.consent_url(agent_id, base_url=live_server.url))
    expect(maya.page.get_by_text("MemoryOS hasn't reviewed this agent yet.")).to_be_visible()

    email = f"ops-{secrets.token_hex(4)}@example.com"
    services = build_services(runtime)
    with runtime.db.session() as session:
        services.identity.create_dashboard_user(session, email=email, password=PASSWORD, tenant=None, platform_role="admin")
    ops = person(email)
    page = ops.open("/admin")
    expect(page).to_have_url(re.compile(r"/dashboard/login\?next=%2Fadmin"))
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/admin$"))
    card = page.locator(f"#agent-{agent_id}")
    expect(card).to_contain_text("Acme")
    ops.shot("admin-agents")
    card.get_by_role("button", name=re.compile("^Verify")).click()
    expect(page.get_by_role("status")).to_contain_text("is verified")

    maya.page.reload()
    expect(maya.page.get_by_text("Verified by MemoryOS")).to_be_visible()
    expect(maya.page.get_by_text("MemoryOS hasn't reviewed this agent yet.")).to_have_count(0)
    company.open("/dashboard/passport")
    expect(company.page.get_by_text("Verified by MemoryOS").first).to_be_visible()



def _fits_a_phone(member: Person, path: str) -> None:
    """Open ``path`` on a phone: nothing wider than its 390 px. The page stays at phone size
    (for a picture) until the next ``open`` at laptop size."""
    page = member.page
    page.set_viewport_size(PHONE)
    member.open(path)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{path} is {width}px wide on a phone"
    _check(page, tabs=False)  # labelled controls, one h1, a focus ring, no table scrolling sideways


def test_every_page_in_pictures_and_on_a_phone(
    person: Callable[..., Person], live_server: LiveServer, tenant: TenantHandle, client: TestClient, runtime: Runtime
) -> None:
    """Each page of the dashboard and the console, laptop and phone: nothing wider than 390 px."""
    visitor = person("visitor@example.com")
    visitor.open("/dashboard/login")
    visitor.shot("dashboard-login")
    _fits_a_phone(visitor, "/dashboard/login")
    visitor.shot("dashboard-login-phone")
    visitor.page.set_viewport_size(DESKTOP)
    visitor.open("/dashboard/signup")
    visitor.shot("dashboard-signup")
    _fits_a_phone(visitor, "/dashboard/signup")
    visitor.shot("dashboard-signup-phone")

    # Some of everything: an agent with a grant, an end-user's memories, a review, a source event.
    agent_id = create_agent(tenant, name="Support Copilot", website_url="https://support-copilot.example",
                            description="Customer support agent with access to approved user context.",
                            default_categories_requested=["preference", "fact"]).id
    maya = person(f"maya-{secrets.token_hex(4)}@example.com")
    maya.sign_in(UniversalMemory.consent_url(agent_id, base_url=live_server.url))
    maya.page.get_by_role("button", name="Approve").click()
    for text in ("I live in Lisbon and I am allergic to peanuts.", "I prefer short answers with examples."):
        client.post("/v1/memories/add", json={"messages": [{"role": "user", "content": text}]}, headers=tenant.key_headers("alice"))
    client.post("/v1/memories/retrieve", json={"query": "food"}, headers=tenant.key_headers("alice"))
    for text in ("Our support line opens at 8am", "Our support line opens at 9am"):
        client.post("/v1/workspace/memories/add", json={"messages": [{"role": "user", "content": text}]}, headers=tenant.jwt_headers())
    client.post("/v1/tenant/service-writers", json={"service_key": "billing-service", "display_name": "Billing"}, headers=tenant.jwt_headers())
    client.post(
        "/v1/memories/add",
        json={"external_user_id": "alice", "messages": [{"role": "assistant", "content": "Alice's plan is Pro."}],
              "source": {"service": "billing-service", "event_id": "invoice_evt_8842"}},
        headers=tenant.key_headers(),
    )
    client.app.state.services.memory.flush_access()  # type: ignore[attr-defined]  # as its worker does every few seconds
    tenant.add_member("developer")

    owner = person(tenant.owner_email)
    _sign_in(owner)
    alice = client.get("/v1/users/alice", headers=tenant.key_headers()).json()["data"]["public_id"]
    def visit(path: str) -> None:
        owner.page.set_viewport_size(DESKTOP)
        owner.open(path)
        expect(owner.page.get_by_role("heading", level=1)).to_be_visible()
        _check(owner.page, tabs=False)

    visit("/dashboard")
    owner.shot("dashboard-overview")
    visit("/dashboard/passport")
    owner.shot("dashboard-passport")
    _fits_a_phone(owner, "/dashboard/passport")
    owner.shot("dashboard-passport-phone")
    visit(f"/dashboard/passport/agents/{agent_id}")
    owner.shot("dashboard-agent")
    visit("/dashboard/keys")
    owner.shot("dashboard-keys")
    visit("/dashboard/members")
    owner.shot("dashboard-members")
    visit("/dashboard/users")
    owner.shot("dashboard-users")
    visit(f"/dashboard/users/{alice}")
    owner.shot("dashboard-user")
    visit("/dashboard/reviews")
    owner.shot("dashboard-reviews")
    visit("/dashboard/sources")
    owner.shot("dashboard-sources")
    visit("/dashboard/connector")
    owner.shot("dashboard-connector")
    visit("/dashboard/usage")
    owner.shot("dashboard-usage")
    _fits_a_phone(owner, "/dashboard/usage")
    owner.shot("dashboard-usage-phone")
    visit("/dashboard/playground?query=what+should+I+know")
    owner.shot("dashboard-playground")
    visit("/dashboard/account")
    owner.shot("dashboard-account")
    for path in ("/dashboard", f"/dashboard/passport/agents/{agent_id}", "/dashboard/keys", "/dashboard/members", "/dashboard/users",
                 f"/dashboard/users/{alice}", "/dashboard/reviews", "/dashboard/sources", "/dashboard/playground?query=what+should+I+know",
                 "/dashboard/account", "/dashboard/audit", "/dashboard/connector"):
        _fits_a_phone(owner, path)

    email = f"ops-{secrets.token_hex(4)}@example.com"
    with runtime.db.session() as session:
        build_services(runtime).identity.create_dashboard_user(session, email=email, password=PASSWORD, tenant=None, platform_role="admin")
    ops = person(email)
    page = ops.open("/admin/login")
    ops.shot("admin-login")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/admin$"))
    ops.open("/admin/organisations")
    ops.shot("admin-organisations")
    ops.open("/admin/jobs")
    ops.shot("admin-jobs")
    for path in ("/admin/organisations", "/admin/jobs"):
        _fits_a_phone(ops, path)
    _fits_a_phone(ops, "/admin")
    ops.shot("admin-agents-phone")

