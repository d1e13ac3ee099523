"""The shape of the ids and cursors this server hands out, checked before any lookup."""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime

from memoryos_server.errors import BadRequest

_PLAIN_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

# ASCII digits only: ``str.isdigit`` also takes "²" and other scripts' digits, which ``int``
# then refuses; ``re.ASCII`` keeps ``\d`` from doing the same.
_ROW_NUMBER = re.compile(r"[0-9]{1,19}", re.ASCII)
MAX_ROW_NUMBER = 2**63 - 1  # the largest value a 64-bit integer column (or OFFSET) holds


def is_plain_id(value: object) -> bool:
    """Ids we hand out (``grt_…``, ``con_…``, ``job_…``, UUIDs) are short and plain; anything
    else is looked up nowhere (PostgreSQL would refuse a NUL in it, for one)."""
    return isinstance(value, str) and bool(_PLAIN_ID.match(value))


def row_number(text: object) -> int | None:
    """``text`` as a row id or offset we could have handed out, else None: plain ASCII digits
    (no sign, space or exponent) within a 64-bit integer, so the database never overflows."""
    if not isinstance(text, str) or not _ROW_NUMBER.fullmatch(text):
        return None
    value = int(text)
    return value if value <= MAX_ROW_NUMBER else None


def row_number_cursor(cursor: str | None, *, prefix: str = "") -> int | None:
    """The number inside a cursor this server returned (``"42"``, or ``"o42"`` with
    ``prefix="o"``); None for no cursor; anything else is a 400 ``invalid_cursor``."""
    if cursor is None:
        return None
    value = row_number(cursor[len(prefix) :]) if cursor.startswith(prefix) else None
    if value is None:
        raise BadRequest("invalid_cursor", "the cursor is not one this API returned")
    return value


def encode_time_cursor(moment: datetime, row_id: str) -> str:
    """The cursor after a row of a newest-first list: its time and id, opaque to clients."""
    raw = f"{moment.isoformat()}|{row_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_time_cursor(cursor: str | None) -> tuple[datetime, str] | None:
    """(time, id) from a cursor ``encode_time_cursor`` made; anything else is a 400."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created, _, row_id = raw.partition("|")
        moment = datetime.fromisoformat(created)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise BadRequest("invalid_cursor", "the cursor is not one this API returned") from exc
    # Row ids are short printable ASCII; anything else (a NUL, say) never came from this API
    # and must not reach the database, which would refuse it with a 500.
    if not row_id or len(row_id) > 64 or not (row_id.isascii() and row_id.isprintable()) or moment.tzinfo is None:
        raise BadRequest("invalid_cursor", "the cursor is not one this API returned")
    return moment, row_id
