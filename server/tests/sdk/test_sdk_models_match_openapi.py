"""Our SDK's result models parse what /openapi.json says the server sends.

The server's response models are the one source of the wire contract; the SDK, which ships alone
(httpx + pydantic, no server code), declares its own models. This test holds the two together:
every field the SDK requires is one the server always sends, and every field the server may send
as null (or leave out) is one the SDK accepts as missing or null.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import AliasChoices, BaseModel, TypeAdapter, ValidationError

from memoryos import _models as sdk

PAIRS: list[tuple[type[BaseModel], str]] = [
    (sdk.AddResultItem, "AddEventOut"),
    (sdk.AddResult, "AddOut"),
    (sdk.MemoryJobStatus, "JobOut"),
    (sdk.UniversalJobStatus, "AgentJobOut"),
    (sdk.MemoryResult, "RetrievedOut"),
    (sdk.MemoryClarificationOption, "OptionOut"),
    (sdk.MemoryClarification, "ClarificationOut"),
    (sdk.RetrievalFeedbackResult, "FeedbackOut"),
    (sdk.MemoryClarificationAnswerResult, "AnswerOut"),
    (sdk.MemoryRecord, "MemoryOut"),
    (sdk.Grant, "AgentGrantOut"),
    (sdk.Grant, "ExchangedGrantOut"),
    (sdk.ConsentExchangeResult, "ExchangedOut"),
    (sdk.ResolveUserResult, "ResolvedOut"),
    (sdk.ErrorPayload, "ErrorOut"),
]


@pytest.fixture(scope="module")
def components(client: TestClient) -> dict[str, Any]:
    return client.get("/openapi.json").json()["components"]["schemas"]  # type: ignore[no-any-return]


def _wire_names(name: str, alias: Any) -> list[str]:
    if isinstance(alias, AliasChoices):
        return [choice for choice in alias.choices if isinstance(choice, str)]
    return [alias] if isinstance(alias, str) else [name]


def _nullable(prop: dict[str, Any]) -> bool:
    return prop.get("type") == "null" or any(option.get("type") == "null" for option in prop.get("anyOf", []))


def _accepts_none(annotation: Any) -> bool:
    try:
        TypeAdapter(annotation).validate_python(None)
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize(("model", "schema_name"), PAIRS, ids=[f"{m.__name__}-{s}" for m, s in PAIRS])
def test_the_sdk_model_parses_what_the_server_declares(model: type[BaseModel], schema_name: str, components: dict[str, Any]) -> None:
    schema = components[schema_name]
    properties: dict[str, Any] = schema["properties"]
    required = set(schema.get("required", []))
    problems = []
    for name, field in model.model_fields.items():
        wire = _wire_names(name, field.validation_alias or field.alias)
        sent = [w for w in wire if w in properties]
        if field.is_required() and not any(w in required for w in wire):
            problems.append(f"{name}: the SDK requires it, the server does not always send it")
        for w in sent:
            may_lack = w not in required or _nullable(properties[w])
            if may_lack and field.is_required():
                problems.append(f"{name}: the server may send null or nothing, the SDK requires a value")
            elif _nullable(properties[w]) and not _accepts_none(field.annotation) and field.is_required():
                problems.append(f"{name}: the server may send null, the SDK refuses it")
            elif _nullable(properties[w]) and not _accepts_none(field.annotation) and field.default is not None:
                problems.append(f"{name}: the server may send null, which the SDK's {field.annotation} refuses")
    assert problems == []
