"""Envelope encryption and the master key file (no database needed)."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from memoryos_server.crypto import DecryptionFailed, KeyWrapper, TokenHasher, load_or_create_master_key
from memoryos_server.crypto.keys import MasterKeyError, decode_master_key
from memoryos_server.errors import EncryptionKeyDestroyed

MASTER = bytes(range(32))


def test_round_trip_and_context_binding() -> None:
    wrapper = KeyWrapper(MASTER)
    key = wrapper.unwrap(wrapper.new_wrapped_key("usr_a"), "usr_a")
    blob = key.encrypt("Prefers tea", aad=b"memory-1")
    assert b"tea" not in blob
    assert key.decrypt_text(blob, aad=b"memory-1") == "Prefers tea"
    with pytest.raises(DecryptionFailed):
        key.decrypt(blob, aad=b"memory-2")  # moved to another row: refused
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(DecryptionFailed):
        key.decrypt(tampered, aad=b"memory-1")


def test_each_owner_has_its_own_key_bound_to_its_id() -> None:
    wrapper = KeyWrapper(MASTER)
    wrapped_a, wrapped_b = wrapper.new_wrapped_key("usr_a"), wrapper.new_wrapped_key("usr_b")
    key_a, key_b = wrapper.unwrap(wrapped_a, "usr_a"), wrapper.unwrap(wrapped_b, "usr_b")
    with pytest.raises(DecryptionFailed):
        key_b.decrypt(key_a.encrypt("secret"))
    with pytest.raises(DecryptionFailed):
        KeyWrapper(MASTER, cache_size=0).unwrap(wrapped_a, "usr_b")  # a key swapped onto another row
    assert key_a.term_hash("python") != key_b.term_hash("python")
    assert key_a.term_hash("python") == wrapper.unwrap(wrapped_a, "usr_a").term_hash("python")


def test_another_master_key_cannot_unwrap() -> None:
    wrapped = KeyWrapper(MASTER).new_wrapped_key("usr_a")
    with pytest.raises(DecryptionFailed):
        KeyWrapper(os.urandom(32)).unwrap(wrapped, "usr_a")


def test_a_destroyed_key_cannot_be_used() -> None:
    with pytest.raises(EncryptionKeyDestroyed):
        KeyWrapper(MASTER).unwrap(None, "usr_a")


def test_master_key_file_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    first = load_or_create_master_key(None, tmp_path / "data")
    assert first.created and first.path is not None
    assert stat.S_IMODE(first.path.stat().st_mode) == 0o600
    second = load_or_create_master_key(None, tmp_path / "data")
    assert not second.created and second.key == first.key


def test_concurrent_first_starts_agree_on_one_key(tmp_path: Path) -> None:
    keys: list[bytes] = []
    barrier = threading.Barrier(8)

    def start() -> None:
        barrier.wait()
        keys.append(load_or_create_master_key(None, tmp_path).key)

    threads = [threading.Thread(target=start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(keys)) == 1


def test_configured_master_key_is_validated() -> None:
    with pytest.raises(MasterKeyError):
        decode_master_key("not base64!")
    with pytest.raises(MasterKeyError):
        decode_master_key("c2hvcnQ=")


def test_token_hashes_are_keyed_and_compared_in_constant_time() -> None:
    hasher = TokenHasher(MASTER)
    stored = hasher.hash("mem_secret", purpose="api_key")
    assert hasher.matches("mem_secret", stored, purpose="api_key")
    assert not hasher.matches("mem_secret", stored, purpose="session")
    assert TokenHasher(os.urandom(32)).hash("mem_secret", purpose="api_key") != stored
