"""Runs under the PUBLISHED SDK (memoryo-sdk 0.1.1): its README's multi-service mode, with its own
``Memory.source``, against our server. Arguments: base URL, the tenant's API key, the API key
bound to the "ledger-service" writer, a run id. Prints one JSON object of what it saw.

The tenant has registered billing-service (facts: 80), support-service (50), crm-service and
sales-service (facts: 60 each) and ledger-service (bound to one key) before this runs."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Any

from memoryos import Memory, MemoryOSError, NotFoundError


def said(text: str) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": text}]


def records(mem: Memory, user: str) -> list[dict[str, Any]]:
    return [item.model_dump(mode="json") for item in mem.list(external_user_id=user).items]


def refusal(call: Any) -> dict[str, Any] | None:
    try:
        call()
    except MemoryOSError as error:
        return {"status_code": error.status_code, "code": error.code, "not_found": isinstance(error, NotFoundError)}
    return None


def main(base_url: str, api_key: str, ledger_key: str, run: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with Memory(api_key=api_key, base_url=base_url) as mem:
        # The README's example, as written.
        customer = f"cust_123-{run}"
        first = mem.add(
            external_user_id=customer,
            messages=[{"role": "assistant", "content": "Customer is on the Growth plan."}],
            source=Memory.source(
                "billing-service",
                event_id="invoice_evt_8842",  # optional but useful for dedupe/audit
                scope={"workspace_id": "ws_123"},
                evidence=[{"source_type": "billing_record", "reference": "invoice_evt_8842"}],
            ),
        )
        second = mem.add(
            external_user_id=customer,
            messages=[{"role": "assistant", "content": "Customer support previously saw the Starter plan."}],
            source=Memory.source("support-service"),  # event_id and observed_at are generated
        )
        out["readme"] = {"first": first.model_dump(mode="json"), "second": second.model_dump(mode="json")}
        # Support now says otherwise; billing has more authority for facts.
        mem.add(external_user_id=customer, messages=said("Customer is on the Starter plan."), source=Memory.source("support-service"))
        out["plan_records"] = records(mem, customer)
        found = mem.get(query="Which plan is the customer on?", external_user_id=customer)
        out["plan_get"] = [item.model_dump(mode="json") for item in found]

        # Two services of equal authority, one moment, one confidence: a person decides.
        moment = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
        tied = f"cust_tie-{run}"
        mem.add(external_user_id=tied, messages=said("Customer has 40 seats."), source=Memory.source("crm-service", observed_at=moment))
        mem.add(external_user_id=tied, messages=said("Customer has 25 seats."), source=Memory.source("sales-service", observed_at=moment))
        out["tie_records"] = records(mem, tied)

        # The same event again (Memory.source stamps a fresh observed_at): nothing is written.
        replayed = f"cust_replay-{run}"
        event = f"renewal-{run}"
        text = "Customer renewed their annual subscription in March."
        once = mem.add(external_user_id=replayed, messages=said(text), source=Memory.source("billing-service", event_id=event))
        twice = mem.add(external_user_id=replayed, messages=said(text), source=Memory.source("billing-service", event_id=event))
        out["replay"] = {"first_job": once.job_id, "second_job": twice.job_id, "records": records(mem, replayed)}
        # The same event with another payload is refused.
        out["changed_payload"] = refusal(
            lambda: mem.add(
                external_user_id=replayed,
                messages=said("Customer cancelled their subscription."),
                source=Memory.source("billing-service", event_id=event),
            )
        )
        out["records_after_refusal"] = len(records(mem, replayed))

        out["unknown_service"] = refusal(
            lambda: mem.add(external_user_id=customer, messages=said("Customer is on the Pro plan."), source=Memory.source("unknown-service"))
        )
        # A writer bound to another key refuses this one.
        bound = f"cust_ledger-{run}"
        out["bound_other_key"] = refusal(
            lambda: mem.add(external_user_id=bound, messages=said("Customer has 7 seats."), source=Memory.source("ledger-service"))
        )
    with Memory(api_key=ledger_key, base_url=base_url) as ledger:
        accepted = ledger.add(external_user_id=bound, messages=said("Customer has 7 seats."), source=Memory.source("ledger-service"))
        out["bound_own_key"] = {"status": accepted.status, "records": records(ledger, bound)}
    return out


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:5]), default=str))
