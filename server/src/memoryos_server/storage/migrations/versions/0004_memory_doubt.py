"""memory doubt: the other categories a memory may belong to, as a bitmask

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 22:00:00.000000

A memory the extractor was unsure of keeps its category and records the other categories it
found plausible (one bit per category, in the order preference, fact, goal, procedure,
relationship, expertise). A read filtered by categories (an agent's grant) admits it only
when every one of them is allowed. Existing memories have no doubt (0).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = ('memories', 'universal_memories')


def upgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('doubt_mask', sa.Integer(), nullable=False, server_default='0'))


def downgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('doubt_mask')
