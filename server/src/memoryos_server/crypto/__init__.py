"""Envelope encryption, key handling and secret hashing."""

from memoryos_server.crypto.envelope import DataKey, DecryptionFailed, KeyWrapper
from memoryos_server.crypto.keys import LoadedMasterKey, derive_key, load_or_create_master_key
from memoryos_server.crypto.passwords import Passwords
from memoryos_server.crypto.tokens import TokenHasher, numeric_code, public_id, random_token

__all__ = [
    "DataKey",
    "DecryptionFailed",
    "KeyWrapper",
    "LoadedMasterKey",
    "Passwords",
    "TokenHasher",
    "derive_key",
    "load_or_create_master_key",
    "numeric_code",
    "public_id",
    "random_token",
]
