"""Request-schema building blocks shared by routers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query
from pydantic import AfterValidator, BaseModel, ConfigDict, field_validator

# NUL and lone surrogates are refused at the door (see memoryos_server/storable.py, which the pages' forms
# use too); the routers and the middleware import the check from here.
from memoryos_server.services.ids import row_number
from memoryos_server.storable import UNSTORABLE_MESSAGE, is_storable


def _refuse_unstorable(value: Any) -> Any:
    """Walks strings, dict keys and values, and lists of any depth (metadata is free JSON)."""
    if isinstance(value, str):
        if not is_storable(value):
            raise ValueError(UNSTORABLE_MESSAGE)
    elif isinstance(value, dict):
        for key, item in value.items():
            _refuse_unstorable(key)
            _refuse_unstorable(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _refuse_unstorable(item)
    return value


def _check_text(value: str) -> str:
    if not is_storable(value):
        raise ValueError(UNSTORABLE_MESSAGE)
    return value


# For values that do not come in a JSON body (form fields); path, query and header values are
# checked for every route by ``StorableTextMiddleware``.
StorableStr = Annotated[str, AfterValidator(_check_text)]


def _row_number(value: str | None) -> str | None:
    if value is not None and row_number(value) is None:
        raise ValueError("the cursor is not one this API returned")
    return value


# A cursor that is a row id, refused early (422 naming the field) by the same rule the services
# apply (services/ids.py), which the pages rely on.
RowIdCursor = Annotated[
    str | None,
    Query(max_length=19, description="The next_cursor of the previous page"),
    AfterValidator(_row_number),
]


class _RequestBody(BaseModel):
    @field_validator("*", mode="before")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        return _refuse_unstorable(value)


class Strict(_RequestBody):
    """Request bodies: unknown fields are refused, so typos fail loudly instead of being ignored."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Lenient(_RequestBody):
    """Request bodies the published SDK sends with fields we do not use."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)
