"""provenance: service writers, source events, and the claim each memory and version came from

Revision ID: 0005_provenance
Revises: 0004
Create Date: 2026-12-08 10:00:00.000000

A tenant registers the services that write claims about its end-users (``service_writers``:
authority per category, optionally bound to one API key); every add with a ``source`` records a
``source_events`` row. Memories and their versions point to the event their text came from
(``source_event_id``), and a version may say why it was written (``note``: the rule that
archived a losing claim). Existing rows have none of these.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005_provenance'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('service_writers',
    sa.Column('id', _ID, nullable=False),
    sa.Column('tenant_id', _ID, nullable=False),
    sa.Column('service_key', sa.String(length=100), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=False),
    sa.Column('default_priority', sa.Integer(), nullable=False),
    sa.Column('category_priorities', sa.JSON(), nullable=False),
    sa.Column('api_key_id', _ID, nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['api_key_id'], ['api_keys.id'], name=op.f('fk_service_writers_api_key_id_api_keys'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_service_writers_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_service_writers')),
    sa.UniqueConstraint('tenant_id', 'service_key', name=op.f('uq_service_writers_tenant_id_service_key'))
    )
    with op.batch_alter_table('service_writers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_service_writers_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('source_events',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('tenant_id', _ID, nullable=False),
    sa.Column('owner_id', _ID, nullable=False),
    sa.Column('service_key', sa.String(length=100), nullable=False),
    sa.Column('event_id', sa.String(length=255), nullable=False),
    sa.Column('observed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('payload_hash', sa.String(length=64), nullable=False),
    sa.Column('scope_ct', sa.LargeBinary(), nullable=True),
    sa.Column('evidence_ct', sa.LargeBinary(), nullable=True),
    sa.Column('answer_ct', sa.LargeBinary(), nullable=True),
    sa.Column('job_id', sa.String(length=40), nullable=True),
    sa.Column('api_key_id', sa.BigInteger(), nullable=True),
    sa.Column('actor', sa.String(length=120), nullable=True),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_source_events_owner_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_source_events_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_source_events')),
    sa.UniqueConstraint('tenant_id', 'service_key', 'event_id', name=op.f('uq_source_events_tenant_id_service_key_event_id'))
    )
    with op.batch_alter_table('source_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_source_events_owner_id'), ['owner_id'], unique=False)
        batch_op.create_index('ix_source_events_tenant_received', ['tenant_id', 'received_at', 'id'], unique=False)

    with op.batch_alter_table('memories', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source_event_id', sa.String(length=40), nullable=True))
        batch_op.create_index(batch_op.f('ix_memories_source_event_id'), ['source_event_id'], unique=False)
        batch_op.create_foreign_key(
            batch_op.f('fk_memories_source_event_id_source_events'), 'source_events', ['source_event_id'], ['id'],
            ondelete='SET NULL',
        )
    with op.batch_alter_table('memory_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('note', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('source_event_id', sa.String(length=40), nullable=True))
    with op.batch_alter_table('universal_memory_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('note', sa.String(length=500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('universal_memory_versions', schema=None) as batch_op:
        batch_op.drop_column('note')
    with op.batch_alter_table('memory_versions', schema=None) as batch_op:
        batch_op.drop_column('source_event_id')
        batch_op.drop_column('note')
    with op.batch_alter_table('memories', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_memories_source_event_id_source_events'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_memories_source_event_id'))
        batch_op.drop_column('source_event_id')
    with op.batch_alter_table('source_events', schema=None) as batch_op:
        batch_op.drop_index('ix_source_events_tenant_received')
        batch_op.drop_index(batch_op.f('ix_source_events_owner_id'))
    op.drop_table('source_events')
    with op.batch_alter_table('service_writers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_service_writers_tenant_id'))
    op.drop_table('service_writers')
