"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-21 07:22:07.460901
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from memoryos_server.storage.types import Embedding


revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS vector")
    op.create_table('idempotency_records',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('scope', sa.String(length=120), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('response_ct', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_idempotency_records'))
    )
    with op.batch_alter_table('idempotency_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_idempotency_records_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index('uq_idempotency_scope_key', ['scope', 'key_hash'], unique=True)

    op.create_table('jobs',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('family', sa.String(length=12), nullable=False),
    sa.Column('tenant_id', sa.BigInteger(), nullable=True),
    sa.Column('owner_id', sa.BigInteger(), nullable=False),
    sa.Column('agent_id', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('payload_ct', sa.LargeBinary(), nullable=True),
    sa.Column('result_ct', sa.LargeBinary(), nullable=True),
    sa.Column('extractor', sa.String(length=32), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('error', sa.String(length=500), nullable=True),
    sa.Column('memories_created', sa.Integer(), nullable=False),
    sa.Column('skipped', sa.Integer(), nullable=False),
    sa.Column('created_memory_ids', sa.JSON(), nullable=False),
    sa.Column('available_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_jobs'))
    )
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.create_index('ix_jobs_status_available', ['status', 'available_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_jobs_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('otp_challenges',
    sa.Column('email_hash', sa.String(length=64), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('failed_attempts', sa.Integer(), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('email_hash', name=op.f('pk_otp_challenges'))
    )
    op.create_table('rate_limit_counters',
    sa.Column('bucket', sa.String(length=200), nullable=False),
    sa.Column('window_start', sa.Integer(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('bucket', 'window_start', name=op.f('pk_rate_limit_counters'))
    )
    op.create_table('tenants',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('public_id', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tenants')),
    sa.UniqueConstraint('public_id', name=op.f('uq_tenants_public_id'))
    )
    op.create_table('universal_users',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('public_id', sa.String(length=40), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('wrapped_key', sa.LargeBinary(), nullable=True),
    sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_universal_users')),
    sa.UniqueConstraint('email', name=op.f('uq_universal_users_email')),
    sa.UniqueConstraint('public_id', name=op.f('uq_universal_users_public_id'))
    )
    op.create_table('audit_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('universal_user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('tenant_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('agent_id', sa.String(length=36), nullable=True),
    sa.Column('actor_type', sa.String(length=16), nullable=False),
    sa.Column('actor_id', sa.String(length=120), nullable=True),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('memory_ids', sa.JSON(), nullable=False),
    sa.Column('categories', sa.JSON(), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_audit_events_tenant_id_tenants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['universal_user_id'], ['universal_users.id'], name=op.f('fk_audit_events_universal_user_id_universal_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_events'))
    )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_events_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_events_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_events_universal_user_id'), ['universal_user_id'], unique=False)

    op.create_table('directory_entries',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('tenant_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=False),
    sa.Column('category', sa.String(length=60), nullable=True),
    sa.Column('website_url', sa.String(length=2000), nullable=True),
    sa.Column('logo_url', sa.String(length=2000), nullable=True),
    sa.Column('oauth_client_id', sa.String(length=400), nullable=True),
    sa.Column('oauth_client_secret_ct', sa.LargeBinary(), nullable=True),
    sa.Column('oauth_authorization_url', sa.String(length=2000), nullable=True),
    sa.Column('oauth_token_url', sa.String(length=2000), nullable=True),
    sa.Column('oauth_userinfo_url', sa.String(length=2000), nullable=True),
    sa.Column('oauth_scopes', sa.JSON(), nullable=False),
    sa.Column('is_public', sa.Boolean(), nullable=False),
    sa.Column('link_token_enabled', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_directory_entries_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_directory_entries')),
    sa.UniqueConstraint('tenant_id', name=op.f('uq_directory_entries_tenant_id'))
    )
    op.create_table('global_agents',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('owner_tenant_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.String(length=2000), nullable=True),
    sa.Column('website_url', sa.String(length=2000), nullable=True),
    sa.Column('logo_url', sa.String(length=2000), nullable=True),
    sa.Column('redirect_uris', sa.JSON(), nullable=False),
    sa.Column('default_categories', sa.JSON(), nullable=False),
    sa.Column('verification_status', sa.String(length=12), nullable=False),
    sa.Column('verification_note', sa.String(length=2000), nullable=True),
    sa.Column('verified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('key_prefix', sa.String(length=20), nullable=False),
    sa.Column('created_by', sa.String(length=120), nullable=True),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['owner_tenant_id'], ['tenants.id'], name=op.f('fk_global_agents_owner_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_global_agents')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_global_agents_key_hash'))
    )
    with op.batch_alter_table('global_agents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_global_agents_owner_tenant_id'), ['owner_tenant_id'], unique=False)

    op.create_table('org_connections',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('universal_user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('tenant_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('method', sa.String(length=16), nullable=False),
    sa.Column('account_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_org_connections_tenant_id_tenants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['universal_user_id'], ['universal_users.id'], name=op.f('fk_org_connections_universal_user_id_universal_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_org_connections')),
    sa.UniqueConstraint('universal_user_id', 'tenant_id', 'account_hash', name=op.f('uq_org_connections_universal_user_id_tenant_id_account_hash'))
    )
    with op.batch_alter_table('org_connections', schema=None) as batch_op:
        batch_op.create_index('ix_org_connections_tenant_account', ['tenant_id', 'account_hash'], unique=False)
        batch_op.create_index(batch_op.f('ix_org_connections_universal_user_id'), ['universal_user_id'], unique=False)

    op.create_table('passport_sessions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('session_hash', sa.String(length=64), nullable=False),
    sa.Column('universal_user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['universal_user_id'], ['universal_users.id'], name=op.f('fk_passport_sessions_universal_user_id_universal_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_passport_sessions')),
    sa.UniqueConstraint('session_hash', name=op.f('uq_passport_sessions_session_hash'))
    )
    with op.batch_alter_table('passport_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_passport_sessions_universal_user_id'), ['universal_user_id'], unique=False)

    op.create_table('universal_memories',
    sa.Column('owner_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('source_tenant_id', sa.BigInteger(), nullable=True),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('category', sa.String(length=16), nullable=False),
    sa.Column('content_ct', sa.LargeBinary(), nullable=False),
    sa.Column('metadata_ct', sa.LargeBinary(), nullable=True),
    sa.Column('source_ct', sa.LargeBinary(), nullable=True),
    sa.Column('importance', sa.Float(), nullable=False),
    sa.Column('original_importance', sa.Float(), nullable=False),
    sa.Column('confidence', sa.Float(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('disputed', sa.Boolean(), nullable=False),
    sa.Column('flagged', sa.Boolean(), nullable=False),
    sa.Column('unconfirmed', sa.Boolean(), nullable=False),
    sa.Column('agent_id', sa.String(length=64), nullable=True),
    sa.Column('conversation_id', sa.String(length=255), nullable=True),
    sa.Column('valid_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('archived_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_accessed', sa.DateTime(timezone=True), nullable=True),
    sa.Column('access_count', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('term_count', sa.Integer(), nullable=False),
    sa.Column('embedding', Embedding(384), nullable=True),
    sa.Column('index_seq', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['owner_id'], ['universal_users.id'], name=op.f('fk_universal_memories_owner_id_universal_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_universal_memories'))
    )
    with op.batch_alter_table('universal_memories', schema=None) as batch_op:
        batch_op.create_index('ix_universal_memories_owner_created', ['owner_id', 'created_at'], unique=False)
        batch_op.create_index('ix_universal_memories_owner_hash', ['owner_id', 'content_hash'], unique=False)
        batch_op.create_index('ix_universal_memories_owner_index_seq', ['owner_id', 'index_seq'], unique=False)
        batch_op.create_index('ix_universal_memories_owner_status_category', ['owner_id', 'status', 'category'], unique=False)

    op.create_table('universal_questions',
    sa.Column('owner_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('memory_a_id', sa.String(length=36), nullable=False),
    sa.Column('memory_b_id', sa.String(length=36), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('answer', sa.String(length=8), nullable=True),
    sa.Column('free_text_ct', sa.LargeBinary(), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolved_by', sa.String(length=120), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['owner_id'], ['universal_users.id'], name=op.f('fk_universal_questions_owner_id_universal_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_universal_questions'))
    )
    with op.batch_alter_table('universal_questions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_universal_questions_owner_id'), ['owner_id'], unique=False)

    op.create_table('users',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('public_id', sa.String(length=40), nullable=False),
    sa.Column('tenant_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('external_id', sa.String(length=400), nullable=True),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('login_email', sa.String(length=320), nullable=True),
    sa.Column('password_hash', sa.String(length=200), nullable=True),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('wrapped_key', sa.LargeBinary(), nullable=True),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_users_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('external_id', name=op.f('uq_users_external_id')),
    sa.UniqueConstraint('login_email', name=op.f('uq_users_login_email')),
    sa.UniqueConstraint('public_id', name=op.f('uq_users_public_id'))
    )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_users_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index('ix_users_tenant_kind', ['tenant_id', 'kind'], unique=False)

    op.create_table('api_keys',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('public_id', sa.String(length=40), nullable=False),
    sa.Column('tenant_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('key_prefix', sa.String(length=16), nullable=False),
    sa.Column('created_by_user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['users.id'], name=op.f('fk_api_keys_created_by_user_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_api_keys_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_keys')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_api_keys_key_hash')),
    sa.UniqueConstraint('public_id', name=op.f('uq_api_keys_public_id'))
    )
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_keys_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('clarifications',
    sa.Column('tenant_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('owner_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('memory_a_id', sa.String(length=36), nullable=False),
    sa.Column('memory_b_id', sa.String(length=36), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('answer', sa.String(length=8), nullable=True),
    sa.Column('free_text_ct', sa.LargeBinary(), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolved_by', sa.String(length=120), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_clarifications_owner_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_clarifications_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clarifications'))
    )
    with op.batch_alter_table('clarifications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_clarifications_owner_id'), ['owner_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_clarifications_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('consent_codes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('agent_id', sa.String(length=36), nullable=False),
    sa.Column('universal_user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['agent_id'], ['global_agents.id'], name=op.f('fk_consent_codes_agent_id_global_agents'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['universal_user_id'], ['universal_users.id'], name=op.f('fk_consent_codes_universal_user_id_universal_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_codes')),
    sa.UniqueConstraint('code_hash', name=op.f('uq_consent_codes_code_hash'))
    )
    with op.batch_alter_table('consent_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consent_codes_agent_id'), ['agent_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_consent_codes_universal_user_id'), ['universal_user_id'], unique=False)

    op.create_table('grants',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('universal_user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('agent_id', sa.String(length=36), nullable=False),
    sa.Column('categories', sa.JSON(), nullable=False),
    sa.Column('access_type', sa.String(length=12), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['global_agents.id'], name=op.f('fk_grants_agent_id_global_agents'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['universal_user_id'], ['universal_users.id'], name=op.f('fk_grants_universal_user_id_universal_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_grants')),
    sa.UniqueConstraint('universal_user_id', 'agent_id', name=op.f('uq_grants_universal_user_id_agent_id'))
    )
    with op.batch_alter_table('grants', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_grants_agent_id'), ['agent_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_grants_universal_user_id'), ['universal_user_id'], unique=False)

    op.create_table('link_tokens',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('tenant_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('agent_id', sa.String(length=36), nullable=False),
    sa.Column('account_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['agent_id'], ['global_agents.id'], name=op.f('fk_link_tokens_agent_id_global_agents'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_link_tokens_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_link_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_link_tokens_token_hash'))
    )
    with op.batch_alter_table('link_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_link_tokens_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('memberships',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('tenant_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_memberships_tenant_id_tenants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_memberships_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_memberships')),
    sa.UniqueConstraint('tenant_id', 'user_id', name=op.f('uq_memberships_tenant_id_user_id'))
    )
    with op.batch_alter_table('memberships', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_memberships_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_memberships_user_id'), ['user_id'], unique=False)

    op.create_table('memories',
    sa.Column('tenant_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('owner_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('scope', sa.String(length=12), nullable=False),
    sa.Column('api_key_id', sa.BigInteger(), nullable=True),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('category', sa.String(length=16), nullable=False),
    sa.Column('content_ct', sa.LargeBinary(), nullable=False),
    sa.Column('metadata_ct', sa.LargeBinary(), nullable=True),
    sa.Column('source_ct', sa.LargeBinary(), nullable=True),
    sa.Column('importance', sa.Float(), nullable=False),
    sa.Column('original_importance', sa.Float(), nullable=False),
    sa.Column('confidence', sa.Float(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('disputed', sa.Boolean(), nullable=False),
    sa.Column('flagged', sa.Boolean(), nullable=False),
    sa.Column('unconfirmed', sa.Boolean(), nullable=False),
    sa.Column('agent_id', sa.String(length=64), nullable=True),
    sa.Column('conversation_id', sa.String(length=255), nullable=True),
    sa.Column('valid_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('archived_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_accessed', sa.DateTime(timezone=True), nullable=True),
    sa.Column('access_count', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('term_count', sa.Integer(), nullable=False),
    sa.Column('embedding', Embedding(384), nullable=True),
    sa.Column('index_seq', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_memories_owner_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_memories_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_memories'))
    )
    with op.batch_alter_table('memories', schema=None) as batch_op:
        batch_op.create_index('ix_memories_owner_created', ['owner_id', 'created_at'], unique=False)
        batch_op.create_index('ix_memories_owner_hash', ['owner_id', 'content_hash'], unique=False)
        batch_op.create_index('ix_memories_owner_index_seq', ['owner_id', 'index_seq'], unique=False)
        batch_op.create_index('ix_memories_owner_status_category', ['owner_id', 'status', 'category'], unique=False)
        batch_op.create_index(batch_op.f('ix_memories_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('oauth_clients',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('public_id', sa.String(length=40), nullable=False),
    sa.Column('tenant_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=False),
    sa.Column('created_by_user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['users.id'], name=op.f('fk_oauth_clients_created_by_user_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_oauth_clients_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_oauth_clients')),
    sa.UniqueConstraint('public_id', name=op.f('uq_oauth_clients_public_id'))
    )
    with op.batch_alter_table('oauth_clients', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_oauth_clients_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('oauth_states',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('state_hash', sa.String(length=64), nullable=False),
    sa.Column('session_hash', sa.String(length=64), nullable=False),
    sa.Column('directory_id', sa.String(length=40), nullable=False),
    sa.Column('code_verifier_ct', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['directory_id'], ['directory_entries.id'], name=op.f('fk_oauth_states_directory_id_directory_entries'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_oauth_states')),
    sa.UniqueConstraint('state_hash', name=op.f('uq_oauth_states_state_hash'))
    )
    op.create_table('pairwise_identities',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('universal_user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('agent_id', sa.String(length=36), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['global_agents.id'], name=op.f('fk_pairwise_identities_agent_id_global_agents'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['universal_user_id'], ['universal_users.id'], name=op.f('fk_pairwise_identities_universal_user_id_universal_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pairwise_identities')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_pairwise_identities_token_hash')),
    sa.UniqueConstraint('universal_user_id', 'agent_id', name=op.f('uq_pairwise_identities_universal_user_id_agent_id'))
    )
    with op.batch_alter_table('pairwise_identities', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pairwise_identities_agent_id'), ['agent_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_pairwise_identities_universal_user_id'), ['universal_user_id'], unique=False)

    op.create_table('universal_memory_terms',
    sa.Column('memory_id', sa.String(length=36), nullable=False),
    sa.Column('term', sa.BigInteger(), nullable=False),
    sa.Column('tf', sa.Integer(), nullable=False),
    sa.Column('owner_id', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['memory_id'], ['universal_memories.id'], name=op.f('fk_universal_memory_terms_memory_id_universal_memories'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('memory_id', 'term', name=op.f('pk_universal_memory_terms'))
    )
    with op.batch_alter_table('universal_memory_terms', schema=None) as batch_op:
        batch_op.create_index('ix_universal_memory_terms_memory', ['memory_id'], unique=False)
        batch_op.create_index('ix_universal_memory_terms_owner_term', ['owner_id', 'term', 'memory_id', 'tf'], unique=False)

    op.create_table('universal_memory_versions',
    sa.Column('memory_id', sa.String(length=36), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('event', sa.String(length=16), nullable=False),
    sa.Column('content_ct', sa.LargeBinary(), nullable=False),
    sa.Column('category', sa.String(length=16), nullable=False),
    sa.Column('importance', sa.Float(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('actor', sa.String(length=120), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['memory_id'], ['universal_memories.id'], name=op.f('fk_universal_memory_versions_memory_id_universal_memories'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_universal_memory_versions'))
    )
    with op.batch_alter_table('universal_memory_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_universal_memory_versions_memory_id'), ['memory_id'], unique=False)

    op.create_table('memory_terms',
    sa.Column('memory_id', sa.String(length=36), nullable=False),
    sa.Column('term', sa.BigInteger(), nullable=False),
    sa.Column('tf', sa.Integer(), nullable=False),
    sa.Column('owner_id', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['memory_id'], ['memories.id'], name=op.f('fk_memory_terms_memory_id_memories'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('memory_id', 'term', name=op.f('pk_memory_terms'))
    )
    with op.batch_alter_table('memory_terms', schema=None) as batch_op:
        batch_op.create_index('ix_memory_terms_memory', ['memory_id'], unique=False)
        batch_op.create_index('ix_memory_terms_owner_term', ['owner_id', 'term', 'memory_id', 'tf'], unique=False)

    op.create_table('memory_versions',
    sa.Column('memory_id', sa.String(length=36), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('event', sa.String(length=16), nullable=False),
    sa.Column('content_ct', sa.LargeBinary(), nullable=False),
    sa.Column('category', sa.String(length=16), nullable=False),
    sa.Column('importance', sa.Float(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('actor', sa.String(length=120), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['memory_id'], ['memories.id'], name=op.f('fk_memory_versions_memory_id_memories'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_memory_versions'))
    )
    with op.batch_alter_table('memory_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_memory_versions_memory_id'), ['memory_id'], unique=False)

    # Per-owner index state (generation counter, BM25 statistics) of each memory family.
    op.create_table('memory_index_stats',
    sa.Column('owner_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('generation', sa.BigInteger(), nullable=False),
    sa.Column('purges', sa.Integer(), nullable=False),
    sa.Column('doc_count', sa.Integer(), nullable=False),
    sa.Column('total_terms', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_memory_index_stats_owner_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('owner_id', name=op.f('pk_memory_index_stats'))
    )
    op.create_table('universal_memory_index_stats',
    sa.Column('owner_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('generation', sa.BigInteger(), nullable=False),
    sa.Column('purges', sa.Integer(), nullable=False),
    sa.Column('doc_count', sa.Integer(), nullable=False),
    sa.Column('total_terms', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['owner_id'], ['universal_users.id'], name=op.f('fk_universal_memory_index_stats_owner_id_universal_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('owner_id', name=op.f('pk_universal_memory_index_stats'))
    )
    _create_vector_indexes()


def _create_vector_indexes() -> None:
    # Approximate nearest-neighbour indexes exist only on PostgreSQL (pgvector HNSW, cosine).
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in ("memories", "universal_memories"):
        op.execute(
            f"CREATE INDEX ix_{table}_embedding_hnsw ON {table} USING hnsw (embedding vector_cosine_ops)"
        )


def downgrade() -> None:
    op.drop_table('universal_memory_index_stats')
    op.drop_table('memory_index_stats')
    with op.batch_alter_table('memory_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_memory_versions_memory_id'))

    op.drop_table('memory_versions')
    with op.batch_alter_table('memory_terms', schema=None) as batch_op:
        batch_op.drop_index('ix_memory_terms_owner_term')
        batch_op.drop_index('ix_memory_terms_memory')

    op.drop_table('memory_terms')
    with op.batch_alter_table('universal_memory_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_universal_memory_versions_memory_id'))

    op.drop_table('universal_memory_versions')
    with op.batch_alter_table('universal_memory_terms', schema=None) as batch_op:
        batch_op.drop_index('ix_universal_memory_terms_owner_term')
        batch_op.drop_index('ix_universal_memory_terms_memory')

    op.drop_table('universal_memory_terms')
    with op.batch_alter_table('pairwise_identities', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pairwise_identities_universal_user_id'))
        batch_op.drop_index(batch_op.f('ix_pairwise_identities_agent_id'))

    op.drop_table('pairwise_identities')
    op.drop_table('oauth_states')
    with op.batch_alter_table('oauth_clients', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_oauth_clients_tenant_id'))

    op.drop_table('oauth_clients')
    with op.batch_alter_table('memories', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_memories_tenant_id'))
        batch_op.drop_index('ix_memories_owner_status_category')
        batch_op.drop_index('ix_memories_owner_index_seq')
        batch_op.drop_index('ix_memories_owner_hash')
        batch_op.drop_index('ix_memories_owner_created')

    op.drop_table('memories')
    with op.batch_alter_table('memberships', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_memberships_user_id'))
        batch_op.drop_index(batch_op.f('ix_memberships_tenant_id'))

    op.drop_table('memberships')
    with op.batch_alter_table('link_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_link_tokens_tenant_id'))

    op.drop_table('link_tokens')
    with op.batch_alter_table('grants', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_grants_universal_user_id'))
        batch_op.drop_index(batch_op.f('ix_grants_agent_id'))

    op.drop_table('grants')
    with op.batch_alter_table('consent_codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_consent_codes_universal_user_id'))
        batch_op.drop_index(batch_op.f('ix_consent_codes_agent_id'))

    op.drop_table('consent_codes')
    with op.batch_alter_table('clarifications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_clarifications_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_clarifications_owner_id'))

    op.drop_table('clarifications')
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_keys_tenant_id'))

    op.drop_table('api_keys')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index('ix_users_tenant_kind')
        batch_op.drop_index(batch_op.f('ix_users_tenant_id'))

    op.drop_table('users')
    with op.batch_alter_table('universal_questions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_universal_questions_owner_id'))

    op.drop_table('universal_questions')
    with op.batch_alter_table('universal_memories', schema=None) as batch_op:
        batch_op.drop_index('ix_universal_memories_owner_status_category')
        batch_op.drop_index('ix_universal_memories_owner_index_seq')
        batch_op.drop_index('ix_universal_memories_owner_hash')
        batch_op.drop_index('ix_universal_memories_owner_created')

    op.drop_table('universal_memories')
    with op.batch_alter_table('passport_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_passport_sessions_universal_user_id'))

    op.drop_table('passport_sessions')
    with op.batch_alter_table('org_connections', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_org_connections_universal_user_id'))
        batch_op.drop_index('ix_org_connections_tenant_account')

    op.drop_table('org_connections')
    with op.batch_alter_table('global_agents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_global_agents_owner_tenant_id'))

    op.drop_table('global_agents')
    op.drop_table('directory_entries')
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_events_universal_user_id'))
        batch_op.drop_index(batch_op.f('ix_audit_events_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_audit_events_created_at'))

    op.drop_table('audit_events')
    op.drop_table('universal_users')
    op.drop_table('tenants')
    op.drop_table('rate_limit_counters')
    op.drop_table('otp_challenges')
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_jobs_tenant_id'))
        batch_op.drop_index('ix_jobs_status_available')

    op.drop_table('jobs')
    with op.batch_alter_table('idempotency_records', schema=None) as batch_op:
        batch_op.drop_index('uq_idempotency_scope_key')
        batch_op.drop_index(batch_op.f('ix_idempotency_records_expires_at'))

    op.drop_table('idempotency_records')
