"""The storage-level encryption API: every owner's text goes in and out through here.

An owner is any row with ``public_id`` and ``wrapped_key`` (an end-user, a workspace owner, a
passport user). Later features write and read ciphertext only through ``Vault``.
"""

from __future__ import annotations

from typing import Any, Protocol

from memoryos_server.crypto import DataKey, KeyWrapper


# Fixed contexts of two sealed identifiers (migration 0009 wrote existing rows with the same):
# a user row's own name in its tenant, and a memory's conversation id (bound to the memory).
EXTERNAL_ID_AAD = "memoryos:users.external_id"
EXTERNAL_ID_HASH_PURPOSE = "user-external-id"


def conversation_aad(memory_id: str) -> bytes:
    return f"{memory_id}:conversation_id".encode()


class KeyOwner(Protocol):
    public_id: str
    wrapped_key: bytes | None


class Vault:
    def __init__(self, wrapper: KeyWrapper) -> None:
        self._wrapper = wrapper

    def new_key_for(self, owner: KeyOwner) -> None:
        """Give a new owner its data key (call before the row is first flushed)."""
        owner.wrapped_key = self._wrapper.new_wrapped_key(owner.public_id)

    def key(self, owner: KeyOwner) -> DataKey:
        """The owner's data key; raises ``EncryptionKeyDestroyed`` once it has been destroyed."""
        return self._wrapper.unwrap(owner.wrapped_key, owner.public_id)

    def encrypt(self, owner: KeyOwner, plaintext: str, *, aad: str = "") -> bytes:
        return self.key(owner).encrypt(plaintext, aad=aad.encode())

    def decrypt(self, owner: KeyOwner, blob: bytes, *, aad: str = "") -> str:
        return self.key(owner).decrypt_text(blob, aad=aad.encode())

    def encrypt_json(self, owner: KeyOwner, value: Any, *, aad: str = "") -> bytes:
        return self.key(owner).encrypt_json(value, aad=aad.encode())

    def decrypt_json(self, owner: KeyOwner, blob: bytes | None, *, aad: str = "") -> Any:
        return self.key(owner).decrypt_json(blob, aad=aad.encode())

    def destroy_key(self, owner: KeyOwner) -> None:
        """Crypto-shred: forget the wrapped key. The caller commits this before deleting rows."""
        self._wrapper.forget(owner.wrapped_key, owner.public_id)
        owner.wrapped_key = None
