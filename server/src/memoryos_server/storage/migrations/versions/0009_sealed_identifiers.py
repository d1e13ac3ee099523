"""sealed identifiers: no end-user id or conversation id stored as text

Revision ID: 0009_sealed_identifiers
Revises: 0008_agent_logos
Create Date: 2026-12-09 12:00:00.000000

``users.external_id`` ("{tenant}:{end-user id}", and the workspace's and members' own names)
becomes ``external_id_hash`` (a keyed hash under the master key, unique: what lookups use) and
``external_id_ct`` (the text sealed under the row's own data key, for the end-user list and
exports). ``memories.conversation_id`` and ``universal_memories.conversation_id`` become
``conversation_ct``, sealed like the memory text under its owner's key.

Existing rows are converted here, so this revision needs the master key
(``storage.migrate.upgrade(..., master_key=...)``; ``memoryos migrate`` and ``memoryos serve``
pass it). A row whose owner's key was already destroyed (an erasure interrupted between its two
steps) keeps its hash but loses the text: nobody could have read it any more.

The contexts below are those of ``storage/vault.py`` (``EXTERNAL_ID_AAD``,
``EXTERNAL_ID_HASH_PURPOSE``, ``conversation_aad``), copied so this revision keeps its meaning
if those ever change.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from memoryos_server.crypto import DataKey, KeyWrapper, TokenHasher

revision: str = '0009_sealed_identifiers'
down_revision: str | None = '0008_agent_logos'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_EXTERNAL_ID_AAD = b"memoryos:users.external_id"
_EXTERNAL_ID_HASH_PURPOSE = "user-external-id"
_MEMORY_TABLES = (("memories", "users"), ("universal_memories", "universal_users"))


def _conversation_aad(memory_id: str) -> bytes:
    return f"{memory_id}:conversation_id".encode()


def _master_key(needed_for: int) -> bytes:
    key = op.get_context().config.attributes.get("master_key") if op.get_context().config is not None else None
    if not key:
        raise RuntimeError(
            f"revision 0009_sealed_identifiers seals {needed_for} existing identifiers and needs the master key: "
            "run `memoryos migrate` (or start the server) with the same MEMORYOS_MASTER_KEY or data directory as the server"
        )
    return bytes(key)


def _owner_key(wrapper: KeyWrapper, keys: dict[str, DataKey | None], public_id: str, wrapped: Any) -> DataKey | None:
    """The owner's data key, or None once it has been destroyed."""
    if public_id not in keys:
        keys[public_id] = wrapper.unwrap(bytes(wrapped), public_id) if wrapped else None
    return keys[public_id]


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('external_id_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('external_id_ct', sa.LargeBinary(), nullable=True))
    for table, _ in _MEMORY_TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('conversation_ct', sa.LargeBinary(), nullable=True))

    bind = op.get_bind()
    users = bind.execute(
        sa.text("SELECT id, public_id, wrapped_key, external_id FROM users WHERE external_id IS NOT NULL")
    ).all()
    memories = {
        table: bind.execute(
            sa.text(
                f"SELECT m.id, m.conversation_id, o.public_id, o.wrapped_key FROM {table} m "
                f"JOIN {owners} o ON o.id = m.owner_id WHERE m.conversation_id IS NOT NULL"
            )
        ).all()
        for table, owners in _MEMORY_TABLES
    }
    total = len(users) + sum(len(rows) for rows in memories.values())
    if total:
        master = _master_key(total)
        wrapper, hasher = KeyWrapper(master), TokenHasher(master)
        keys: dict[str, DataKey | None] = {}
        sealed_users = []
        for row in users:
            key = _owner_key(wrapper, keys, row.public_id, row.wrapped_key)
            sealed_users.append(
                {
                    "row_id": row.id,
                    "digest": hasher.hash(row.external_id, purpose=_EXTERNAL_ID_HASH_PURPOSE),
                    "sealed": key.encrypt(row.external_id, aad=_EXTERNAL_ID_AAD) if key else None,
                }
            )
        if sealed_users:
            bind.execute(
                sa.text("UPDATE users SET external_id_hash = :digest, external_id_ct = :sealed WHERE id = :row_id"),
                sealed_users,
            )
        for table, rows in memories.items():
            sealed = []
            for row in rows:
                key = _owner_key(wrapper, keys, row.public_id, row.wrapped_key)
                sealed.append(
                    {"row_id": row.id, "sealed": key.encrypt(row.conversation_id, aad=_conversation_aad(row.id)) if key else None}
                )
            if sealed:
                bind.execute(sa.text(f"UPDATE {table} SET conversation_ct = :sealed WHERE id = :row_id"), sealed)

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('uq_users_external_id'), type_='unique')
        batch_op.drop_column('external_id')
        batch_op.create_unique_constraint(op.f('uq_users_external_id_hash'), ['external_id_hash'])
    for table, _ in _MEMORY_TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('conversation_id')


def downgrade() -> None:
    """Back to text, for a rollback of the release: the sealed values are opened again."""
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('external_id', sa.String(length=400), nullable=True))
    for table, _ in _MEMORY_TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('conversation_id', sa.String(length=255), nullable=True))

    bind = op.get_bind()
    users = bind.execute(
        sa.text("SELECT id, public_id, wrapped_key, external_id_ct FROM users WHERE external_id_ct IS NOT NULL")
    ).all()
    memories = {
        table: bind.execute(
            sa.text(
                f"SELECT m.id, m.conversation_ct, o.public_id, o.wrapped_key FROM {table} m "
                f"JOIN {owners} o ON o.id = m.owner_id WHERE m.conversation_ct IS NOT NULL"
            )
        ).all()
        for table, owners in _MEMORY_TABLES
    }
    total = len(users) + sum(len(rows) for rows in memories.values())
    if total:
        wrapper = KeyWrapper(_master_key(total))
        keys: dict[str, DataKey | None] = {}
        opened = []
        for row in users:
            key = _owner_key(wrapper, keys, row.public_id, row.wrapped_key)
            if key is not None:
                opened.append({"row_id": row.id, "text": key.decrypt_text(bytes(row.external_id_ct), aad=_EXTERNAL_ID_AAD)})
        if opened:
            bind.execute(sa.text("UPDATE users SET external_id = :text WHERE id = :row_id"), opened)
        for table, rows in memories.items():
            texts = []
            for row in rows:
                key = _owner_key(wrapper, keys, row.public_id, row.wrapped_key)
                if key is not None:
                    texts.append({"row_id": row.id, "text": key.decrypt_text(bytes(row.conversation_ct), aad=_conversation_aad(row.id))})
            if texts:
                bind.execute(sa.text(f"UPDATE {table} SET conversation_id = :text WHERE id = :row_id"), texts)

    for table, _ in _MEMORY_TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('conversation_ct')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('uq_users_external_id_hash'), type_='unique')
        batch_op.drop_column('external_id_ct')
        batch_op.drop_column('external_id_hash')
        batch_op.create_unique_constraint(op.f('uq_users_external_id'), ['external_id'])
