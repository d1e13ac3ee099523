"""End-user resolution (seed 002) and deletion by crypto-shredding (SPEC §7)."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from memoryos_server.errors import BadRequest, EndUserRequired, EncryptionKeyDestroyed
from memoryos_server.services.identity import external_user_id_of
from memoryos_server.storage.models import TenantMemory, TenantMemoryTerm, TenantMemoryVersion, User
from memoryos_server.storage.types import utcnow
from tests.fixtures.factories import TenantHandle
from tests.fixtures.rawfiles import raw_bytes


def _principal(client: TestClient, tenant: TenantHandle):  # type: ignore[no-untyped-def]
    services = client.app.state.services  # type: ignore[attr-defined]
    return services, services.identity.authenticate_request(authorization=f"ApiKey {tenant.api_key}", x_api_key=None)


def test_header_wins_then_body_then_400(client: TestClient, tenant: TenantHandle) -> None:
    services, principal = _principal(client, tenant)
    with services.runtime.db.session() as session:
        from_header = services.identity.resolve_end_user(session, principal, header_value="alice", body_value="bob")
        from_body = services.identity.resolve_end_user(session, principal, header_value=None, body_value="bob")
        assert from_header.external_id_hash == services.identity.external_id_hash(f"{tenant.tenant_id}:alice")
        assert from_body.external_id_hash == services.identity.external_id_hash(f"{tenant.tenant_id}:bob")
        assert external_user_id_of(services.runtime.vault, from_header) == "alice"
        assert from_header.public_id.startswith("usr_") and from_header.kind == "end_user"
        with pytest.raises(EndUserRequired):
            services.identity.resolve_end_user(session, principal, header_value=None, body_value=None)
        with pytest.raises(EndUserRequired):
            services.identity.resolve_end_user(session, principal, header_value="", body_value="  ")
        with pytest.raises(BadRequest):
            services.identity.resolve_end_user(session, principal, header_value="x" * 256, body_value=None)


def test_a_jwt_caller_is_their_own_end_user_and_the_header_is_ignored(client: TestClient, tenant: TenantHandle) -> None:
    services = client.app.state.services  # type: ignore[attr-defined]
    principal = services.identity.authenticate_request(authorization=f"Bearer {tenant.jwt}", x_api_key=None)
    with services.runtime.db.session() as session:
        user = services.identity.resolve_end_user(session, principal, header_value="someone-else", body_value="x")
        # Their own memory owner in this organisation: not the account row, not an end-user.
        member_name = f"{tenant.tenant_id}#member:{tenant.owner_id}"
        assert user.kind == "member" and user.external_id_hash == services.identity.external_id_hash(member_name)
        assert user.public_id != tenant.owner_id and user.wrapped_key
        again = services.identity.resolve_end_user(session, principal, header_value=None, body_value=None)
        assert again.id == user.id
        assert session.execute(select(User).where(User.external_id_hash == services.identity.external_id_hash(f"{tenant.tenant_id}:someone-else"))).first() is None


def test_the_same_end_user_id_in_two_tenants_is_two_users(client: TestClient, new_tenant) -> None:  # type: ignore[no-untyped-def]
    first, second = new_tenant(), new_tenant()
    ids = []
    for handle in (first, second):
        services, principal = _principal(client, handle)
        with services.runtime.db.session() as session:
            ids.append(services.identity.end_user(session, principal, "customer-1", create=True).public_id)
    assert ids[0] != ids[1]


def test_two_simultaneous_first_requests_make_one_row(client: TestClient, tenant: TenantHandle) -> None:
    services, principal = _principal(client, tenant)
    end_user = f"racer-{uuid.uuid4().hex[:8]}"
    barrier = threading.Barrier(6)
    seen: list[str] = []
    failures: list[BaseException] = []

    def first_request() -> None:
        try:
            barrier.wait()
            with services.runtime.db.session() as session:
                seen.append(services.identity.end_user(session, principal, end_user, create=True).public_id)
        except BaseException as exc:  # noqa: BLE001 — collected and asserted below
            failures.append(exc)

    threads = [threading.Thread(target=first_request) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
    assert len(set(seen)) == 1
    with services.runtime.db.session(write=False) as session:
        rows = session.execute(select(User).where(User.external_id_hash == services.identity.external_id_hash(f"{tenant.tenant_id}:{end_user}"))).scalars().all()
    assert len(rows) == 1


def _store_memory(services, principal, end_user: str, text_value: str) -> str:  # type: ignore[no-untyped-def]
    """Write one memory the way the engine does: ciphertext, a version and keyed term hashes."""
    vault = services.runtime.vault
    with services.runtime.db.session() as session:
        owner = services.identity.end_user(session, principal, end_user, create=True)
        key = vault.key(owner)
        memory_id = str(uuid.uuid4())
        aad = memory_id.encode()
        now = utcnow()
        session.add(
            TenantMemory(
                id=memory_id, tenant_id=owner.tenant_id, owner_id=owner.id, scope="tenant", category="fact",
                content_ct=key.encrypt(text_value, aad=aad), importance=5, original_importance=5, confidence=0.9,
                content_hash="h", created_at=now, updated_at=now,
            )
        )
        session.flush()
        session.add(
            TenantMemoryVersion(
                memory_id=memory_id, version=1, event="ADD", content_ct=key.encrypt(text_value, aad=aad),
                category="fact", importance=5, status="active", created_at=now,
            )
        )
        for word in set(text_value.lower().split()):
            session.add(TenantMemoryTerm(memory_id=memory_id, owner_id=owner.id, term=key.term_hash(word), tf=1))
    return memory_id


def test_deleting_an_end_user_destroys_the_key_then_the_rows(client: TestClient, tenant: TenantHandle, settings) -> None:  # type: ignore[no-untyped-def]
    services, principal = _principal(client, tenant)
    secret = f"Passport number is X{uuid.uuid4().hex[:10]}"
    memory_id = _store_memory(services, principal, "leaver", secret)
    exported = client.get("/v1/users/leaver/export", headers=tenant.key_headers()).json()["data"]
    assert [m["content"] for m in exported["memories"]] == [secret]
    assert exported["memories"][0]["versions"][0]["content"] == secret

    response = client.delete("/v1/users/leaver", headers=tenant.key_headers())
    assert response.status_code == 200 and response.json()["data"]["deleted"] is True

    with services.runtime.db.session(write=False) as session:
        for table in ("memories", "memory_versions", "memory_terms"):
            left = session.execute(text(f"SELECT count(*) FROM {table} WHERE memory_id = :id" if table != "memories"
                                        else "SELECT count(*) FROM memories WHERE id = :id"), {"id": memory_id}).scalar()
            assert left == 0, table
        assert session.execute(select(User).where(User.external_id_hash == services.identity.external_id_hash(f"{tenant.tenant_id}:leaver"))).first() is None
    assert client.get("/v1/users/leaver", headers=tenant.key_headers()).status_code == 404
    if settings.is_sqlite:
        raw = raw_bytes(_database_file(settings))
        assert secret.encode() not in raw  # the plaintext was never on disk


def _database_file(settings) -> Path:  # type: ignore[no-untyped-def]
    return Path(settings.resolved_database_url.removeprefix("sqlite:///"))


def test_rows_left_behind_after_the_key_is_destroyed_are_unreadable(client: TestClient, tenant: TenantHandle) -> None:
    """The first step of deletion alone (as if the server died before the second): ciphertext nobody can read."""
    services, principal = _principal(client, tenant)
    memory_id = _store_memory(services, principal, "half-deleted", "Allergic to penicillin")
    vault = services.runtime.vault
    with services.runtime.db.session() as session:
        owner = services.identity.end_user(session, principal, "half-deleted", create=False)
        vault.destroy_key(owner)
    with services.runtime.db.session(write=False) as session:
        owner = services.identity.end_user(session, principal, "half-deleted", create=False)
        row = session.get(TenantMemory, memory_id)
        assert row is not None and owner.wrapped_key is None
        assert b"penicillin" not in row.content_ct
        with pytest.raises(EncryptionKeyDestroyed):
            vault.decrypt(owner, row.content_ct, aad=memory_id)
    assert client.get("/v1/users/half-deleted/export", headers=tenant.key_headers()).status_code == 404


def _every_row_as_text(services) -> str:  # type: ignore[no-untyped-def]
    """Every row of every table, as the database would hand it to anyone who can read it."""
    from sqlalchemy import inspect

    engine = services.runtime.db.engine
    dumped: list[str] = []
    with engine.connect() as connection:
        for table in inspect(connection).get_table_names():
            for row in connection.execute(text(f'SELECT * FROM "{table}"')):
                for value in row:
                    if isinstance(value, (bytes, bytearray, memoryview)):
                        dumped.append(bytes(value).decode("latin-1"))
                    else:
                        dumped.append(str(value))
    return "\n".join(dumped)


def test_a_deleted_end_users_text_is_nowhere_in_the_database(client: TestClient, tenant: TenantHandle, settings) -> None:  # type: ignore[no-untyped-def]
    """Through the real add path (memories, versions, keyword postings, the job and the replay
    record of an idempotent add), then deletion: no table holds the words, on either database."""
    word = f"zq{uuid.uuid4().hex[:12]}"
    secret = f"My locker code word is {word}"
    headers = {**tenant.key_headers("erased"), "Idempotency-Key": "erase-1"}
    added = client.post("/v1/memories/add", json={"messages": [{"role": "user", "content": secret}], "infer": False},
                        headers=headers)
    assert added.status_code == 200, added.text
    found = client.post("/v1/memories/retrieve", json={"query": word}, headers=tenant.key_headers("erased"))
    assert [m["content"] for m in found.json()["data"]] == [secret]
    services = client.app.state.services  # type: ignore[attr-defined]
    assert word not in _every_row_as_text(services)  # ciphertext and keyed hashes only, even while alive

    assert client.delete("/v1/users/erased", headers=tenant.key_headers()).status_code == 200
    assert word not in _every_row_as_text(services)
    again = client.post("/v1/memories/retrieve", json={"query": word}, headers=tenant.key_headers("erased"))
    assert again.status_code == 200 and again.json()["data"] == []
    if settings.is_sqlite:
        raw = raw_bytes(_database_file(settings))
        assert word.encode() not in raw
