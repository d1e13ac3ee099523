"""The master key: where it comes from and the purpose keys derived from it."""

from __future__ import annotations

import base64
import binascii
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from memoryos_server.errors import MemoryOSError

MASTER_KEY_FILE = "master.key"
KEY_BYTES = 32


class MasterKeyError(MemoryOSError):
    error = "master_key_invalid"


@dataclass(frozen=True)
class LoadedMasterKey:
    key: bytes
    path: Path | None  # the key file, when it came from one
    created: bool  # True on the first start that generated the file


def decode_master_key(encoded: str) -> bytes:
    try:
        raw = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MasterKeyError("MEMORYOS_MASTER_KEY must be base64 of 32 random bytes") from exc
    if len(raw) != KEY_BYTES:
        raise MasterKeyError("MEMORYOS_MASTER_KEY must be base64 of exactly 32 bytes")
    return raw


def load_or_create_master_key(configured: str | None, data_dir: Path) -> LoadedMasterKey:
    """Use the configured key, else the data directory's key file, else create that file (0600)."""
    if configured:
        return LoadedMasterKey(decode_master_key(configured), None, False)
    path = data_dir / MASTER_KEY_FILE
    if path.exists():
        return LoadedMasterKey(decode_master_key(path.read_text()), path, False)
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    encoded = base64.b64encode(os.urandom(KEY_BYTES)).decode()
    # Write a private temporary file, then link it into place: the link either creates the key
    # file complete or fails because another process already did, so no reader sees it half-written.
    fd, temporary = tempfile.mkstemp(dir=data_dir, prefix=".master.key.")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(encoded + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o600)
        try:
            os.link(temporary, path)
        except FileExistsError:
            return LoadedMasterKey(decode_master_key(path.read_text()), path, False)
    finally:
        os.unlink(temporary)
    return LoadedMasterKey(decode_master_key(encoded), path, True)


def derive_key(master: bytes, purpose: str, length: int = KEY_BYTES) -> bytes:
    """A key for one purpose (token hashing, JWT signing, …), so no two uses share key material."""
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=f"memoryos:{purpose}".encode()).derive(
        master
    )
