"""agent logos: the image fetched once when an agent is saved, served from our own origin

Revision ID: 0008_agent_logos
Revises: 0007_mcp_oauth
Create Date: 2026-12-09 10:00:00.000000

A Passport agent keeps the logo fetched from its ``logo_url`` when it was created or its
``logo_url`` changed (PNG, JPEG or WebP, at most 256 KB), so the consent and permission pages
never load anything from the agent's site. Agents saved before this revision have no stored
image: the pages show their initials until their ``logo_url`` is saved again (no migration
calls out to other servers).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0008_agent_logos'
down_revision: str | None = '0007_mcp_oauth'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('global_agents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('logo_image', sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column('logo_content_type', sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('global_agents', schema=None) as batch_op:
        batch_op.drop_column('logo_content_type')
        batch_op.drop_column('logo_image')
