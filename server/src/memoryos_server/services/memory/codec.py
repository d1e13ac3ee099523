"""Memory text in and out of ciphertext, and the keyed hashes that index it.

Contract (also relied on by ``services.users.export_memories``): ``content_ct``,
``metadata_ct``, ``source_ct`` and every version's ``content_ct`` are encrypted with the
owner's data key and ``aad = memory.id``; ``conversation_ct`` with the same key and
``aad = "{memory.id}:conversation_id"`` (``storage.vault.conversation_aad``). ``content_hash`` and keyword terms are keyed per
owner, so equal texts of two owners share nothing.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from typing import Any

from memoryos_server.crypto import DataKey
from memoryos_server.engine.retrieval.text import keyword_terms, term_frequencies
from memoryos_server.storage.vault import conversation_aad

_SPACES = re.compile(r"\s+")
_TRAILING = re.compile(r"[\s.!?;,]+$")
# A dialogue message's own words against its neighbours' in the keyword index (``terms``).
OWN_TEXT_WEIGHT = 2


def normalise(text: str) -> str:
    """The form exact restatements share: NFKC, case-folded, single spaces, no final stop."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return _TRAILING.sub("", _SPACES.sub(" ", folded).strip())


class MemoryCodec:
    """One owner's key, applied to memory rows."""

    def __init__(self, key: DataKey) -> None:
        self.key = key

    def seal(self, memory_id: str, text: str) -> bytes:
        return self.key.encrypt(text, aad=memory_id.encode())

    def open(self, memory_id: str, blob: bytes) -> str:
        return self.key.decrypt_text(blob, aad=memory_id.encode())

    def seal_json(self, memory_id: str, value: Any) -> bytes | None:
        if value is None:
            return None
        return self.key.encrypt_json(value, aad=memory_id.encode())

    def open_json(self, memory_id: str, blob: bytes | None) -> Any:
        return self.key.decrypt_json(blob, aad=memory_id.encode())

    def seal_conversation(self, memory_id: str, conversation_id: str | None) -> bytes | None:
        if conversation_id is None:
            return None
        return self.key.encrypt(conversation_id, aad=conversation_aad(memory_id))

    def open_conversation(self, memory_id: str, blob: bytes | None) -> str | None:
        if blob is None:
            return None
        return self.key.decrypt_text(blob, aad=conversation_aad(memory_id))

    def content_hash(self, text: str) -> str:
        return self.key.content_digest(normalise(text))

    def terms(self, text: str, context: str = "") -> tuple[dict[int, int], int]:
        """Keyed term hashes with their frequencies, and the document length in terms.

        ``context`` (a dialogue message's neighbours) is a second field at half the weight of
        the text: with context, each word of the text counts ``OWN_TEXT_WEIGHT`` times and each
        word of the context once, in the frequencies and the length alike (BM25F with integer
        field weights). So of two neighbours sharing the same context, the one that says the
        words itself ranks first; without context the text counts once, as always."""
        words = keyword_terms(text)
        if not context:
            return {self.key.term_hash(t): n for t, n in term_frequencies(words).items()}, len(words)
        around = keyword_terms(context)
        weighted = Counter({t: OWN_TEXT_WEIGHT * n for t, n in term_frequencies(words).items()})
        weighted.update(term_frequencies(around))
        return (
            {self.key.term_hash(t): n for t, n in weighted.items()},
            OWN_TEXT_WEIGHT * len(words) + len(around),
        )

    def query_terms(self, text: str) -> list[int]:
        return list(dict.fromkeys(self.key.term_hash(t) for t in keyword_terms(text)))

    def term_keys(self, terms: Iterable[str]) -> list[int]:
        """Keyed hashes of terms already split (``name_terms``), distinct, in order."""
        return list(dict.fromkeys(self.key.term_hash(t) for t in terms))
