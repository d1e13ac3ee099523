"""The grant lifecycle of seed 000, walked by a person in a browser and an agent's backend.

Maya already uses Notebook (no redirect URI: the hosted completion page), which writes to her
passport. Then, in a fresh browser, Study Buddy's "Connect Memory Passport" button sends her to
its backend, which builds the consent URL with our SDK; she signs in there with the code from her
email and shares two categories, read only. The backend exchanges the code from the redirect and
reads within the grant; a write is refused; Maya answers a Pending Question and revokes, and
Study Buddy's next read is empty.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import expect

from memoryos import WriteNotPermitted
from memoryos.universal import UniversalMemory
from memoryos_server.services.container import build_services
from memoryos_server.services.runtime import Runtime
from tests.fixtures.app import LiveServer
from tests.fixtures.factories import TenantHandle
from tests.fixtures.passport import AgentHandle, create_agent, outbox_messages
from tests.web.browser import DESKTOP, PHONE, AgentBackend, Person

pytestmark = pytest.mark.browser

ONE_PER_CATEGORY = [
    "Please remember that I prefer short, structured explanations and Python examples.",
    "I work as a data engineer at a hospital.",
    "My goal is to run a marathon next year.",
    "My sister Anna lives in Berlin.",
    "I am an expert in Rust and distributed systems.",
    "To deploy, I always run the tests first and then tag the release.",
]


@pytest.fixture
def study_buddy(live_server: LiveServer, new_tenant: Callable[..., TenantHandle]) -> Iterator[tuple[AgentHandle, AgentBackend]]:
    backend = AgentBackend(api_url=live_server.url).start()
    agent = create_agent(
        new_tenant("Acme Learning"),
        name="Study Buddy",
        description="A patient tutor that adapts explanations to how you like to learn.",
        website_url="https://study-buddy.example",
        redirect_uri=backend.redirect_uri,
        default_categories_requested=["preference", "goal"],
    )
    backend.agent_key, backend.agent_id = agent.key, agent.id
    backend.categories = ["preference", "goal", "expertise"]
    yield agent, backend
    backend.stop()


@pytest.fixture
def notebook(runtime: Runtime, new_tenant: Callable[..., TenantHandle]) -> AgentHandle:
    """A verified note-taking agent without a redirect URI (the hosted completion page)."""
    agent = create_agent(
        new_tenant("Notes Inc"),
        name="Notebook",
        description="Takes notes in your conversations and remembers what matters.",
        website_url="https://notebook.example",
        default_categories_requested=["preference", "fact", "goal", "procedure", "relationship", "expertise"],
    )
    with runtime.db.session() as session:
        build_services(runtime).agents.set_verification(session, agent.id, "verified")
    return agent


def _card(maya: Person, agent_name: str):  # type: ignore[no-untyped-def]
    return maya.page.locator(".grant", has=maya.page.get_by_role("heading", name=agent_name))


def test_the_grant_lifecycle_as_a_person(
    person: Callable[..., Person],
    live_server: LiveServer,
    client: TestClient,
    study_buddy: tuple[AgentHandle, AgentBackend],
    notebook: AgentHandle,
) -> None:
    agent, backend = study_buddy

    # --- 0. Earlier, on her laptop: Maya let Notebook write to her passport ---------------------
    laptop = person("maya@example.com")
    laptop.sign_in(UniversalMemory.consent_url(notebook.id, base_url=live_server.url))
    page = laptop.page
    expect(page.get_by_role("heading", name="Notebook wants to use your Memory Passport")).to_be_visible()
    expect(page.get_by_text("Verified by MemoryOS")).to_be_visible()
    expect(page.get_by_text("hasn't reviewed this agent")).to_have_count(0)
    for name in ("Preferences", "Facts", "Goals", "Procedures", "Relationships", "Expertise"):
        expect(page.get_by_role("checkbox", name=re.compile(f"^{name}"))).to_be_checked()
    expect(page.get_by_role("radio", name=re.compile("^Read only"))).to_be_checked()
    page.get_by_role("radio", name=re.compile("^Read and write")).check()
    page.get_by_role("radio", name="Until I revoke it").check()
    page.get_by_role("button", name="Approve").click()

    expect(page).to_have_url(re.compile(r"/consent/complete\?"))
    expect(page.get_by_role("heading", name="You're all set")).to_be_visible()
    expect(page.get_by_text("until you revoke it")).to_be_visible()
    laptop.shot("consent-complete")
    page.set_viewport_size(PHONE)
    laptop.shot("consent-complete-phone")
    page.set_viewport_size(DESKTOP)

    # Notebook has no redirect: Maya hands it a one-time code from the permission center.
    laptop.open("/manage/agents")
    _card(laptop, "Notebook").get_by_role("button", name="New one-time code").click()
    code = page.locator(".code-box code").inner_text().strip()
    assert code.startswith("mcc_")
    laptop.shot("manage-agents-code")
    writer_uui = UniversalMemory.exchange_code(code, agent_api_key=notebook.key, base_url=live_server.url).uui_token
    laptop.context.close()

    with UniversalMemory(agent_api_key=notebook.key, uui_token=writer_uui, base_url=live_server.url) as memory:
        for text in ONE_PER_CATEGORY:
            assert memory.add(messages=[{"role": "user", "content": text}]).results
        memory.add(messages=[{"role": "user", "content": "My exam is on March 10."}])
        conflict = memory.add(messages=[{"role": "user", "content": "My exam is on March 15."}])
        assert [r.event for r in conflict.results] == ["CONFLICT"]

    # --- 1. In a fresh browser, Study Buddy's button: its backend builds the consent URL --------
    maya = person("maya@example.com")
    page = maya.page
    assert maya.session_cookie() is None
    maya.open(backend.start_url)
    assert len(backend.consent_urls) == 1
    assert backend.consent_urls[0] == UniversalMemory.consent_url(
        agent.id,
        redirect_uri=backend.redirect_uri,
        state=backend.issued_states[0],
        categories=["preference", "goal", "expertise"],
        base_url=live_server.url,
    )
    # Not signed in on this browser: the consent URL asks her to sign in first, then comes back.
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fconsent%3Fagent_id%3D" + agent.id))
    expect(page.get_by_role("heading", name="Sign in to connect Study Buddy")).to_be_visible()
    page.set_viewport_size(PHONE)
    maya.shot("login-phone")
    page.set_viewport_size(DESKTOP)
    maya.shot("login")

    # --- 2. She signs in with the code from her email, on that consent URL -----------------------
    maya.ask_for_code()
    expect(page.get_by_text("Then you'll choose what Study Buddy may use.")).to_be_visible()
    maya.shot("login-code")
    maya.enter_code(maya.latest_code())
    expect(page).to_have_url(backend.consent_urls[0])
    expect(page.get_by_role("status")).to_contain_text("You're signed in.")
    expect(page.get_by_role("heading", name="Study Buddy wants to use your Memory Passport")).to_be_visible()
    expect(page.get_by_text("MemoryOS hasn't reviewed this agent yet.")).to_be_visible()
    expect(page.get_by_role("link", name="study-buddy.example")).to_have_attribute("href", "https://study-buddy.example")
    for name, ticked in (("Preferences", True), ("Goals", True), ("Expertise", True), ("Facts", False), ("Relationships", False)):
        box = page.get_by_role("checkbox", name=re.compile(f"^{name}"))
        expect(box).to_be_checked() if ticked else expect(box).not_to_be_checked()
    expect(page.get_by_role("radio", name=re.compile("^Read only"))).to_be_checked()
    expect(page.get_by_role("radio", name="30 days")).to_be_checked()
    expect(page.get_by_text("Afterwards you'll go back to")).to_contain_text("127.0.0.1")
    maya.shot("consent")
    page.set_viewport_size(PHONE)
    maya.shot("consent-phone")
    page.set_viewport_size(DESKTOP)

    # --- 3. Maya shares two categories, read only (the default), and approves --------------------
    page.get_by_role("checkbox", name=re.compile("^Expertise")).uncheck()
    page.get_by_role("button", name="Approve").click()
    expect(page.locator("#result")).to_have_text(re.compile("Memory Passport connected"))

    # --- 4. The backend checks its state and exchanges the code ----------------------------------
    callback = backend.callbacks[-1]
    assert callback.query["status"] == "granted" and callback.query["state"] == backend.issued_states[0]
    assert callback.query["code"].startswith("mcc_") and callback.exchange_error is None
    uui = callback.uui_token
    assert uui and uui.startswith("uui_") and uui != writer_uui  # pairwise: one per agent

    # --- 5. The agent reads: only what Maya shared --------------------------------------------
    with UniversalMemory(agent_api_key=agent.key, uui_token=uui, base_url=live_server.url) as memory:
        seen = memory.get(query="how should I explain things, and what is this person working towards", limit=20)
        assert seen.has_context and seen.permission_status is None
        assert sorted(seen.categories_available) == ["goal", "preference"]
        assert {item.category for item in seen} == {"goal", "preference"}
        assert "Prefers short, structured explanations" in seen.system_prompt_addition
        for private in ("hospital", "Anna", "Rust", "tag the release", "March"):
            assert private not in seen.system_prompt_addition

        # --- 6. ... and may not write ------------------------------------------------------------
        with pytest.raises(WriteNotPermitted) as refused:
            memory.add(messages=[{"role": "user", "content": "I prefer dark mode in every editor."}])
        assert refused.value.code == "UAT_002" and refused.value.status_code == 403

    # The grant notification went out, with the manage link.
    notes = [m for m in outbox_messages(maya.outbox, maya.email) if "Study Buddy can now use" in str(m["Subject"])]
    assert notes and f"{live_server.url}/manage" in notes[-1].get_content()
    assert "preference, goal" in notes[-1].get_content()

    # --- 7. A Pending Question: both versions, Maya picks the second ----------------------------
    maya.open("/manage/agents")
    expect(page.get_by_role("link", name=re.compile("Pending Questions"))).to_contain_text("1")
    page.get_by_role("link", name=re.compile("Pending Questions")).click()
    expect(page).to_have_url(re.compile("/manage/questions$"))
    expect(page.get_by_role("link", name=re.compile("Pending Questions"))).to_have_attribute("aria-current", "page")
    question = page.locator(".question")
    expect(question).to_have_count(1)
    expect(question.locator(".version").nth(0)).to_contain_text("March 10")
    expect(question.locator(".version").nth(1)).to_contain_text("March 15")
    maya.shot("manage-questions")
    page.set_viewport_size(PHONE)
    maya.shot("manage-questions-phone")
    page.set_viewport_size(DESKTOP)
    question.get_by_role("button", name="The second").click()
    expect(page.get_by_role("status")).to_contain_text("Kept the second version")
    expect(page.locator(".question")).to_have_count(0)
    with UniversalMemory(agent_api_key=notebook.key, uui_token=writer_uui, base_url=live_server.url) as memory:
        exam = memory.get(query="when is the exam", limit=10).system_prompt_addition
        assert "March 15" in exam and "March 10" not in exam

    # Memories and activity, as Maya sees them.
    maya.open("/manage/memories")
    expect(page.get_by_role("heading", name=re.compile("^Preferences"))).to_be_visible()
    expect(page.locator(".memory.archived")).to_contain_text("March 10")
    maya.shot("manage-memories")
    page.set_viewport_size(PHONE)
    maya.shot("manage-memories-phone")
    page.set_viewport_size(DESKTOP)
    maya.open("/manage/activity")
    expect(page.locator("tbody tr", has_text="Study Buddy read").first).to_be_visible()
    expect(page.locator("tbody tr", has_text="You approved Study Buddy")).to_have_count(1)
    maya.shot("manage-activity")
    page.set_viewport_size(PHONE)
    maya.shot("manage-activity-phone")
    page.set_viewport_size(DESKTOP)

    # --- 8. Maya revokes Study Buddy; its next read is empty ------------------------------------
    maya.open("/manage/agents")
    _card(maya, "Study Buddy").get_by_role("link", name="Revoke access").click()
    expect(page.get_by_role("heading", name="Revoke Study Buddy's access?")).to_be_visible()
    maya.shot("manage-agents-revoke")
    page.get_by_role("button", name="Revoke access").click()
    expect(page.get_by_role("status")).to_contain_text("Study Buddy can no longer use your Memory Passport")
    expect(_card(maya, "Study Buddy").locator(".badge", has_text="Revoked")).to_be_visible()
    expect(_card(maya, "Notebook").locator(".badge", has_text="Active")).to_be_visible()
    maya.shot("manage-agents")
    page.set_viewport_size(PHONE)
    maya.shot("manage-agents-phone")
    page.set_viewport_size(DESKTOP)
    with UniversalMemory(agent_api_key=agent.key, uui_token=uui, base_url=live_server.url) as memory:
        after = memory.get(query="how should I explain things", limit=20)
        assert len(after) == 0 and after.system_prompt_addition == "" and not after.has_context
        assert after.permission_status == "grant_revoked" and after.categories_available == []
