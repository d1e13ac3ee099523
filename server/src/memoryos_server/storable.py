"""Which text the databases can store, checked once for every way text comes in.

NUL cannot be stored in a PostgreSQL text column, and a lone surrogate (JSON allows "\\ud800",
a form body can declare a charset that decodes to one) cannot be encoded as UTF-8 by either
database driver or by the encryption. The API (request schemas, ``StorableTextMiddleware``) and
the pages' forms (``web/deps.py``) refuse both at the door, on every backend alike, instead of
failing half-way through a write.
"""

from __future__ import annotations

import re
import unicodedata

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
UNSTORABLE_MESSAGE = "text may not contain NUL characters or unpaired surrogates"


def is_storable(text: str) -> bool:
    return _UNSTORABLE.search(text) is None


# Separators, controls and format characters (zero-width spaces and joiners, direction marks):
# a text made of these alone shows nothing.
_INVISIBLE = {"Zs", "Zl", "Zp", "Cc", "Cf"}


def has_visible_text(text: str) -> bool:
    """Whether ``text`` shows anything: a memory of zero-width spaces alone reads as empty."""
    return any(unicodedata.category(ch) not in _INVISIBLE for ch in text)
