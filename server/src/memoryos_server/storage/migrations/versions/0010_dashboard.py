"""the dashboard's Usage: daily counts of adds and retrievals per organisation

Revision ID: 0010_dashboard
Revises: 0009_sealed_identifiers
Create Date: 2026-12-07 01:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010_dashboard'
down_revision: str | None = '0009_sealed_identifiers'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('usage_days',
    sa.Column('id', _ID, nullable=False),
    sa.Column('tenant_id', _ID, nullable=False),
    sa.Column('day', sa.String(length=10), nullable=False),
    sa.Column('metric', sa.String(length=20), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('tenant_id', 'day', 'metric'),
    )
    with op.batch_alter_table('usage_days', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_usage_days_tenant_id'), ['tenant_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('usage_days', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_usage_days_tenant_id'))
    op.drop_table('usage_days')
