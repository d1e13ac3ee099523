"""Secrets shown once and stored only as keyed hashes."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string

from memoryos_server.crypto.keys import derive_key

_ALPHABET = string.ascii_letters + string.digits


def random_token(prefix: str, *, nbytes: int = 32) -> str:
    """``prefix`` + a base62 body of ``nbytes`` of entropy (URL-safe, copy-paste friendly)."""
    body_len = int(nbytes * 8 / 5.954) + 1  # log2(62) ≈ 5.954 bits per character
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(body_len))


def numeric_code(digits: int = 6) -> str:
    return "".join(secrets.choice(string.digits) for _ in range(digits))


def public_id(prefix: str, nbytes: int = 12) -> str:
    return prefix + secrets.token_hex(nbytes)


class TokenHasher:
    """Keyed hashes of secrets (API keys, session ids, codes): lookup by hash, compare in constant time."""

    def __init__(self, master_key: bytes) -> None:
        self._key = derive_key(master_key, "secret-hashing")

    def hash(self, secret: str, *, purpose: str = "") -> str:
        message = f"{purpose}\0{secret}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def matches(self, secret: str, stored_hash: str, *, purpose: str = "") -> bool:
        return hmac.compare_digest(self.hash(secret, purpose=purpose), stored_hash)

    def pairwise(self, *parts: str) -> str:
        """A stable keyed digest of several values, for pairwise identifiers."""
        message = "\0".join(parts).encode()
        return hmac.new(self._key, b"pairwise\0" + message, hashlib.sha256).hexdigest()
