"""Runs under the PUBLISHED SDK (memoryo-sdk 0.1.1): every tenant call it makes, against our
server. Arguments: base URL, API key, end-user id. Prints one JSON object of what it saw."""

from __future__ import annotations

import asyncio
import json
import sys

from memoryos import AsyncMemory, Memory, MemoryOSError, NotFoundError

SEED = "Please remember that I prefer short, structured explanations and Python examples"


def main(base_url: str, api_key: str, user: str) -> dict:
    out: dict = {}
    with Memory(api_key=api_key, base_url=base_url) as memory:
        first_add = {
            "messages": [{"role": "user", "content": SEED}],
            "external_user_id": user,
            "agent_id": "support-bot",
            "metadata": {"channel": "chat"},
            "idempotency_key": "contract-add-1",
            "conversation_id": "conv-1",
        }
        added = memory.add(**first_add, source=Memory.source("billing", scope={"plan": "pro"}))
        out["add"] = added.model_dump(mode="json")
        # A retry: the same call with the same key (Memory.source draws a fresh event id and time).
        repeated = memory.add(**first_add, source=Memory.source("billing", scope={"plan": "pro"}))
        out["add_repeat_job_id"] = repeated.job_id
        try:  # the same key for another request is refused, not answered with the first one
            memory.add(
                messages=[{"role": "user", "content": "I live in Lisbon"}], external_user_id=user, idempotency_key="contract-add-1"
            )
            out["add_reused_key"] = None
        except MemoryOSError as error:
            out["add_reused_key"] = {"status_code": error.status_code, "code": error.code}
        out["job"] = memory.get_job_status(added.job_id).model_dump(mode="json")
        out["waited"] = memory.wait_for_job(added.job_id, timeout=20, poll_interval=0.1).model_dump(mode="json")

        found = memory.get(query="How should I explain code?", external_user_id=user)
        out["get"] = {
            "items": [item.model_dump(mode="json") for item in found],
            "has_context": found.has_context,
            "system_prompt_addition": found.system_prompt_addition,
            "quota_mode": found.quota_mode,
            "is_degraded": found.is_degraded,
            "is_passthrough": found.is_passthrough,
            "retrieval_id": found.retrieval_id,
            "clarification": found.clarification,
        }

        feedback = memory.feedback(
            retrieval_id=found.retrieval_id,
            outcome="used_successfully",
            used_memory_ids=[item.id for item in found],
            agent_confidence=0.9,
        )
        out["feedback"] = feedback.model_dump(mode="json")
        out["edtech_profile"] = memory.get_edtech_profile(external_user_id=user)
        try:
            memory.answer_source_review("srv-unknown", external_user_id=user, version="1", action="dismiss")
            out["source_review"] = "no error"
        except NotFoundError as error:
            out["source_review"] = {"status_code": error.status_code, "code": error.code}

        memory.add(messages=[{"role": "user", "content": "My exam is on March 10"}], external_user_id=user)
        memory.add(messages=[{"role": "user", "content": "My exam is on March 15"}], external_user_id=user)
        asked = memory.get(query="When is my exam?", external_user_id=user, format="xml", context_max_tokens=200)
        out["clarification"] = asked.clarification.model_dump(mode="json") if asked.clarification else None
        out["clarification_question"] = asked.clarification_question
        if asked.clarification is not None:
            answered = memory.answer_clarification(asked.clarification.id, external_user_id=user, answer="B")
            out["answer"] = answered.model_dump(mode="json")

        first_page = memory.list(external_user_id=user, limit=2)
        pages = [first_page]
        while pages[-1].next_cursor:
            pages.append(memory.list(external_user_id=user, page_cursor=pages[-1].next_cursor, limit=2))
        out["list"] = {
            "total": first_page.total,
            "ids": [item.id for page in pages for item in page.items],
            "items": [item.model_dump(mode="json") for page in pages for item in page.items],
        }

        exported = memory.export(external_user_id=user)
        out["export"] = exported.model_dump(mode="json")

        target = next(item.id for page in pages for item in page.items if "Python" in item.content)
        out["delete"] = memory.delete(target, external_user_id=user)
        try:
            memory.delete(target)
            out["delete_again"] = "no error"
        except NotFoundError as error:
            out["delete_again"] = {"status_code": error.status_code, "code": error.code}
        out["list_after_delete"] = [item.id for item in memory.list(external_user_id=user).items]

    async def with_async_client() -> dict:
        async with AsyncMemory(api_key=api_key, base_url=base_url) as client:
            result = await client.get(query="exam", external_user_id=user, categories=["fact"])
            return {"items": [item.content for item in result], "quota_mode": result.quota_mode}

    out["async_get"] = asyncio.run(with_async_client())
    return out


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:4]), default=str))
