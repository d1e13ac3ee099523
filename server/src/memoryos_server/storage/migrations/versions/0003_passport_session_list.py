"""passport sessions a person can list and end: a public id, a device summary, when last used

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05 10:00:00.000000
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_sessions = sa.table('passport_sessions', sa.column('id', sa.BigInteger()), sa.column('public_id', sa.String(40)))


def upgrade() -> None:
    with op.batch_alter_table('passport_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('public_id', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('device', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True))
    # Sessions signed in before this revision get a public id of their own (the same form the
    # server gives new ones: "pss_" and 24 hex digits), so they can be listed and ended too.
    connection = op.get_bind()
    for (row_id,) in connection.execute(sa.select(_sessions.c.id)).all():
        connection.execute(
            _sessions.update().where(_sessions.c.id == row_id).values(public_id='pss_' + secrets.token_hex(12))
        )
    with op.batch_alter_table('passport_sessions', schema=None) as batch_op:
        batch_op.alter_column('public_id', existing_type=sa.String(length=40), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_passport_sessions_public_id'), ['public_id'])


def downgrade() -> None:
    with op.batch_alter_table('passport_sessions', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_passport_sessions_public_id'), type_='unique')
        batch_op.drop_column('last_used_at')
        batch_op.drop_column('device')
        batch_op.drop_column('public_id')
