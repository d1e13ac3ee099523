"""Request-schema building blocks shared by routers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query
import pydantic
from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, field_validator

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


def _text_only(value: Any) -> Any:
    if value is not None and not isinstance(value, str):
        raise ValueError("give a date and time as ISO 8601 text, with its offset (2026-05-03T19:30:00Z)")
    return value


# A moment in a request body: ISO 8601 text with an offset, nothing else (strict bodies would
# refuse the text JSON carries a datetime as; lax ones would take 0 for 1970).
Moment = Annotated[AwareDatetime, pydantic.Strict(False), BeforeValidator(_text_only)]


class _RequestBody(BaseModel):
    @field_validator("*", mode="before")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        return _refuse_unstorable(value)


# Every request body takes JSON's types as they are: no number for a boolean, no true for a
# number, no "3" for 3, no NaN or Infinity; dates are ``Moment`` text.
_STRICT_TYPES = ConfigDict(strict=True, allow_inf_nan=False, str_strip_whitespace=True)


class Strict(_RequestBody):
    """Request bodies: unknown fields are refused, so typos fail loudly instead of being ignored."""

    model_config = ConfigDict(**_STRICT_TYPES, extra="forbid")


class Lenient(_RequestBody):
    """Request bodies the published SDK sends with fields we do not use."""

    model_config = ConfigDict(**_STRICT_TYPES, extra="ignore")
