"""Request-schema building blocks shared by routers."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """Request bodies: unknown fields are refused, so typos fail loudly instead of being ignored."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Lenient(BaseModel):
    """Request bodies the published SDK sends with fields we do not use."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)
