"""oauth connectors: how the token endpoint authenticates us, the stored logo, the flow's nonce

Revision ID: 0006_oauth_connectors
Revises: 0005_provenance
Create Date: 2026-12-08 10:00:00.000000

A directory entry says how we authenticate at the organisation's token endpoint
(``client_secret_post``, as seed 001 shows, or ``client_secret_basic``), and keeps the logo we
fetched once when it was registered (served from our own origin, never hot-linked). An OAuth
flow in progress keeps a keyed hash of the OpenID Connect ``nonce`` it sent, to check the ID
token the organisation returns.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006_oauth_connectors'
down_revision: str | None = '0005_provenance'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('directory_entries', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('token_endpoint_auth_method', sa.String(length=24), nullable=False, server_default='client_secret_post')
        )
        batch_op.add_column(sa.Column('logo_image', sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column('logo_content_type', sa.String(length=40), nullable=True))
    with op.batch_alter_table('oauth_states', schema=None) as batch_op:
        batch_op.add_column(sa.Column('nonce_hash', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('oauth_states', schema=None) as batch_op:
        batch_op.drop_column('nonce_hash')
    with op.batch_alter_table('directory_entries', schema=None) as batch_op:
        batch_op.drop_column('logo_content_type')
        batch_op.drop_column('logo_image')
        batch_op.drop_column('token_endpoint_auth_method')
