"""The shape of the ids this server hands out, checked before any lookup."""

from __future__ import annotations

import re

_PLAIN_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def is_plain_id(value: object) -> bool:
    """Ids we hand out (``grt_…``, ``con_…``, ``job_…``, UUIDs) are short and plain; anything
    else is looked up nowhere (PostgreSQL would refuse a NUL in it, for one)."""
    return isinstance(value, str) and bool(_PLAIN_ID.match(value))
