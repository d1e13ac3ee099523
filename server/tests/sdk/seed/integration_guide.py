# The Python snippets of the Memory Passport integration guide (seed 001), in the guide's order,
# exactly as written there. test_seed_snippets.py replaces the guide's placeholders
# ("your_global_agent_id", "agent_sk_...", "uui_...", "https://yourapp.com/...") with real values
# and runs this file with our SDK against a live server. Two joins, marked below: BASE_PROMPT is
# the reader's own prompt in the guide, and the add snippet continues inside the `with` block of
# the retrieval snippet (the guide shows it on its own, after "If the grant is read_write").
import json

BASE_PROMPT = "You are a helpful tutor."  # join 1: the reader's prompt

# --- Step 1: consent URLs -------------------------------------------------------------
from memoryos.universal import UniversalMemory

consent_url = UniversalMemory.consent_url(
    agent_id="your_global_agent_id",
    state="optional_user_session_state",
)
consent_urls = [consent_url]

consent_url = UniversalMemory.consent_url(
    agent_id="your_global_agent_id",
    state="optional_user_session_state",
    categories=["preference", "goal", "expertise"],
)
consent_urls.append(consent_url)

consent_url = UniversalMemory.consent_url(
    agent_id="your_global_agent_id",
    redirect_uri="https://yourapp.com/integrations/memoryos/callback",
    state="secure_random_state_token",
    categories=["preference", "fact"],
)
consent_urls.append(consent_url)

# --- Step 4: universal memory from the agent --------------------------------------------
from memoryos.universal import UniversalMemory

system_prompt = None
with UniversalMemory(
    agent_api_key="agent_sk_...",
    uui_token="uui_...",
) as memory:
    result = memory.get(
        query="How should I tailor the response?",
        limit=5,
    )

    if result.has_context:
        system_prompt = BASE_PROMPT + "\n\n" + result.system_prompt_addition
    first = {"has_context": result.has_context, "permission_status": result.permission_status}

    # join 2: the add snippet, inside the same `with`
    result = memory.add(
        messages=[
            {
                "role": "user",
                "content": "Please remember that I prefer short, structured explanations and Python examples.",
            }
        ],
        metadata={"source": "learning-agent"},
    )
    added = {"status": result.status, "job_id": result.job_id}

    result = memory.get(
        query="How should I tailor the response?",
        limit=5,
    )

    if result.has_context:
        system_prompt = BASE_PROMPT + "\n\n" + result.system_prompt_addition

print(json.dumps({"consent_urls": consent_urls, "first": first, "added": added, "system_prompt": system_prompt}))
