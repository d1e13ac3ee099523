"""Which text the databases can store, checked once for every way text comes in.

NUL cannot be stored in a PostgreSQL text column, and a lone surrogate (JSON allows "\\ud800",
a form body can declare a charset that decodes to one) cannot be encoded as UTF-8 by either
database driver or by the encryption. The API (request schemas, ``StorableTextMiddleware``) and
the pages' forms (``web/deps.py``) refuse both at the door, on every backend alike, instead of
failing half-way through a write.
"""

from __future__ import annotations

import re

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
UNSTORABLE_MESSAGE = "text may not contain NUL characters or unpaired surrogates"


def is_storable(text: str) -> bool:
    return _UNSTORABLE.search(text) is None
