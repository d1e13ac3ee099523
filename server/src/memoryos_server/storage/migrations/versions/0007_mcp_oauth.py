"""the Passport over MCP: clients that register themselves over OAuth, their codes and tokens

Revision ID: 0007_mcp_oauth
Revises: 0006_oauth_connectors
Create Date: 2026-12-08 10:00:00.000000

An MCP client is an agent without an organisation: ``global_agents`` gains ``kind`` (``tenant``
for every existing row, ``mcp_client`` for the new ones) and its owner becomes optional, so an
MCP client's grants, pairwise identities and activity are an agent's. The OAuth side lives in
four new tables; every secret in them is a keyed hash.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007_mcp_oauth'
down_revision: str | None = '0006_oauth_connectors'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    with op.batch_alter_table('global_agents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=16), nullable=False, server_default='tenant'))
        batch_op.alter_column('owner_tenant_id', existing_type=_ID, nullable=True)

    op.create_table('mcp_clients',
    sa.Column('id', _ID, nullable=False),
    sa.Column('client_id', sa.String(length=512), nullable=False),
    sa.Column('agent_id', sa.String(length=36), nullable=False),
    sa.Column('registration', sa.String(length=20), nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=True),
    sa.Column('token_endpoint_auth_method', sa.String(length=32), nullable=False),
    sa.Column('redirect_uris', sa.JSON(), nullable=False),
    sa.Column('scope', sa.String(length=2000), nullable=True),
    sa.Column('client_uri', sa.String(length=2000), nullable=True),
    sa.Column('software_id', sa.String(length=200), nullable=True),
    sa.Column('software_version', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('metadata_fetched_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['agent_id'], ['global_agents.id'], name=op.f('fk_mcp_clients_agent_id_global_agents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mcp_clients')),
    sa.UniqueConstraint('agent_id', name=op.f('uq_mcp_clients_agent_id')),
    sa.UniqueConstraint('client_id', name=op.f('uq_mcp_clients_client_id'))
    )

    op.create_table('mcp_token_families',
    sa.Column('id', _ID, nullable=False),
    sa.Column('client_pk', _ID, nullable=False),
    sa.Column('universal_user_id', _ID, nullable=False),
    sa.Column('agent_id', sa.String(length=36), nullable=False),
    sa.Column('resource', sa.String(length=2000), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_reason', sa.String(length=40), nullable=True),
    sa.ForeignKeyConstraint(['agent_id'], ['global_agents.id'], name=op.f('fk_mcp_token_families_agent_id_global_agents'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['client_pk'], ['mcp_clients.id'], name=op.f('fk_mcp_token_families_client_pk_mcp_clients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['universal_user_id'], ['universal_users.id'], name=op.f('fk_mcp_token_families_universal_user_id_universal_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mcp_token_families'))
    )
    with op.batch_alter_table('mcp_token_families', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mcp_token_families_agent_id'), ['agent_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_mcp_token_families_client_pk'), ['client_pk'], unique=False)
        batch_op.create_index(batch_op.f('ix_mcp_token_families_universal_user_id'), ['universal_user_id'], unique=False)

    op.create_table('mcp_authorization_codes',
    sa.Column('id', _ID, nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('client_pk', _ID, nullable=False),
    sa.Column('universal_user_id', _ID, nullable=False),
    sa.Column('redirect_uri', sa.String(length=2000), nullable=False),
    sa.Column('code_challenge', sa.String(length=128), nullable=False),
    sa.Column('resource', sa.String(length=2000), nullable=False),
    sa.Column('scope', sa.String(length=2000), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('family_id', _ID, nullable=True),
    sa.ForeignKeyConstraint(['client_pk'], ['mcp_clients.id'], name=op.f('fk_mcp_authorization_codes_client_pk_mcp_clients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['family_id'], ['mcp_token_families.id'], name=op.f('fk_mcp_authorization_codes_family_id_mcp_token_families'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['universal_user_id'], ['universal_users.id'], name=op.f('fk_mcp_authorization_codes_universal_user_id_universal_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mcp_authorization_codes')),
    sa.UniqueConstraint('code_hash', name=op.f('uq_mcp_authorization_codes_code_hash'))
    )
    with op.batch_alter_table('mcp_authorization_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mcp_authorization_codes_client_pk'), ['client_pk'], unique=False)
        batch_op.create_index(batch_op.f('ix_mcp_authorization_codes_universal_user_id'), ['universal_user_id'], unique=False)

    op.create_table('mcp_tokens',
    sa.Column('id', _ID, nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('family_id', _ID, nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('scope', sa.String(length=2000), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['family_id'], ['mcp_token_families.id'], name=op.f('fk_mcp_tokens_family_id_mcp_token_families'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mcp_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_mcp_tokens_token_hash'))
    )
    with op.batch_alter_table('mcp_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mcp_tokens_family_id'), ['family_id'], unique=False)


def downgrade() -> None:
    op.drop_table('mcp_tokens')
    op.drop_table('mcp_authorization_codes')
    op.drop_table('mcp_token_families')
    op.drop_table('mcp_clients')
    # An MCP client's agent row has no organisation to belong to; its grants go with it.
    op.execute("DELETE FROM global_agents WHERE kind = 'mcp_client'")
    with op.batch_alter_table('global_agents', schema=None) as batch_op:
        batch_op.alter_column('owner_tenant_id', existing_type=_ID, nullable=False)
        batch_op.drop_column('kind')
