"""A bounded schema-fuzzing pass over every operation of /openapi.json (schemathesis): a few
generated requests each, with the credential the operation declares (a tenant's API key or its
owner's token, a passport session, an agent key with a person's UUI), on both databases. No
answer may be a 5xx, and every answer must match the contract (the app fixture checks each).

``make reliability`` runs the long version (many more examples; docs/reliability.md).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable

import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings

from tests.fixtures.databases import TestDatabase as Database
from tests.fixtures.factories import TenantHandle
from tests.fixtures.passport import AgentHandle, PassportHandle, connected, new_agent, new_passport  # noqa: F401

# A few examples per operation and credential keep this inside `make test`; the reliability run
# raises it (MEMORYOS_FUZZ_EXAMPLES).
EXAMPLES = int(os.environ.get("MEMORYOS_FUZZ_EXAMPLES", "2"))


def _credentials(
    schemes: set[str], tenant: TenantHandle, passport: PassportHandle, agent: AgentHandle, uui: str
) -> list[dict[str, str]]:
    """Each way a caller may authenticate to an operation that declares ``schemes``."""
    if not schemes:
        return [{}]
    if "TenantApiKey" in schemes or "Bearer" in schemes:
        return [tenant.key_headers("fuzz-user"), tenant.jwt_headers()]
    if "PassportSession" in schemes:
        return [passport.headers()]
    if "PassportUUI" in schemes:
        return [agent.headers(uui)]
    return [agent.headers()]


def _fuzz(operation: schemathesis.APIOperation, headers: dict[str, str], statuses: Counter[int], failures: list[str]) -> None:
    @given(case=operation.as_strategy())
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)
    def call(case: schemathesis.Case) -> None:
        response = case.call(headers=headers)
        statuses[response.status_code // 100 * 100] += 1
        if response.status_code >= 500:
            failures.append(f"{case.method} {case.formatted_path} → {response.status_code}: {response.text[:200]}")

    call()


def test_no_generated_request_gets_a_server_error(
    app: FastAPI, test_database: Database, tenant: TenantHandle, connected: Callable[..., tuple[AgentHandle, PassportHandle, str]]
) -> None:
    agent, passport, uui = connected(["preference", "fact"], "read_write")
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures: list[str] = []
    statuses: Counter[int] = Counter()
    for result in schema.get_all_operations():
        operation = result.ok()
        schemes = {name for requirement in operation.definition.raw.get("security", []) for name in requirement}
        for headers in _credentials(schemes, tenant, passport, agent, uui):
            _fuzz(operation, headers, statuses, failures)
    if report := os.environ.get("MEMORYOS_FUZZ_REPORT"):  # make reliability's counts
        with open(report, "a", encoding="utf-8") as sink:
            sink.write(json.dumps({"backend": test_database.backend, "statuses": {str(k): v for k, v in statuses.items()}}) + "\n")
    assert not failures, failures
    # The pass reached the routes' own logic, not only the doors: some calls were answered 2xx.
    assert statuses[200] > 50 and sum(statuses.values()) > 200, statuses
